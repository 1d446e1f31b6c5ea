/* progress.c - the status line of long commands (see progress.h). */
#include "cli/progress.h"
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

int progress_on(void) {
    return isatty(STDERR_FILENO);
}

void progress_line(const char *fmt, ...) {
    if (!progress_on()) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("\r\033[K", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

void progress_bar(const char *label, double fraction, double seconds) {
    static const char BAR[] = "##############################";
    int width = (int)sizeof BAR - 1;
    int fill = fraction <= 0 ? 0 : fraction >= 1 ? width : (int)(fraction * width);
    progress_line("%s [%.*s%*s] %3d%%  %.1fs", label, fill, BAR, width - fill, "",
                  (int)(fraction * 100 + 0.5), seconds);
}

void progress_clear(void) {
    if (!progress_on()) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
}
