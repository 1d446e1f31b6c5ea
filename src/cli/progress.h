/* progress.h - progress of a long command on a terminal: one status line on standard error,
 * redrawn in place, and nothing at all when standard error is not a terminal (logs, pipes, CI),
 * so that what the command prints on standard output stays its report. */
#ifndef IMGAPI_CLI_PROGRESS_H
#define IMGAPI_CLI_PROGRESS_H

/* Whether progress is shown (standard error is a terminal). */
int progress_on(void);
/* Replaces the status line with the formatted text. */
void progress_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Replaces the status line with a bar: label, fraction done (0..1), seconds so far. */
void progress_bar(const char *label, double fraction, double seconds);
/* Clears the status line (before the report is printed). */
void progress_clear(void);

#endif
