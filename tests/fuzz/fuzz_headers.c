/* fuzz_headers.c - libFuzzer target: every header value the server interprets (API key, Bearer,
 * Content-Type, x-timeout-seconds, Idempotency-Key, Host), fed arbitrary values. The input is
 * split at NUL bytes into values (libmicrohttpd hands us NUL-terminated strings). Results must
 * point inside the given values and keep the documented invariants. */
#include "server/headers.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const char *p, const char *s) { return p >= s && p <= s + strlen(s); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 2); /* two terminators: the last value always ends */
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = 0;
    const char *a = buf, *b = buf + strlen(buf) + 1; /* the second value, or the empty string */
    const char *k = hdr_api_key(a, b);
    if (k && !((*a && k == a) || (!*a && inside(k, b) && *k && *k != ' '))) abort();
    const char *t = hdr_bearer(b);
    if (t && (!inside(t, b) || t != b + 7)) abort();
    char basic[64];
    const char *bk = hdr_basic_key(b, basic, sizeof basic); /* a key inside the buffer, never empty */
    if (bk && (bk < basic || bk >= basic + sizeof basic || !*bk || strlen(bk) >= sizeof basic)) abort();
    (void)hdr_is_json(a);
    long v = 0;
    if (hdr_timeout_seconds(a, &v) == 0 && v < 1) abort();
    if (hdr_idempotency_key_ok(a, 256) && (strlen(a) == 0 || strlen(a) > 255)) abort();
    if (hdr_host_ok(b)) {
        size_t n = strlen(b);
        if (n == 0 || n > 255 || strpbrk(b, "/?#@ \r\n\t")) abort();
    }
    free(buf);
    return 0;
}
