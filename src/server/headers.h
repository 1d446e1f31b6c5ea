/* headers.h - what the server reads out of request header values, as pure functions of the
 * values (so they are unit-tested and fuzzed without a connection). NULL means "header absent". */
#ifndef IMGAPI_SERVER_HEADERS_H
#define IMGAPI_SERVER_HEADERS_H
#include <stddef.h>

/* The API key: x-api-key when non-empty, else the token of "Authorization: Bearer TOKEN"
 * (scheme case-insensitive, leading spaces skipped). NULL or a pointer into one of the values. */
const char *hdr_api_key(const char *x_api_key, const char *authorization);
/* The token of "Authorization: Bearer TOKEN" as is, or NULL. */
const char *hdr_bearer(const char *authorization);
/* HTTP Basic credentials (A1111's --api-auth) as an API key: the password, or the user name when
 * the password is empty, decoded into out (cap bytes). NULL when the header is not Basic or does
 * not decode to "user:password" text. */
const char *hdr_basic_key(const char *authorization, char *out, size_t cap);
/* 1 when Content-Type is application/json (any case), alone or followed by parameters. */
int hdr_is_json(const char *content_type);
/* x-timeout-seconds: 0 and *seconds set for a positive decimal integer (LONG_MAX when it
 * overflows), -1 otherwise. */
int hdr_timeout_seconds(const char *value, long *seconds);
/* 1 when an Idempotency-Key value is acceptable: 1 to max_len - 1 bytes. */
int hdr_idempotency_key_ok(const char *value, size_t max_len);
/* 1 when a Host value may be echoed into URLs: 1 to 255 characters of [A-Za-z0-9.-:[]]. */
int hdr_host_ok(const char *host);

#endif
