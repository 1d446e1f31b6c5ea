/* normalize.c - turns a prompt into plain lower-case words so that rules match through
 * obfuscation: NFKC + case folding, accents and format characters (zero-width joiners, soft
 * hyphens) dropped, Cyrillic/Greek look-alikes mapped to Latin, leetspeak decoded inside words,
 * spelled-out letters ("s e x", "s.e.x") joined, and ages under 18 marked. */
#include "common/buf.h"
#include "moderation/moderation.h"
#include "moderation/words.h"
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

static const struct {
    UChar32 from;
    char to;
} HOMOGLYPHS[] = {
    {0x0430, 'a'}, {0x0435, 'e'}, {0x043e, 'o'}, {0x0440, 'p'}, {0x0441, 'c'}, {0x0443, 'y'},
    {0x0445, 'x'}, {0x0456, 'i'}, {0x0458, 'j'}, {0x0455, 's'}, {0x0501, 'd'}, {0x04bb, 'h'},
    {0x0442, 't'}, {0x043a, 'k'}, {0x043c, 'm'}, {0x043d, 'h'}, {0x0432, 'b'}, {0x0261, 'g'},
    {0x03b1, 'a'}, {0x03bf, 'o'}, {0x03c1, 'p'}, {0x03c4, 't'}, {0x03b9, 'i'}, {0x03ba, 'k'},
    {0x03bd, 'v'}, {0x03c5, 'u'}, {0x03b5, 'e'}, {0x03c7, 'x'}, {0x03b7, 'n'}, {0x0391, 'a'},
};

static int leet(int c) {
    switch (c) {
    case '0': return 'o';
    case '1': return 'i';
    case '3': return 'e';
    case '4': return 'a';
    case '5': return 's';
    case '7': return 't';
    case '8': return 'b';
    case '@': return 'a';
    case '$': return 's';
    case '!': return 'i';
    case '|': return 'l';
    case '+': return 't';
    default: return c;
    }
}

/* UTF-8 -> case-folded NFKC -> NFD, then ASCII-ish: letters kept (look-alikes mapped), marks and
 * format characters dropped, everything else a separator or a leet symbol. */
static char *fold(const char *text) {
    UErrorCode e = U_ZERO_ERROR;
    int32_t n16 = 0;
    u_strFromUTF8WithSub(NULL, 0, &n16, text, -1, 0xFFFD, NULL, &e);
    e = U_ZERO_ERROR;
    UChar *u = malloc(((size_t)n16 + 1) * sizeof(UChar));
    if (!u) return NULL;
    u_strFromUTF8WithSub(u, n16 + 1, NULL, text, -1, 0xFFFD, NULL, &e);
    const UNormalizer2 *nfkc = unorm2_getNFKCCasefoldInstance(&e);
    const UNormalizer2 *nfd = unorm2_getNFDInstance(&e);
    int32_t cap = n16 * 4 + 16;
    UChar *a = malloc((size_t)cap * sizeof(UChar)), *b = malloc((size_t)cap * sizeof(UChar));
    int32_t na = 0, nb = 0;
    if (a && b && U_SUCCESS(e)) na = unorm2_normalize(nfkc, u, n16, a, cap, &e);
    if (a && b && U_SUCCESS(e)) nb = unorm2_normalize(nfd, a, na, b, cap, &e);
    free(u);
    free(a);
    if (!b || U_FAILURE(e)) {
        free(b);
        return NULL;
    }
    buf_t out = {0};
    for (int32_t i = 0; i < nb;) {
        UChar32 c;
        U16_NEXT(b, i, nb, c);
        int8_t t = u_charType(c);
        if (t == U_NON_SPACING_MARK || t == U_ENCLOSING_MARK || t == U_FORMAT_CHAR) continue;
        char ch = ' ';
        if (c < 128) {
            ch = (char)c;
            if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || strchr("@$!|+", ch))) ch = ' ';
        } else {
            for (size_t k = 0; k < sizeof HOMOGLYPHS / sizeof HOMOGLYPHS[0]; k++)
                if (HOMOGLYPHS[k].from == c) ch = HOMOGLYPHS[k].to;
            if (ch == ' ' && u_isalpha(c)) ch = '?'; /* another script's letter: part of a word */
        }
        buf_append(&out, &ch, 1);
    }
    free(b);
    if (!out.data) buf_append(&out, "", 0);
    return (char *)out.data;
}

static int is_alpha(char c) { return c >= 'a' && c <= 'z'; }

int words_split(const char *text, words_t *w) {
    memset(w, 0, sizeof *w);
    char *f = fold(text);
    if (!f) return -1;
    /* raw tokens */
    char *save = NULL;
    for (char *tok = strtok_r(f, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        size_t l = strlen(tok);
        int letters = 0, digits = 0;
        for (size_t i = 0; i < l; i++) {
            letters += is_alpha(tok[i]);
            digits += tok[i] >= '0' && tok[i] <= '9';
        }
        /* symbols at the edges are punctuation, not letters ("wow!"), except $ and @ */
        while (l && strchr("!|+", tok[l - 1])) tok[--l] = 0;
        while (*tok && strchr("!|+", *tok)) {
            tok++;
            l--;
        }
        if (!l) continue;
        if (letters)
            for (size_t i = 0; i < l; i++) tok[i] = (char)leet(tok[i]);
        else if (!digits)
            continue; /* lone symbols */
        if (words_push(w, tok)) {
            free(f);
            return -1;
        }
    }
    free(f);
    /* "13 y o" / "13 y.o.": keep the age marker from merging into a spelled-out word */
    for (int i = 0; i + 2 < w->n; i++)
        if (w->w[i][0] >= '0' && w->w[i][0] <= '9' && !strcmp(w->w[i + 1], "y") && !strcmp(w->w[i + 2], "o"))
            words_replace_range(w, i + 1, i + 3, "yo");
    /* runs of three or more one-letter words are a spelled-out word */
    for (int i = 0; i < w->n;) {
        int j = i;
        while (j < w->n && strlen(w->w[j]) == 1 && is_alpha(w->w[j][0])) j++;
        if (j - i >= 3) {
            char joined[64] = "";
            for (int k = i; k < j && k - i < 63; k++) joined[k - i] = w->w[k][0];
            joined[j - i < 63 ? j - i : 63] = 0;
            words_replace_range(w, i, j, joined);
            i++;
        } else {
            i = j > i ? j : i + 1;
        }
    }
    /* ages under 18: "12 year old", "12 years old", "12yo", "12 yo" */
    static const char *const NUMS[] = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                                       "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
                                       "sixteen", "seventeen"};
    for (int i = 0; i < w->n; i++) {
        const char *t = w->w[i];
        int age = -1;
        char *end;
        long v = strtol(t, &end, 10);
        if (end != t && (*end == 0 || !strcmp(end, "yo") || !strcmp(end, "yr") || !strcmp(end, "yrs"))) age = (int)v;
        for (int k = 0; k < 17; k++)
            if (!strcmp(t, NUMS[k])) age = k + 1;
        if (age < 1 || age >= 18) continue;
        int next_yo = i + 1 < w->n && (!strcmp(w->w[i + 1], "yo") || !strcmp(w->w[i + 1], "y"));
        int next_year = i + 2 < w->n && (!strncmp(w->w[i + 1], "year", 4) || !strncmp(w->w[i + 1], "yr", 2)) &&
                        !strcmp(w->w[i + 2], "old");
        if ((end != t && *end) || next_yo || next_year) words_push(w, "ageunderadult");
    }
    return 0;
}

char *mod_normalize(const char *text) {
    words_t w;
    if (words_split(text, &w)) return NULL;
    buf_t b = {0};
    for (int i = 0; i < w.n; i++) {
        if (i) buf_append(&b, " ", 1);
        buf_append(&b, w.w[i], strlen(w.w[i]));
    }
    words_free(&w);
    if (!b.data) buf_append(&b, "", 0);
    return (char *)b.data;
}
