/* log.h - a log sink that library code calls instead of printing. main() decides where lines
 * go; NULL means no logging. Never log API keys or prompts. */
#ifndef IMGAPI_COMMON_LOG_H
#define IMGAPI_COMMON_LOG_H

typedef struct {
    void (*write)(void *user, const char *line);
    void *user;
} log_sink_t;

/* Formats one line and hands it to the sink (no-op when sink or sink->write is NULL). */
void log_line(const log_sink_t *sink, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
