/* buf.c - growable byte buffer. */
#include "common/buf.h"
#include "common/status.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int buf_reserve(buf_t *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return IMG_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) return IMG_ENOMEM;
    b->data = p;
    b->cap = cap;
    return IMG_OK;
}

int buf_append(buf_t *b, const void *p, size_t n) {
    if (buf_reserve(b, n)) return IMG_ENOMEM;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return IMG_OK;
}

int buf_printf(buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n)) return IMG_ENOMEM;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return IMG_OK;
}

void buf_free(buf_t *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
