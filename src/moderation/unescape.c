/* unescape.c - reads back the encodings that clients leave in prompts (see unescape.h). Three
 * passes, each writing no more bytes than it reads: URL encoding, HTML, JSON-style backslash
 * escapes. */
#include "moderation/unescape.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The value of the n hex digits at s, or -1. */
static long hex_run(const char *s, int n) {
    long v = 0;
    for (int k = 0; k < n; k++) {
        int d = hex_value(s[k]);
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Writes code point c as UTF-8 at o; the number of bytes (1-4). c: a scalar value. */
static int put_code_point(char *o, unsigned long c) {
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xc0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    o[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* A character worth reading back: printable, no surrogate, within Unicode (a reference to a
 * control character or to NUL stays as written). */
static int readable(unsigned long c) {
    return c >= 0x20 && c != 0x7f && !(c >= 0x80 && c < 0xa0) && !(c >= 0xd800 && c < 0xe000) &&
           c <= 0x10ffff;
}

/* Whether the n bytes at s are well-formed UTF-8 (no overlong forms, surrogates or values past
 * U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xe0) == 0xc0 ? 2
                     : (c & 0xf0) == 0xe0 ? 3
                     : (c & 0xf8) == 0xf0 ? 4
                                          : 0;
        if (!len || i + len > n || (len == 2 && c < 0xc2)) return 0;
        unsigned long v = len == 1 ? c : c & (0x7f >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            v = (v << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (v < 0x800 || (v >= 0xd800 && v < 0xe000))) ||
            (len == 4 && (v < 0x10000 || v > 0x10ffff)))
            return 0;
        i += len;
    }
    return 1;
}

/* A byte that may stand on either side of a '+' used as a space: a letter or digit of any
 * script (bytes of multi-byte UTF-8 characters count as letters). */
static int word_byte(char c) {
    return isalnum((unsigned char)c) || (unsigned char)c >= 0x80;
}

/* URL encoding: when the text holds a percent-encoded byte that is not a letter or digit
 * ("%20", "%2C", "%C3%B1"), every "%HH" is that byte and a '+' a space, provided the result is
 * valid UTF-8 ("100%AB" is no encoding); a text without white space whose words are joined by
 * '+' ("nude+kid") reads them as words. In place (the text only shrinks). */
static void url_decode(char *s) {
    size_t n = strlen(s);
    int encoded = 0, spaced = 0;
    for (size_t i = 0; i < n; i++) {
        long v = s[i] == '%' ? hex_run(s + i + 1, 2) : -1;
        if (v >= 0 && !isalnum((int)v)) encoded = 1;
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') spaced = 1;
    }
    if (encoded) {
        char *d = malloc(n + 1);
        if (d) {
            size_t o = 0;
            for (size_t i = 0; i < n; i++) {
                long v = s[i] == '%' ? hex_run(s + i + 1, 2) : -1;
                if (v >= 0) {
                    d[o++] = v < 0x20 || v == 0x7f ? ' ' : (char)v;
                    i += 2;
                } else {
                    d[o++] = s[i] == '+' ? ' ' : s[i];
                }
            }
            if (valid_utf8((const unsigned char *)d, o)) {
                memcpy(s, d, o);
                s[o] = 0;
                n = o;
            }
            free(d);
        }
        /* out of memory: the text is judged as written, as it was before this pass */
    }
    if (!spaced && !encoded)
        for (size_t i = 1; i + 1 < n; i++)
            if (s[i] == '+' && word_byte(s[i - 1]) && word_byte(s[i + 1])) s[i] = ' ';
}

static const struct {
    const char *name;
    unsigned long c;
} ENTITIES[] = {
    {"quot", '"'},    {"amp", '&'},     {"lt", '<'},       {"gt", '>'},       {"apos", '\''},
    {"nbsp", ' '},    {"aacute", 0xe1}, {"eacute", 0xe9},  {"iacute", 0xed},  {"oacute", 0xf3},
    {"uacute", 0xfa}, {"agrave", 0xe0}, {"egrave", 0xe8},  {"ograve", 0xf2},  {"acirc", 0xe2},
    {"ecirc", 0xea},  {"ocirc", 0xf4},  {"ntilde", 0xf1},  {"ccedil", 0xe7},  {"atilde", 0xe3},
    {"otilde", 0xf5}, {"auml", 0xe4},   {"ouml", 0xf6},    {"uuml", 0xfc},    {"szlig", 0xdf},
    {"Auml", 0xc4},   {"Ouml", 0xd6},   {"Uuml", 0xdc},    {"Eacute", 0xc9},  {"Ntilde", 0xd1},
    {"laquo", 0xab},  {"raquo", 0xbb},  {"ndash", 0x2013}, {"mdash", 0x2014}, {"hellip", 0x2026},
};

/* The tags of HTML's text markup, which carry no words of a prompt ("<b>", "</em>"). */
static const char *const TAGS[] = {
    "a",    "b",    "i",    "u",    "s",     "p",     "q",      "em",     "br",     "hr",
    "li",   "ul",   "ol",   "h1",   "h2",    "h3",    "h4",     "h5",     "h6",     "td",
    "tr",   "th",   "tt",   "div",  "del",   "ins",   "sub",    "sup",    "big",    "pre",
    "span", "code", "mark", "font", "small", "table", "strong", "strike", "center", "blockquote"};

/* The length of an HTML tag's opening at s ("<b", "</strong") when one of TAGS follows '<' and
 * ends at '>', '/' or white space; 0 otherwise ("<3", "<lora:x:1>", "<naked girl>" are text). */
static size_t tag_opening(const char *s) {
    if (s[0] != '<') return 0;
    size_t k = s[1] == '/' ? 2 : 1, len = 0;
    while (isalnum((unsigned char)s[k + len]))
        len++;
    char end = s[k + len];
    if (!len || !(end == '>' || end == '/' || end == ' ')) return 0;
    for (size_t t = 0; t < sizeof TAGS / sizeof TAGS[0]; t++)
        if (strlen(TAGS[t]) == len && !strncasecmp(TAGS[t], s + k, len)) return k + len;
    return 0;
}

/* HTML: character references ("&quot;", "&#233;", "&#x1F600;", a few named letters) are their
 * characters, and a text-markup tag's name is a space (its '>' and attributes stay, read as
 * punctuation and words). In place. */
static void html_decode(char *s) {
    char *o = s;
    for (const char *p = s; *p;) {
        size_t tag = tag_opening(p);
        if (tag) {
            *o++ = ' ';
            p += tag;
            continue;
        }
        if (*p == '&') {
            const char *semi = memchr(p, ';', strnlen(p, 12));
            unsigned long c = 0;
            int known = 0;
            if (semi && p[1] == '#') {
                int hex = p[2] == 'x' || p[2] == 'X';
                const char *d = p + 2 + hex;
                int nd = (int)(semi - d);
                if (nd > 0 && nd <= 7) {
                    known = 1;
                    for (int k = 0; k < nd && known; k++) {
                        int v =
                            hex ? hex_value(d[k]) : (d[k] >= '0' && d[k] <= '9' ? d[k] - '0' : -1);
                        if (v < 0) known = 0;
                        c = c * (hex ? 16 : 10) + (unsigned long)v;
                    }
                }
            } else if (semi) {
                for (size_t k = 0; k < sizeof ENTITIES / sizeof ENTITIES[0] && !known; k++)
                    if (strlen(ENTITIES[k].name) == (size_t)(semi - p - 1) &&
                        !strncmp(ENTITIES[k].name, p + 1, (size_t)(semi - p - 1))) {
                        known = 1;
                        c = ENTITIES[k].c;
                    }
            }
            /* a reference is never shorter than what it writes: "&#8;" (4) for 1 byte, "&#x10000;"
             * (9) for 4 */
            if (known && readable(c)) {
                o += put_code_point(o, c);
                p = semi + 1;
                continue;
            }
        }
        *o++ = *p++;
    }
    *o = 0;
}

/* JSON-style escapes that arrived as text: "\n" a line break (negative-prompt sections end at
 * one), "\t" and "\r" spaces, "\"" "\'" "\\" "\/" their characters, "\uXXXX" its character (a
 * surrogate pair one character; a lone surrogate stays as written). In place. */
static void backslash_decode(char *s) {
    char *o = s;
    for (const char *p = s; *p;) {
        if (*p != '\\' || !p[1]) {
            *o++ = *p++;
            continue;
        }
        char e = p[1];
        if (e == 'n' || e == 't' || e == 'r') {
            *o++ = e == 'n' ? '\n' : ' ';
            p += 2;
        } else if (e == '"' || e == '\'' || e == '\\' || e == '/') {
            *o++ = e;
            p += 2;
        } else if (e == 'u' && hex_run(p + 2, 4) >= 0) {
            unsigned long c = (unsigned long)hex_run(p + 2, 4);
            size_t used = 6;
            if (c >= 0xd800 && c < 0xdc00 && p[6] == '\\' && p[7] == 'u' &&
                hex_run(p + 8, 4) >= 0xdc00 && hex_run(p + 8, 4) < 0xe000) {
                c = 0x10000 + ((c - 0xd800) << 10) + ((unsigned long)hex_run(p + 8, 4) - 0xdc00);
                used = 12;
            }
            if (readable(c)) {
                o += put_code_point(o, c);
                p += used;
            } else {
                *o++ = *p++;
            }
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
}

char *mod_unescape(const char *text) {
    char *s = strdup(text);
    if (!s) return NULL;
    url_decode(s);
    html_decode(s);
    backslash_decode(s);
    return s;
}
