/* text.c - UTF-8 repair, character-boundary cuts and log escaping for client-supplied text. */
#include "common/text.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>

size_t text_utf8_seq(const unsigned char *s, size_t n) {
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned min, cp;
    if ((c & 0xE0) == 0xC0) {
        len = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

size_t text_utf8_copy(char *dst, size_t cap, const char *src, size_t srclen) {
    static const char REPLACEMENT[] = "\xEF\xBF\xBD";
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, o = 0;
    while (i < srclen) {
        size_t k = text_utf8_seq(s + i, srclen - i);
        const char *piece = k ? src + i : REPLACEMENT;
        size_t plen = k ? k : 3;
        if (o + plen + 1 > cap) break;
        memcpy(dst + o, piece, plen);
        o += plen;
        i += k ? k : 1;
    }
    dst[o] = 0;
    return o;
}

void text_utf8_fix(char *s, size_t cap) {
    size_t n = strnlen(s, cap);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = text_utf8_seq(u + i, n - i);
        if (!k) break;
        i += k;
    }
    if (i == n) return; /* already valid: the common case, no copy */
    char tmp[2048];
    if (cap > sizeof tmp) {
        s[i] = 0; /* too long to repair through the stack buffer: keep the valid prefix */
        return;
    }
    text_utf8_copy(tmp, cap, s, n);
    memcpy(s, tmp, strlen(tmp) + 1);
}

size_t text_utf8_chars(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) n++;
    return n;
}

size_t text_log_escape(char *dst, size_t cap, const char *src, size_t srclen) {
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, o = 0;
    while (i < srclen) {
        char esc[8];
        const char *piece = esc;
        size_t plen, used = 1;
        unsigned c = s[i];
        size_t k = c >= 0x80 ? text_utf8_seq(s + i, srclen - i) : 1;
        if (c == '\n') {
            memcpy(esc, "\\n", plen = 2);
        } else if (c == '\r') {
            memcpy(esc, "\\r", plen = 2);
        } else if (c == '\t') {
            memcpy(esc, "\\t", plen = 2);
        } else if (c == '\\') {
            memcpy(esc, "\\\\", plen = 2);
        } else if (c < 0x20 || c == 0x7F || k == 0) {
            snprintf(esc, sizeof esc, "\\x%02X", c);
            plen = 4;
        } else if (k == 2 && c == 0xC2 && s[i + 1] < 0xA0) { /* C1 controls (U+0080-U+009F) */
            snprintf(esc, sizeof esc, "\\u%04X", (unsigned)s[i + 1]);
            plen = 6;
            used = 2;
        } else {
            piece = src + i;
            plen = used = k;
        }
        if (o + plen + 1 > cap) break;
        memcpy(dst + o, piece, plen);
        o += plen;
        i += used;
    }
    dst[o] = 0;
    return o;
}

int text_redact_secrets(char *s) {
    static const char MARK[] = "sk-[redacted]";
    int count = 0;
    char *w = s;
    const char *r = s;
    while (*r) {
        if (r[0] == 's' && r[1] == 'k' && r[2] == '-') {
            size_t h = 0;
            while (isxdigit((unsigned char)r[3 + h]))
                h++;
            if (h >= 16) { /* the mark is shorter than what it replaces, so w never passes r */
                memcpy(w, MARK, sizeof MARK - 1);
                w += sizeof MARK - 1;
                r += 3 + h;
                count++;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = 0;
    return count;
}
