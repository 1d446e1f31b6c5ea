/* buf.h - a growable byte buffer. The buffer owns data; buf_free releases it. */
#ifndef IMGAPI_COMMON_BUF_H
#define IMGAPI_COMMON_BUF_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} buf_t;

int buf_append(buf_t *b, const void *p, size_t n); /* IMG_OK or IMG_ENOMEM */
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(buf_t *b);

#endif
