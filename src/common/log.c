/* log.c - formatting for the log sink. */
#include "common/log.h"
#include <stdarg.h>
#include <stdio.h>

void log_line(const log_sink_t *sink, const char *fmt, ...) {
    if (!sink || !sink->write) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    sink->write(sink->user, line);
}
