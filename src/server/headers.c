/* headers.c - header value parsing for the server (see headers.h). */
#include "server/headers.h"
#include "common/base64.h"
#include <stdint.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *hdr_bearer(const char *authorization) {
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return NULL;
    return authorization + 7;
}

const char *hdr_basic_key(const char *authorization, char *out, size_t cap) {
    if (!authorization || strncasecmp(authorization, "Basic ", 6) != 0 || cap < 2) return NULL;
    const char *b = authorization + 6;
    while (*b == ' ')
        b++;
    size_t n = strlen(b);
    while (n && b[n - 1] == ' ')
        n--;
    if (n == 0 || n / 4 * 3 + 3 > cap) return NULL;
    long got = b64_decode(b, n, (uint8_t *)out);
    if (got <= 0 || (size_t)got >= cap) return NULL;
    out[got] = '\0';
    if (memchr(out, 0, (size_t)got)) return NULL;
    char *colon = strchr(out, ':');
    if (!colon) return NULL;
    *colon = '\0';
    const char *key = colon[1] ? colon + 1 : out;
    return *key ? key : NULL;
}

const char *hdr_api_key(const char *x_api_key, const char *authorization) {
    if (x_api_key && *x_api_key) return x_api_key;
    const char *k = hdr_bearer(authorization);
    while (k && *k == ' ')
        k++;
    return k && *k ? k : NULL;
}

int hdr_is_json(const char *content_type) {
    if (!content_type) return 0;
    size_t n = strlen("application/json");
    if (strncasecmp(content_type, "application/json", n) != 0) return 0;
    return content_type[n] == 0 || content_type[n] == ';' || content_type[n] == ' ';
}

int hdr_timeout_seconds(const char *value, long *seconds) {
    if (!value || !*value || strspn(value, "0123456789") != strlen(value)) return -1;
    errno = 0;
    char *end;
    long v = strtol(value, &end, 10); /* all digits: only overflow can fail, read as "very long" */
    if (*end || v < 1) return -1;
    *seconds = errno == ERANGE ? LONG_MAX : v;
    return 0;
}

int hdr_idempotency_key_ok(const char *value, size_t max_len) {
    return value && *value && strlen(value) < max_len;
}

int hdr_host_ok(const char *host) {
    static const char ALLOWED[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789.-:[]";
    size_t n = host ? strlen(host) : 0;
    return n > 0 && n <= 255 && strspn(host, ALLOWED) == n;
}
