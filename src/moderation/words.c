/* words.c - word lists and the repeated-letter tolerant comparison. */
#include "moderation/words.h"
#include <stdlib.h>
#include <string.h>

int words_push(words_t *w, const char *s) {
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 32;
        char **p = realloc(w->w, sizeof *p * (size_t)cap);
        if (!p) return -1;
        w->w = p;
        char **q = realloc(w->alt, sizeof *q * (size_t)cap);
        if (!q) return -1;
        w->alt = q;
        w->cap = cap;
    }
    w->w[w->n] = strdup(s);
    if (!w->w[w->n]) return -1;
    w->alt[w->n] = NULL;
    w->n++;
    return 0;
}

int word_in_list(const char *s, const char *const *list, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (!strcmp(s, list[k])) return 1;
    return 0;
}

int words_insert(words_t *w, int i, const char *s) {
    if (words_push(w, s)) return -1;
    char *c = w->w[w->n - 1];
    memmove(&w->w[i + 1], &w->w[i], sizeof *w->w * (size_t)(w->n - 1 - i));
    memmove(&w->alt[i + 1], &w->alt[i], sizeof *w->alt * (size_t)(w->n - 1 - i));
    w->w[i] = c;
    w->alt[i] = NULL;
    return 0;
}

int words_set_alt(words_t *w, int i, const char *alt) {
    char *c = strdup(alt);
    if (!c) return -1;
    free(w->alt[i]);
    w->alt[i] = c;
    return 0;
}

int words_reread(words_t *w, int i, const char *reading) {
    char *c = strdup(reading);
    if (!c) return -1;
    free(w->alt[i]);
    w->alt[i] = w->w[i]; /* the word as written becomes the second reading */
    w->w[i] = c;
    return 0;
}
int words_replace_range(words_t *w, int i, int j, const char *s) {
    char *c = strdup(s);
    if (!c) return -1;
    for (int k = i; k < j; k++) {
        free(w->w[k]);
        free(w->alt[k]);
    }
    w->w[i] = c;
    w->alt[i] = NULL;
    memmove(&w->w[i + 1], &w->w[j], sizeof *w->w * (size_t)(w->n - j));
    memmove(&w->alt[i + 1], &w->alt[j], sizeof *w->alt * (size_t)(w->n - j));
    w->n -= j - i - 1;
    return 0;
}

void words_free(words_t *w) {
    for (int i = 0; i < w->n; i++) {
        free(w->w[i]);
        if (w->alt) free(w->alt[i]);
    }
    free(w->w);
    free(w->alt);
    memset(w, 0, sizeof *w);
}

/* Bytes in the UTF-8 character that starts at s (1 for a stray continuation byte). */
static size_t char_len(const char *s) {
    unsigned char c = (unsigned char)*s;
    size_t n = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    for (size_t k = 1; k < n; k++)
        if (((unsigned char)s[k] & 0xc0) != 0x80) return k;
    return n;
}

/* Characters, not bytes, repeat: "пппорно" squeezes to "порно" as "pooorn" to "porn". */
void word_squeeze(const char *s, char *out, size_t cap) {
    size_t o = 0, prev = 0, prev_len = 0; /* the last character written: out[prev..prev+prev_len) */
    for (size_t i = 0; s[i];) {
        size_t n = char_len(s + i);
        int same = prev_len == n && !memcmp(out + prev, s + i, n);
        if (!same) {
            if (o + n + 1 > cap) break;
            memcpy(out + o, s + i, n);
            prev = o;
            prev_len = n;
            o += n;
        }
        i += n;
    }
    out[o] = 0;
}

int word_has_triple(const char *s) {
    for (size_t i = 0; s[i];) {
        size_t n = char_len(s + i);
        if (!strncmp(s + i, s + i + n, n) && s[i + n] && !strncmp(s + i, s + i + 2 * n, n) &&
            s[i + 2 * n])
            return 1;
        i += n;
    }
    return 0;
}

int word_matches(const char *word, const char *rule) {
    if (!strcmp(word, rule)) return 1;
    if (!word_has_triple(word)) return 0;
    char a[128], b[128];
    word_squeeze(word, a, sizeof a);
    word_squeeze(rule, b, sizeof b);
    return !strcmp(a, b);
}
