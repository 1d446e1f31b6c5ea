/* log.c - formatting for the log sink. Every line is escaped on its way out (control
 * characters, invalid UTF-8) and API key secrets are redacted, so nothing a client sends can
 * forge or split a log line or leave a key in it. */
#include "common/log.h"
#include "common/text.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void log_line(const log_sink_t *sink, const char *fmt, ...) {
    if (!sink || !sink->write) return;
    char raw[1024], line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    text_redact_secrets(raw); /* a key that reached a log line by any path (a URL, a message) */
    size_t len = strlen(raw);
    text_log_escape(line, sizeof line, raw, len);
    sink->write(sink->user, line);
}
