/* base64.h - standard base64 (RFC 4648, with padding). */
#ifndef IMGAPI_COMMON_BASE64_H
#define IMGAPI_COMMON_BASE64_H
#include <stddef.h>
#include <stdint.h>

/* Encoded length without the terminating NUL. */
size_t b64_encoded_len(size_t n);
/* Writes b64_encoded_len(n) chars plus a NUL into out (caller-sized). */
void b64_encode(const uint8_t *in, size_t n, char *out);
/* Decodes into out (at least 3*(len/4) bytes); returns the byte count or -1 on bad input. */
long b64_decode(const char *in, size_t len, uint8_t *out);

#endif
