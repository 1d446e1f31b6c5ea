/* crypto.c - thin wrappers over libcrypto and getrandom(2). */
#include "common/crypto.h"
#include "common/status.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <sys/random.h>

int crypto_random(void *out, size_t n) {
    uint8_t *p = out;
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r <= 0) return IMG_EIO;
        p += r;
        n -= (size_t)r;
    }
    return IMG_OK;
}

void crypto_sha256(const void *data, size_t n, uint8_t out[32]) { SHA256(data, n, out); }

void crypto_hex(const uint8_t *in, size_t n, char *out) {
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = 0;
}

void crypto_sha256_hex(const void *data, size_t n, char out[65]) {
    uint8_t h[32];
    SHA256(data, n, h);
    crypto_hex(h, 32, out);
}

void crypto_hmac_sha256(const void *key, size_t klen, const void *data, size_t n, uint8_t out[32]) {
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)klen, data, n, out, &len);
}

int crypto_equal(const void *a, const void *b, size_t n) { return CRYPTO_memcmp(a, b, n) == 0; }

int crypto_uuid4(char out[37]) {
    uint8_t b[16];
    if (crypto_random(b, sizeof b)) return IMG_EIO;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return IMG_OK;
}
