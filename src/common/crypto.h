/* crypto.h - randomness, SHA-256, HMAC and constant-time compare (OpenSSL libcrypto). */
#ifndef IMGAPI_COMMON_CRYPTO_H
#define IMGAPI_COMMON_CRYPTO_H
#include <stddef.h>
#include <stdint.h>

int crypto_random(void *out, size_t n); /* IMG_OK or IMG_EIO */
void crypto_sha256(const void *data, size_t n, uint8_t out[32]);
void crypto_sha256_hex(const void *data, size_t n, char out[65]);
void crypto_hmac_sha256(const void *key, size_t klen, const void *data, size_t n, uint8_t out[32]);
/* 1 when equal; time depends only on n. */
int crypto_equal(const void *a, const void *b, size_t n);
void crypto_hex(const uint8_t *in, size_t n, char *out); /* out: 2n+1 chars */
/* A random version-4 UUID string (36 chars + NUL). */
int crypto_uuid4(char out[37]);

#endif
