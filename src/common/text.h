/* text.h - client-supplied text made safe to echo or log: UTF-8 repaired and cut on character
 * boundaries, control characters escaped. Pure functions; the caller owns every buffer. */
#ifndef IMGAPI_COMMON_TEXT_H
#define IMGAPI_COMMON_TEXT_H
#include <stddef.h>

/* Length of the valid UTF-8 sequence starting at s (at most n bytes available): 1-4, or 0 when
 * the bytes there are not a valid, shortest-form encoding of a scalar value. */
size_t text_utf8_seq(const unsigned char *s, size_t n);

/* Copies src (srclen bytes) into dst (cap bytes, cap >= 1) as valid UTF-8, NUL-terminated:
 * every invalid byte becomes U+FFFD, and the copy stops before a character that would not fit
 * whole. Returns the bytes written (without the NUL). */
size_t text_utf8_copy(char *dst, size_t cap, const char *src, size_t srclen);

/* Repairs a NUL-terminated buffer of capacity cap in place, as text_utf8_copy would. */
void text_utf8_fix(char *s, size_t cap);

/* Number of Unicode characters in valid UTF-8 (continuation bytes not counted). */
size_t text_utf8_chars(const char *s, size_t len);

/* Copies src into dst (cap >= 1) for a one-line log: control characters, DEL, backslash and
 * invalid UTF-8 bytes become \n, \r, \t, \\ or \xHH; valid UTF-8 is kept. Cut on a boundary of
 * the escaped form. Returns the bytes written. */
size_t text_log_escape(char *dst, size_t cap, const char *src, size_t srclen);

/* Replaces, in place, every API key secret in s ("sk-" followed by 16 or more hex digits) with
 * "sk-[redacted]". Returns the number replaced. */
int text_redact_secrets(char *s);

#endif
