/* stem.c - per-language Snowball stemming of normalised words (libstemmer). */
#include "moderation/stem.h"
#include "common/status.h"
#include <libstemmer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *code, *algorithm;
} LANGS[LANG_COUNT] = {
    {"en", "english"},    {"es", "spanish"}, {"fr", "french"},  {"de", "german"},
    {"pt", "portuguese"}, {"it", "italian"}, {"ru", "russian"}, {"zh", NULL},
    {"nl", "dutch"},      {"sv", "swedish"}, {"tr", "turkish"}, {"id", "indonesian"},
    {"ar", "arabic"},     {"hi", "hindi"},   {"pl", NULL},      {"uk", NULL},
    {"vi", NULL},
};

struct stemmers {
    struct sb_stemmer *s[LANG_COUNT]; /* created on first use */
};

int stem_lang_parse(const char *code) {
    for (int i = 0; i < LANG_COUNT; i++)
        if (!strcmp(code, LANGS[i].code)) return i;
    return -1;
}

int stemmers_open(stemmers_t **out) {
    *out = calloc(1, sizeof **out);
    return *out ? IMG_OK : IMG_ENOMEM;
}

void stemmers_close(stemmers_t *s) {
    if (!s) return;
    for (int i = 0; i < LANG_COUNT; i++)
        if (s->s[i]) sb_stemmer_delete(s->s[i]);
    free(s);
}

static size_t utf8_chars(const char *w) {
    size_t n = 0;
    for (; *w; w++)
        n += ((unsigned char)*w & 0xC0) != 0x80;
    return n;
}

/* English: British -is- spellings as the American -iz- the stemmer knows. */
static void americanize(const char *w, char *out, size_t cap) {
    static const char *const ENDS[] = {"isations", "isation", "ising", "ised", "ises", "ise"};
    snprintf(out, cap, "%s", w);
    size_t n = strlen(out);
    if (n < 6) return;
    for (size_t k = 0; k < sizeof ENDS / sizeof ENDS[0]; k++) {
        size_t e = strlen(ENDS[k]);
        if (n > e + 2 && !strcmp(out + n - e, ENDS[k])) {
            out[n - e + 1] = 'z';
            return;
        }
    }
}

/* French: the feminine of a participle in -é, its accent folded ("démembrée" is "demembree"),
 * as the masculine ("demembre"): the stemmer knows -ée only with the accent. */
static void french_masculine(const char *w, char *out, size_t cap) {
    snprintf(out, cap, "%s", w);
    size_t n = strlen(out);
    if (n > 6 && !strcmp(out + n - 3, "ees"))
        out[n - 2] = 0;
    else if (n > 5 && !strcmp(out + n - 2, "ee"))
        out[n - 1] = 0;
}

/* Whether word is in the script of a language added for a few words (Dutch, Swedish, Turkish
 * and Indonesian in folded Latin letters, Arabic, Devanagari): a word of another script has no
 * stem there, so a prompt's words are not stemmed in languages they cannot be written in. */
static int fits_script(int lang, const char *word) {
    const unsigned char *u = (const unsigned char *)word;
    switch (lang) {
    case LANG_NL:
    case LANG_SV:
    case LANG_TR:
    case LANG_ID:
        return u[0] < 0x80;
    case LANG_AR: /* U+0600-U+06FF */
        return u[0] >= 0xD8 && u[0] <= 0xDB;
    case LANG_HI: /* U+0900-U+097F */
        return u[0] == 0xE0 && (u[1] == 0xA4 || u[1] == 0xA5);
    default:
        return 1;
    }
}

int stem_word(stemmers_t *s, int lang, const char *word, char *out, size_t cap) {
    out[0] = 0;
    if (lang < 0 || lang >= LANG_COUNT || !LANGS[lang].algorithm || utf8_chars(word) < 4 ||
        !fits_script(lang, word))
        return 0;
    if (!s->s[lang]) {
        s->s[lang] = sb_stemmer_new(LANGS[lang].algorithm, "UTF_8");
        if (!s->s[lang]) return -1;
    }
    char tmp[256];
    if (lang == LANG_EN)
        americanize(word, tmp, sizeof tmp);
    else if (lang == LANG_FR)
        french_masculine(word, tmp, sizeof tmp);
    else
        snprintf(tmp, sizeof tmp, "%s", word);
    const sb_symbol *r = sb_stemmer_stem(s->s[lang], (const sb_symbol *)tmp, (int)strlen(tmp));
    if (!r) return -1;
    int n = sb_stemmer_length(s->s[lang]);
    if (n <= 0 || (size_t)n >= cap) return 0;
    memcpy(out, r, (size_t)n);
    out[n] = 0;
    return n;
}
