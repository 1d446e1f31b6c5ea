/* normalize.c - turns a prompt into plain lower-case words so that rules match through
 * obfuscation: NFKC + case folding, accents and format characters (zero-width joiners, soft
 * hyphens) dropped, Cyrillic/Greek look-alikes mapped to Latin, leetspeak decoded inside words,
 * spelled-out letters ("s e x", "s.e.x") joined, and ages under 18 marked. */
#include "common/buf.h"
#include "common/status.h"
#include "moderation/moderation.h"
#include "moderation/unescape.h"
#include "moderation/words.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>
#include <unicode/unorm2.h>
#include <unicode/utrans.h>
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

/* Latin letters that have no decomposition but a plain reading. */
static const char *latin_plain(UChar32 c) {
    switch (c) {
    case 0x00f8: return "o";  /* ø */
    case 0x00e6: return "ae"; /* æ */
    case 0x0153: return "oe"; /* œ */
    case 0x0142: return "l";  /* ł */
    case 0x0111: return "d";  /* đ */
    case 0x0131: return "i";  /* dotless i */
    case 0x00f0: return "d";  /* ð */
    case 0x00fe: return "th"; /* þ */
    default: return NULL;
    }
}

/* A letter in disguise that NFKC leaves alone, by its Unicode name: small capitals ("ᴄʜɪʟᴅ"),
 * regional indicators ("🇨🇭🇮🇱🇩") and negative circled or squared capitals ("🅒🅗🅘🅛🅓"); 0 when
 * c is none. Only the blocks that hold them are looked up. */
static char named_latin(UChar32 c) {
    if (!((c >= 0x0250 && c <= 0x02af) || (c >= 0x1d00 && c <= 0x1d7f) || (c >= 0xa700 && c <= 0xa7ff) ||
          (c >= 0x1f100 && c <= 0x1f1ff)))
        return 0;
    static const char *const KINDS[] = {"LATIN LETTER SMALL CAPITAL ", "REGIONAL INDICATOR SYMBOL LETTER ",
                                        "NEGATIVE CIRCLED LATIN CAPITAL LETTER ",
                                        "NEGATIVE SQUARED LATIN CAPITAL LETTER "};
    char name[96];
    UErrorCode e = U_ZERO_ERROR;
    int32_t n = u_charName(c, U_UNICODE_CHAR_NAME, name, sizeof name, &e);
    if (U_FAILURE(e) || n < 2 || n >= (int32_t)sizeof name) return 0;
    for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++) {
        size_t kl = strlen(KINDS[k]);
        if ((size_t)n == kl + 1 && !strncmp(name, KINDS[k], kl) && name[kl] >= 'A' && name[kl] <= 'Z')
            return (char)(name[kl] - 'A' + 'a');
    }
    return 0;
}

/* A character written as a word of its own (scripts without spaces between words, and Hangul,
 * whose particles are glued to the word: a rule's syllables then match inside "초등학생이"). */
static int own_word(UChar32 c) {
    UErrorCode e = U_ZERO_ERROR;
    UScriptCode sc = uscript_getScript(c, &e);
    return u_hasBinaryProperty(c, UCHAR_IDEOGRAPHIC) || sc == USCRIPT_HIRAGANA ||
           sc == USCRIPT_KATAKANA || sc == USCRIPT_THAI || sc == USCRIPT_LAO ||
           sc == USCRIPT_KHMER || sc == USCRIPT_MYANMAR || sc == USCRIPT_HANGUL;
}

/* A pictograph written as a word of its own: emoji name things in prompts as words do ("❄️ for
 * sale", "🍆💦"), each one a word so that rules can list them; other symbols stay separators. */
static int emoji_word(UChar32 c, int8_t type) {
    return type == U_OTHER_SYMBOL && u_hasBinaryProperty(c, UCHAR_EXTENDED_PICTOGRAPHIC);
}

/* Appends c as UTF-8 (nothing for a value that is no character); IMG_ENOMEM when out cannot
 * grow. */
static int put_utf8(buf_t *out, UChar32 c) {
    char tmp[4];
    int32_t n = 0;
    UBool bad = 0;
    U8_APPEND(tmp, n, 4, c, bad);
    return bad ? IMG_OK : buf_append(out, tmp, (size_t)n);
}

/* The separator fold() writes for ASCII punctuation; a space is written for white space. */
#define SEP_PUNCT '\x01'

/* UTF-8 -> case-folded NFKC -> NFD, then words separated by spaces: ASCII letters, digits and
 * leet symbols as they are; marks and format characters dropped; other letters kept in their
 * script (UTF-8), Latin ones without a decomposition read plainly; ideographs (and other
 * scripts written without spaces) and emoji a word each; everything else a separator. */
/* A copy of text with camelCase words apart ("NakedSelfie" -> "Naked Selfie", "TeenBoy13" ->
 * "Teen Boy13"): a space between a lower-case and an upper-case ASCII letter when at least two
 * lower-case letters end the part before and follow the capital ("NuDe", "iPhone", "McDonald"
 * stay whole). malloc'd. */
static char *split_camel(const char *text) {
    size_t n = strlen(text);
    char *out = malloc(2 * n + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        out[o++] = text[i];
        int lo = text[i] >= 'a' && text[i] <= 'z', up = text[i + 1] >= 'A' && text[i + 1] <= 'Z';
        if (!lo || !up || i < 1) continue;
        int before = i >= 1 && text[i - 1] >= 'a' && text[i - 1] <= 'z';
        int after = text[i + 2] >= 'a' && text[i + 2] <= 'z' && text[i + 3] >= 'a' && text[i + 3] <= 'z';
        if (before && after) out[o++] = ' ';
    }
    out[o] = 0;
    return out;
}

/* Traditional Chinese characters read as their simplified forms (體 as 体, 蘿 as 萝, 歲 as 岁), so
 * that the rules, written in simplified characters, match prompts in either; s (n units, cap
 * units of room) is rewritten only when it holds an ideograph. 0, or -1 when memory runs out (a
 * prompt left unread would be judged on less than it says); a transform ICU cannot provide leaves
 * the text as written. */
static int simplify_han(UChar *s, int32_t *n, int32_t cap) {
    int han = 0;
    for (int32_t i = 0; i < *n && !han;) {
        UChar32 c;
        U16_NEXT(s, i, *n, c);
        han = u_hasBinaryProperty(c, UCHAR_IDEOGRAPHIC);
    }
    if (!han) return 0;
    UErrorCode e = U_ZERO_ERROR;
    static const UChar ID[] = u"Traditional-Simplified";
    UTransliterator *t = utrans_openU(ID, -1, UTRANS_FORWARD, NULL, 0, NULL, &e);
    UChar *copy = U_SUCCESS(e) ? malloc((size_t)cap * sizeof *copy) : NULL;
    int rc = e == U_MEMORY_ALLOCATION_ERROR || (U_SUCCESS(e) && !copy) ? -1 : 0;
    if (copy) {
        u_memcpy(copy, s, *n);
        int32_t len = *n, limit = *n;
        utrans_transUChars(t, copy, &len, cap, 0, &limit, &e);
        if (U_SUCCESS(e) && len <= cap) {
            u_memcpy(s, copy, len);
            *n = len;
        } else if (e == U_MEMORY_ALLOCATION_ERROR) {
            rc = -1;
        }
    }
    free(copy);
    if (t) utrans_close(t);
    return rc;
}

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
    if (a && b && U_SUCCESS(e) && simplify_han(a, &na, cap)) e = U_MEMORY_ALLOCATION_ERROR;
    if (a && b && U_SUCCESS(e)) nb = unorm2_normalize(nfd, a, na, b, cap, &e);
    int normalised = a && b && U_SUCCESS(e);
    free(u);
    free(a);
    if (!normalised) {
        free(b);
        return NULL;
    }
    /* a failed append is the whole fold's failure: a prompt cut short would be judged on
     * less than it says */
    buf_t out = {0};
    int rc = IMG_OK;
    for (int32_t i = 0; i < nb && !rc;) {
        UChar32 c;
        char named;
        int emoji = 0; /* set where the branches below test it */
        U16_NEXT(b, i, nb, c);
        /* й keeps its breve: Russian writers never leave it off, and the stemmer reads the
         * adjective endings -ой, -ый, -ий by it (ё and the accents of other scripts fold) */
        if (c == 0x0438 && i < nb && b[i] == 0x0306) {
            c = 0x0439;
            i++;
        }
        int8_t t = u_charType(c);
        if (t == U_NON_SPACING_MARK || t == U_ENCLOSING_MARK || t == U_FORMAT_CHAR) continue;
        /* a spacing vowel sign is part of its word (Devanagari "लड़की": the signs between
         * letters had cut words apart) */
        if (t == U_COMBINING_SPACING_MARK) {
            rc = put_utf8(&out, c);
            continue;
        }
        /* Russian soft and hard signs are dropped, as Latin transliterations drop them ("malchik"
         * for мальчик): rules and prompts alike */
        if (c == 0x044c || c == 0x044a) continue;
        if (c < 128) {
            char ch = (char)c;
            /* punctuation is a separator of its own kind (SEP_PUNCT), so that spelled-out
             * letters joined by dots or hyphens end at a space ("g-i-r-l n-u-d-e") */
            if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || strchr("@$!|+*", ch)))
                ch = ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ? ' ' : SEP_PUNCT;
            rc = buf_append(&out, &ch, 1);
        } else if (latin_plain(c)) {
            rc = buf_append(&out, latin_plain(c), strlen(latin_plain(c)));
        } else if ((named = named_latin(c))) { /* one name lookup per character */
            rc = buf_append(&out, &named, 1);
        } else if ((emoji = emoji_word(c, t)) && out.len &&
                   isalpha((unsigned char)out.data[out.len - 1]) && i < nb && u_isalpha(b[i])) {
            continue; /* an emoji inside a word hides it ("ch👶ild"): the letters go on */
        } else if (emoji || own_word(c)) {
            rc = buf_append(&out, " ", 1);
            if (!rc) rc = put_utf8(&out, c);
            if (!rc) rc = buf_append(&out, " ", 1);
        } else if (u_isalpha(c)) {
            rc = put_utf8(&out, c);
        } else {
            rc = buf_append(&out, " ", 1);
        }
    }
    free(b);
    if (!rc && !out.data) rc = buf_append(&out, "", 0);
    if (rc) {
        free(out.data);
        return NULL;
    }
    return (char *)out.data;
}

/* The Latin letter a Cyrillic or Greek look-alike stands for, or 0. */
static char lookalike(UChar32 c) {
    for (size_t k = 0; k < sizeof HOMOGLYPHS / sizeof HOMOGLYPHS[0]; k++)
        if (HOMOGLYPHS[k].from == c) return HOMOGLYPHS[k].to;
    return 0;
}

/* The Cyrillic letter (UTF-8) a Latin look-alike stands for in a Russian word, or NULL. */
static const char *cyrillic_twin(char c) {
    switch (c) {
    case 'a':
        return "а";
    case 'e':
        return "е";
    case 'o':
        return "о";
    case 'p':
        return "р";
    case 'c':
        return "с";
    case 'x':
        return "х";
    case 'y':
        return "у";
    case 'k':
        return "к";
    case 'm':
        return "м";
    case 't':
        return "т";
    case 'h':
        return "н";
    default:
        return NULL;
    }
}

/* A malloc'd copy of t (into *out, the caller's) with each byte that map gives a replacement
 * written as that replacement (the others copied): the Cyrillic readings below; -1 when memory
 * runs out. */
static int mapped_copy(const char *t, const char *(*map)(char), char **out) {
    buf_t b = {0};
    for (const char *p = t; *p; p++) {
        const char *r = map(*p);
        if (r ? buf_append(&b, r, strlen(r)) : buf_append(&b, p, 1)) {
            free(b.data);
            return -1;
        }
    }
    if (buf_append(&b, "", 1)) {
        free(b.data);
        return -1;
    }
    *out = (char *)b.data;
    return 0;
}

/* A Russian word with Latin look-alikes in it ("пopнo", its o and p Latin) is the Russian word:
 * when t has Cyrillic letters that are no look-alikes of Latin ones and every Latin letter in it
 * has a Cyrillic twin, *out is a malloc'd copy with those letters written in Cyrillic, else
 * NULL; -1 when memory runs out. */
static int cyrillic_twins(const char *t, char **out) {
    *out = NULL;
    int ascii = 0, twins = 0, cyrillic = 0;
    size_t n = strlen(t);
    for (size_t i = 0; i < n;) {
        UChar32 c;
        U8_NEXT(t, i, (int32_t)n, c);
        if (c >= 'a' && c <= 'z') {
            ascii++;
            twins += cyrillic_twin((char)c) != NULL;
        } else if (c >= 0x400 && c <= 0x4ff && !lookalike(c)) {
            cyrillic++;
        }
    }
    if (!cyrillic || !ascii || twins != ascii) return 0;
    return mapped_copy(t, cyrillic_twin, out);
}

/* Script handling of one word: a word that mixes ASCII letters with Cyrillic or Greek
 * look-alikes is a disguised Latin word (look-alikes mapped in place); a word made only of
 * look-alikes may be either, so its Latin reading is kept beside it (*alt, malloc'd). A word of
 * one script otherwise stays as it is (Russian is Russian). */
static int script_fix(char *tok, char **alt) {
    *alt = NULL;
    int ascii = 0, look = 0, other = 0;
    size_t n = strlen(tok);
    for (size_t i = 0; i < n;) {
        UChar32 c;
        U8_NEXT(tok, i, (int32_t)n, c);
        if (c < 128) ascii += (c >= 'a' && c <= 'z');
        else if (lookalike(c)) look++;
        else other++;
    }
    if (!look) return 0;
    if (ascii == 0 && other > 0) return 0; /* a word of its own script */
    char *mapped = malloc(n + 1);
    if (!mapped) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t start = i;
        UChar32 c;
        U8_NEXT(tok, i, (int32_t)n, c);
        char l = c >= 128 ? lookalike(c) : 0;
        if (l) mapped[o++] = l;
        else {
            memcpy(mapped + o, tok + start, i - start);
            o += i - start;
        }
    }
    mapped[o] = 0;
    if (ascii) { /* mixed: the Latin reading is the word */
        /* and when every Latin letter has a Cyrillic twin, the Russian reading is its second
         * ("ceкca": c, e, a Latin, к Cyrillic, is "секса" as well as "cekca") */
        int twins = other == 0;
        for (size_t i = 0; twins && i < n; i++)
            if (tok[i] >= 'a' && tok[i] <= 'z' && !cyrillic_twin(tok[i])) twins = 0;
        if (twins && mapped_copy(tok, cyrillic_twin, alt)) {
            free(mapped);
            return -1;
        }
        memcpy(tok, mapped, o + 1);
        free(mapped);
    } else {
        *alt = mapped;
    }
    return 0;
}

static int is_alpha(char c) { return c >= 'a' && c <= 'z'; }

/* See words.h. y is я/ю/е before a, u, o/e, й after a vowel, ы elsewhere; j is й. */
char *mod_translit_ru(const char *s) {
    static const char *const MULTI[][2] = {{"shch", "щ"}, {"tsya", "тся"}, {"zh", "ж"}, {"kh", "х"},
                                           {"ts", "ц"},   {"ch", "ч"},     {"sh", "ш"}, {"ya", "я"},
                                           {"yu", "ю"},   {"yo", "е"},     {"ye", "е"}};
    static const char *const ONE[26] = {"а", "б", "ц", "д", "е", "ф",  "г", "х", "и",
                                        "й", "к", "л", "м", "н", "о",  "п", "к", "р",
                                        "с", "т", "у", "в", "в", "кс", "ы", "з"};
    size_t n = strlen(s);
    char *out = malloc(4 * n + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        int done = 0;
        for (size_t k = 0; k < sizeof MULTI / sizeof MULTI[0] && !done; k++) {
            size_t l = strlen(MULTI[k][0]);
            /* "ts" is ц before a vowel or at the end (shkolnitsa), т + с before a consonant
             * (detskoe) */
            if (strncmp(s + i, MULTI[k][0], l)) continue;
            if (!strcmp(MULTI[k][0], "ts") && s[i + 2] && !strchr("aeiouy", s[i + 2])) continue;
            {
                size_t cl = strlen(MULTI[k][1]);
                memcpy(out + o, MULTI[k][1], cl);
                o += cl;
                i += l;
                done = 1;
            }
        }
        if (done) continue;
        const char *c = ONE[s[i] - 'a'];
        if (s[i] == 'y' && i > 0 && strchr("aeiouy", s[i - 1])) c = "й";
        if (s[i] == 'e' && i == 0 && s[1] && strchr("rtkfl", s[1]))
            c = "э"; /* erotika, etot; evrei */
        size_t cl = strlen(c);
        memcpy(out + o, c, cl);
        o += cl;
        i++;
    }
    out[o] = 0;
    return out;
}

/* The units an age is written with right after its number, in the languages the rules cover
 * (after folding: lower case, no accents). */
static int glued_age_unit(const char *u) {
    static const char *const UNITS[] = {"yo",       "y",    "yr",  "yrs",  "yro",   "yearold",
                                        "yearsold", "anos", "ans", "an",   "jahre", "jahrig",
                                        "jahrige",  "anni", "лет", "года", "岁",    "歲"};
    return word_in_list(u, UNITS, sizeof UNITS / sizeof UNITS[0]);
}

/* 1 when u is the ending that makes the number of digits d (1 or 2, not NUL-terminated) an
 * ordinal, after folding: English 1st/2nd/3rd/7th/11th (each ending only where English puts it,
 * so leetspeak "3nd" stays "end"), Romance 5o/5a (from 5º/5ª), French 1er/1re/6e/6eme, German
 * 5te/5ter/5ten. */
static int ordinal_ending(const char *d, size_t nd, const char *u) {
    int last = d[nd - 1] - '0', teen = nd == 2 && d[0] == '1';
    if (!strcmp(u, "st")) return last == 1 && !teen;
    if (!strcmp(u, "nd")) return last == 2 && !teen;
    if (!strcmp(u, "rd")) return last == 3 && !teen;
    if (!strcmp(u, "th")) return teen || last == 0 || last >= 4;
    if (!strcmp(u, "er") || !strcmp(u, "re")) return nd == 1 && last == 1;
    static const char *const ENDS[] = {"o", "a", "e", "eme", "ieme", "te", "ter", "ten"};
    return word_in_list(u, ENDS, sizeof ENDS / sizeof ENDS[0]);
}

/* Appends word s (with its second reading alt, if any) and gap, the separators before it, to
 * gaps (one per word of w, grown here); -1 when memory runs out. */
static int push_word(words_t *w, int **gaps, const char *s, const char *alt, int gap) {
    if (words_push(w, s) || (alt && words_set_alt(w, w->n - 1, alt))) return -1;
    int *g = realloc(*gaps, sizeof *g * (size_t)w->n);
    if (!g) return -1;
    g[w->n - 1] = gap;
    *gaps = g;
    return 0;
}

static int age_pronoun(const char *p) {
    return !strcmp(p, "she") || !strcmp(p, "he") || !strcmp(p, "who") || !strcmp(p, "sie") ||
           !strcmp(p, "er");
}

static int age_copula(const char *p) {
    return !strcmp(p, "is") || !strcmp(p, "s") || !strcmp(p, "ist");
}

/* Words that play an age down or bound it from above between its pronoun and the number: "who
 * is only 10", "she's not even 13", "who is no older than 10", "sie ist doch erst 12", "ей всего
 * 12". ("over" and "more than" bound it from below: "she is over 17" is an adult.) */
static int age_degree(const char *p) {
    static const char *const DEGREE[] = {
        "only", "just", "barely", "merely", "still", "not",  "even",  "yet",    "no",   "older",
        "than", "erst", "nur",    "noch",   "schon", "doch", "всего", "только", "лишь", "едва"};
    return word_in_list(p, DEGREE, sizeof DEGREE / sizeof DEGREE[0]);
}

/* The index of the first word before w[from] (inclusive) that is not an age_degree word, after
 * at most three of them (-1 at the start), or -2 when those words bound the age from below
 * ("older than" without "no" or "not": "she is older than 16"). */
static int skip_degree(const words_t *w, int from) {
    int j = from, older = 0, negated = 0;
    while (j >= 0 && from - j < 3 && age_degree(w->w[j])) {
        older |= !strcmp(w->w[j], "older");
        negated |= !strcmp(w->w[j], "no") || !strcmp(w->w[j], "not");
        j--;
    }
    return older && !negated ? -2 : j;
}

/* 1 when the words before w[i] say a person's age follows: a pronoun and its copula ("she is",
 * "he s" (he's), "who is", "sie ist", "er ist", "ей", "ему") or "turned" after a pronoun,
 * "has", "just" or "barely", each with at most three age_degree words before the number ("who is
 * only 10", "who's barely turned 12"). */
static int pronoun_age(const words_t *w, int i) {
    static const char *const DATIVE[] = {"ей", "ему"};
    int j = skip_degree(w, i - 1);
    const char *p1 = j >= 0 ? w->w[j] : "", *p2 = j > 0 ? w->w[j - 1] : "";
    if (word_in_list(p1, DATIVE, sizeof DATIVE / sizeof DATIVE[0])) return 1;
    if (age_pronoun(p2) && age_copula(p1)) return 1;
    /* "sie ist gerade 15 (geworden)": she has just turned 15 */
    if (i > 1 && !strcmp(w->w[i - 1], "gerade") && !strcmp(w->w[i - 2], "ist")) return 1;
    if (i < 1 || strcmp(w->w[i - 1], "turned")) return 0;
    j = skip_degree(w, i - 2);
    p1 = j >= 0 ? w->w[j] : "";
    return (j >= -1 && j < i - 2) || age_pronoun(p1) || !strcmp(p1, "has");
}

/* 1 when the words around w[i] give an age the way learners and word-for-word translation write
 * it: "in age of 9", "at the age of 9", and "who has 10 years" ("tiene 10 años") - unless the
 * years are "of" something ("she has 10 years of experience") or a span ("left", "ago"). */
static int calque_age(const words_t *w, int i) {
    const char *p1 = i > 0 ? w->w[i - 1] : "", *p2 = i > 1 ? w->w[i - 2] : "";
    if (!strcmp(p1, "of") && !strcmp(p2, "age")) return 1;
    static const char *const OWNER[] = {"who", "she", "he", "which", "that"};
    static const char *const NOT_AGE[] = {"of", "left", "ago", "later", "experience", "in"};
    const char *n1 = i + 1 < w->n ? w->w[i + 1] : "", *n2 = i + 2 < w->n ? w->w[i + 2] : "";
    return (!strcmp(p1, "has") || !strcmp(p1, "have")) &&
           word_in_list(p2, OWNER, sizeof OWNER / sizeof OWNER[0]) &&
           (!strcmp(n1, "years") || !strcmp(n1, "year")) &&
           !word_in_list(n2, NOT_AGE, sizeof NOT_AGE / sizeof NOT_AGE[0]);
}

/* 1 when the word before w[i] is one of alone, or the two before it are one of pairs (in
 * order): what the age readings below ask of the words that lead up to a number. */
static int said_before(const words_t *w, int i, const char *const *alone, size_t nalone,
                       const char *const (*pairs)[2], size_t npairs) {
    const char *p1 = i > 0 ? w->w[i - 1] : "", *p2 = i > 1 ? w->w[i - 2] : "";
    for (size_t k = 0; k < nalone; k++)
        if (!strcmp(p1, alone[k])) return 1;
    for (size_t k = 0; k < npairs; k++)
        if (!strcmp(p2, pairs[k][0]) && !strcmp(p1, pairs[k][1])) return 1;
    return 0;
}

/* 1 when the words before w[i] say how old someone looks: "looks like 12", "looks 12",
 * "parece de 11", "aparenta 10", "sieht aus wie 10", "выглядит на 12", "semble avoir 12",
 * "a l'air d'avoir 12", "sembra 12", "dimostra 12", "parece ter 11" - also with an estimate
 * between ("looks about 10", "looks like maybe 9", "aparenta unos 10", "sieht aus wie etwa 9"). */
static int looks_age(const words_t *w, int i) {
    static const char *const ALONE[] = {"looks", "look", "looking", "parece", "aparenta", "aparente", "sembra",
                                        "dimostra", "semble"};
    static const char *const PAIRS[][2] = {{"looks", "like"}, {"look", "like"}, {"looking", "like"},
                                           {"parece", "de"},  {"parece", "ter"}, {"aus", "wie"},
                                           {"выглядит", "на"}, {"semble", "avoir"}, {"d", "avoir"}};
    static const char *const ESTIMATE[] = {
        "about", "around", "maybe",   "roughly", "approximately", "unos",     "unas", "uns",
        "umas",  "etwa",   "environ", "circa",   "около",         "примерно", "tipo"};
    if (said_before(w, i, ALONE, sizeof ALONE / sizeof ALONE[0], PAIRS,
                    sizeof PAIRS / sizeof PAIRS[0]))
        return 1;
    return i > 0 && word_in_list(w->w[i - 1], ESTIMATE, sizeof ESTIMATE / sizeof ESTIMATE[0]) &&
           said_before(w, i - 1, ALONE, sizeof ALONE / sizeof ALONE[0], PAIRS,
                       sizeof PAIRS / sizeof PAIRS[0]);
}

/* 1 when w[i] is a bare number right after a word for a young person, or after one and "de",
 * "di", "da" or "mit", the way captions, tag lists and speech give an age: "girl, 12", "nackige
 * Göre, 12", "niña 11", "una pendeja de 12", "ein Gschrapp mit 10"; a roleplay's character,
 * "{{char}}, 11" or "my OC, 12", as well. */
static int person_age(const words_t *w, int i) {
    static const char *const PERSON[] = {
        "girl",       "boy",          "girls",     "boys",         "kid",       "child",
        "daughter",   "son",          "niece",     "nephew",       "sister",    "brother",
        "teen",       "student",      "pupil",     "nina",         "nino",      "chica",
        "chico",      "hija",         "hijo",      "fille",        "fillette",  "garcon",
        "madchen",    "junge",        "gore",      "kind",         "tochter",   "sohn",
        "menina",     "menino",       "garota",    "garoto",       "ragazza",   "ragazzo",
        "bambina",    "bambino",      "девочка",   "малчик",       "доч",       "сын",
        "pendeja",    "pendejo",      "piba",      "pibe",         "chamaca",   "chamaco",
        "chavala",    "chaval",       "morrita",   "gamine",       "gamin",     "gosse",
        "miuda",      "miudo",        "novinha",   "ragazzina",    "ragazzino", "regazzina",
        "gschrapp",   "meitli",       "bub",       "cousin",       "cousine",   "prima",
        "primo",      "cugina",       "cugino",    "kusine",       "кузина",    "кузен",
        "nieta",      "nieto",        "neta",      "neto",         "nipote",    "enkelin",
        "enkel",      "внучка",       "внук",      "wizard",       "witch",     "heroine",
        "hero",       "princess",     "prince",    "stepdaughter", "stepson",   "hijastra",
        "hijastro",   "stieftochter", "stiefsohn", "enteada",      "enteado",   "figliastra",
        "figliastro", "падчерица",    "пасынок",   "teenie",       "teeny",     "ado",
        "ninfeta",    "ninfetinha",   "char",      "oc",           "lad",       "lass",
        "laddie",     "lassie",       "youngster", "garconnet",    "gamina",    "knabe",
        "малчишка",   "девчонка",     "пацан"};
    static const char *const LINK[] = {"de", "di", "da", "mit", "of"};
    int at = i - 1;
    for (size_t k = 0; at >= 1 && k < sizeof LINK / sizeof LINK[0]; k++)
        if (!strcmp(w->w[at], LINK[k])) {
            at--;
            break;
        }
    /* the word for the person, or the one before it: "the boy wizard, eleven" */
    for (int back = at; back >= 0 && back >= at - 1; back--)
        for (size_t k = 0; k < sizeof PERSON / sizeof PERSON[0]; k++)
            if (!strcmp(w->w[back], PERSON[k])) return 1;
    return 0;
}

/* 1 when the number w[i], followed by its unit of years, tells a span of time rather than an
 * age: a preposition of time before it ("hace", "durante", "depuis", "il y a", "vor", "seit",
 * "per", "tra", "há", "por", "через", "за") or a word of time after its unit ("ago", "fa",
 * "atras", "depois", "назад", "spater"). */
static int time_span(const words_t *w, int i) {
    static const char *const BEFORE[] = {
        "hace", "durante", "desde", "en", "pendant", "depuis", "apres", "avant", "dans", "vor",
        "seit", "nach", "fur", "in", "per", "tra", "fra", "dopo", "ha", "por", "em", "for", "after",
        "через", "за", "уже", "до", "после",
        /* Dutch, Polish, Turkish, Indonesian, Arabic, Swedish, Ukrainian */
        "sinds", "od", "przez", "selama", "منذ", "لمدة", "протягом", "після"};
    static const char *const AFTER[] = {
        "ago", "later", "fa", "dopo", "atras", "despues", "depois", "apres", "plus", "spater",
        "lang", "назад", "спустя", "later",
        /* ago or later in Dutch, Polish, Turkish, Indonesian,
         * Hindi (and Hinglish), Swedish, Ukrainian */
        "geleden", "temu", "sonra", "lalu", "kemudian",
        /* folded: "पहले" loses its vowel sign */
        "पहल", "बाद", "pehle", "baad", "sedan", "senare", "тому", "потому"};
    const char *prev = i > 0 ? w->w[i - 1] : "";
    if (word_in_list(prev, BEFORE, sizeof BEFORE / sizeof BEFORE[0])) return 1;
    /* "il y a deux ans": "a" after "y" */
    if (i > 1 && !strcmp(prev, "a") && !strcmp(w->w[i - 2], "y")) return 1;
    const char *after = i + 2 < w->n ? w->w[i + 2] : "";
    return word_in_list(after, AFTER, sizeof AFTER / sizeof AFTER[0]);
}

/* 1 when the words before w[i] bound or estimate an age: "under", "below", "unter", "младше",
 * "моложе", "younger than", "menos de", "moins de", "meno di", "weniger als", "maybe 10". */
static int under_bound(const words_t *w, int i) {
    static const char *const ALONE[] = {"under", "below", "unter", "младше", "моложе",
                                        /* an estimate is an age as well: "maybe 10" */
                                        "maybe", "approximately", "roughly", "circa"};
    static const char *const PAIRS[][2] = {{"younger", "than"}, {"menos", "de"},
                                           {"moins", "de"},     {"meno", "di"},
                                           {"weniger", "als"},  {"junger", "als"}};
    return said_before(w, i, ALONE, sizeof ALONE / sizeof ALONE[0], PAIRS,
                       sizeof PAIRS / sizeof PAIRS[0]);
}

/* 1 when the words before w[i] make it an estimate: "about", "around", "etwa", "environ", "unos",
 * "cerca de", "около", "примерно". */
static int estimate_before(const words_t *w, int i) {
    static const char *const ALONE[] = {"about",    "around",  "approx", "etwa",
                                        "ungefahr", "environ", "unos",   "unas",
                                        "uns",      "umas",    "около",  "примерно"};
    static const char *const PAIRS[][2] = {{"cerca", "de"}, {"a", "peu"}, {"su", "per"}};
    return said_before(w, i, ALONE, sizeof ALONE / sizeof ALONE[0], PAIRS,
                       sizeof PAIRS / sizeof PAIRS[0]);
}

/* Whether the number at i is what something is aged to: "to" (and "about"/"around") before it,
 * and "age", "deage" or "de-age" within three words before that ("de-age her to about eleven",
 * "age him down to 9"). */
static int aged_to(const words_t *w, int i) {
    int k = i - 1;
    if (k >= 0 && (!strcmp(w->w[k], "about") || !strcmp(w->w[k], "around"))) k--;
    if (k < 0 || strcmp(w->w[k], "to")) return 0;
    for (int j = k - 1; j >= 0 && j >= k - 3; j--)
        if (!strcmp(w->w[j], "age") || !strcmp(w->w[j], "deage") || !strcmp(w->w[j], "deaged"))
            return 1;
    return 0;
}

/* Units after a number that make it a measure, not an age ("5 foot 10", "12 minutes"). */
static int measure_unit(const char *s) {
    static const char *const UNITS[] = {
        "foot",    "feet",  "ft",    "inch",  "inches",  "cm",      "m",       "meters",
        "metres",  "kg",    "kilos", "lbs",   "pounds",  "stone",   "percent", "times",
        "minutes", "hours", "days",  "weeks", "months",  "km",      "miles",   "degrees",
        "points",  "o",     "am",    "pm",    "dollars", "месяцев", "месяца",  "дней",
        "часов",   "минут", "uhr",   "euro",  "grad",    "minuten", "stunden", "prozent"};
    return word_in_list(s, UNITS, sizeof UNITS / sizeof UNITS[0]);
}

/* Units of an age shorter than a year, before "old" or "alt" ("18 month old", "18 Monate alt"). */
static int small_age_unit(const char *s) {
    /* months only: weeks and days are mostly puppies, kittens and sourdough, and a baby told
     * in weeks is named a baby */
    static const char *const UNITS[] = {"month", "months", "monat", "monate", "monaten"};
    return word_in_list(s, UNITS, sizeof UNITS / sizeof UNITS[0]);
}

/* "old" after an age's unit, in English or German ("month old", "Monate altes"). */
static int old_word(const char *s) {
    static const char *const OLD[] = {"old",   "olds",  "alt",   "alte",
                                      "alter", "altes", "alten", "altem"};
    return word_in_list(s, OLD, sizeof OLD / sizeof OLD[0]);
}

/* The calendar year now (UTC), against which a birth year or a school class's year is read;
 * 0 when the clock cannot be read (no year is then read as an age). */
static int year_now(void) {
    time_t t = time(NULL);
    struct tm tm;
    if (t == (time_t)-1 || !gmtime_r(&t, &tm)) return 0;
    return tm.tm_year + 1900;
}

/* 1 when w[i] is a birth year that makes its person a minor now ("born in 2013", "2012-born",
 * "nacida en 2013", "née en 2014", "Jahrgang 2012", "nata nel 2013", "nascida em 2012",
 * "2012 года рождения", "2013年出生", "出生于2013年"), or a school class still to graduate
 * ("class of 2030", "graduates in 2031"). */
static int year_age(const words_t *w, int i, int now) {
    const char *t = w->w[i];
    if (now <= 0 || strlen(t) != 4 || strspn(t, "0123456789") != 4) return 0;
    int y = atoi(t);
    static const char *const BIRTH[] = {
        "born",     "b",        "nacida",  "nacido",    "nacidas",   "nacidos",  "nee",
        "ne",       "nees",     "nes",     "geboren",   "geb",       "jahrgang", "nata",
        "nato",     "nate",     "nati",    "nascida",   "nascido",   "nascidas", "nascidos",
        "рождения", "родилась", "родился", "рожденная", "рожденный", "рождена",
    };
    static const char *const CLASS[] = {"class", "graduates", "graduating", "graduate",
                                        "graduation"};
    for (int k = i - 4; k <= i + 3; k++) {
        if (k < 0 || k == i || k >= w->n) continue;
        const char *o = w->w[k];
        if (y > now - 18 && y <= now) {
            for (size_t b = 0; b < sizeof BIRTH / sizeof BIRTH[0]; b++)
                if (!strcmp(o, BIRTH[b])) return 1;
            if (k + 1 < w->n && !strcmp(o, "出") && !strcmp(w->w[k + 1], "生")) return 1;
            if (k == i + 2 && !strcmp(w->w[i + 1], "年") && !strcmp(o, "生")) return 1;
        }
        if (k < i && y > now && y <= now + 12)
            for (size_t c = 0; c < sizeof CLASS / sizeof CLASS[0]; c++)
                if (!strcmp(o, CLASS[c])) return 1;
    }
    return 0;
}

/* The age a word glued from a number and an age suffix gives, or -1: Italian "tredicenne"
 * (13-year-old), "dodicenni"; Russian "двенадцатилетняя", "пятилетний". */
static int glued_age_word(const char *t) {
    static const struct {
        const char *stem;
        int age;
    } IT[] = {{"sett", 7},     {"ott", 8},    {"nov", 9},        {"dec", 10},
              {"undic", 11},   {"dodic", 12}, {"tredic", 13},    {"quattordic", 14},
              {"quindic", 15}, {"sedic", 16}, {"diciassett", 17}},
      RU[] = {{"двух", 2},          {"трех", 3},         {"четырех", 4},      {"пяти", 5},
              {"шести", 6},         {"семи", 7},         {"восми", 8},        {"девяти", 9},
              {"десяти", 10},       {"одиннадцати", 11}, {"двенадцати", 12},  {"тринадцати", 13},
              {"четырнадцати", 14}, {"пятнадцати", 15},  {"шестнадцати", 16}, {"семнадцати", 17}};
    for (size_t k = 0; k < sizeof IT / sizeof IT[0]; k++) {
        size_t n = strlen(IT[k].stem);
        if (!strncmp(t, IT[k].stem, n) && (!strcmp(t + n, "enne") || !strcmp(t + n, "enni")))
            return IT[k].age;
    }
    for (size_t k = 0; k < sizeof RU / sizeof RU[0]; k++) {
        size_t n = strlen(RU[k].stem);
        if (!strncmp(t, RU[k].stem, n) && !strncmp(t + n, "летн", strlen("летн"))) return RU[k].age;
    }
    return -1;
}

/* The school year an ordinal word or number names (1 to 12), or 0: "7th", "sixth", Spanish
 * "quinto", Italian "terza", Portuguese "oitavo", "5o"; Russian ordinals are read by their stem
 * ("пятого", "седьмом"). */
static int ordinal_value(const char *t) {
    char *end;
    long v = strtol(t, &end, 10);
    size_t nd = (size_t)(end - t);
    if (end != t && (!*end || (nd <= 2 && ordinal_ending(t, nd, end))))
        return v >= 1 && v <= 12 ? (int)v : 0;
    static const char *const WORDS[][12] = {
        {"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
         "tenth", "eleventh", "twelfth"},
        {"primero", "segundo", "tercero", "cuarto", "quinto", "sexto", "septimo", "octavo",
         "noveno"},
        {"primer", "segunda", "tercer", "cuarta", "quinta", "sexta", "septima", "octava", "novena"},
        {"primo", "secondo", "terzo", "quarto", "quinto", "sesto", "settimo", "ottavo", "nono"},
        {"prima", "seconda", "terza", "quarta", "quinta", "sesta", "settima", "ottava", "nona"},
        {"primeiro", "segundo", "terceiro", "quarto", "quinto", "sexto", "setimo", "oitavo",
         "nono"},
        {"primeira", "segunda", "terceira", "quarta", "quinta", "sexta", "setima", "oitava",
         "nona"},
        {"перв", "втор", "трет", "четверт", "пят", "шест", "седм", "восм", "девят", "десят",
         "одиннадцат"},
    };
    size_t rows = sizeof WORDS / sizeof WORDS[0];
    for (size_t r = 0; r < rows; r++)
        for (int k = 0; k < 12 && WORDS[r][k]; k++) {
            size_t n = strlen(WORDS[r][k]);
            /* Russian ordinals by stem with an adjective ending of at most two letters */
            if (r == rows - 1 ? !strncmp(t, WORDS[r][k], n) && strlen(t + n) <= 2 * 2
                              : !strcmp(t, WORDS[r][k]))
                return k + 1;
        }
    return 0;
}

/* 1 when w[i] is a number or an ordinal that names a school year with the word beside it,
 * so its pupil is a minor: "6th grade", "a fifth grader", "year 9", "5. Klasse", "Klasse 6",
 * "quinto grado", "terza media", "quinta elementare", "oitavo ano", "5a serie", "5 класса",
 * "в седьмом классе", "5年级". Secondary years that reach 18 are left out (Portuguese "1o ano"
 * is also a university's first year). */
static int school_year(const words_t *w, int i) {
    const char *t = w->w[i];
    const char *next = i + 1 < w->n ? w->w[i + 1] : "", *prev = i > 0 ? w->w[i - 1] : "";
    char *end;
    long num = strtol(t, &end, 10);
    int bare = end != t && !*end; /* a number without an ordinal ending */
    if (bare && num >= 1 && num <= 12 && !strcmp(prev, "year")) return 1;
    if (bare && num >= 1 && num <= 10 && !strcmp(prev, "klasse")) return 1;
    int v = ordinal_value(t);
    if (v < 1) return 0;
    if (!strcmp(next, "grade") || !strcmp(next, "grader") || !strcmp(next, "graders") ||
        !strcmp(next, "klasse") || !strncmp(next, "класс", strlen("класс")))
        return v <= 11 || !strcmp(next, "grade") || !strncmp(next, "grader", 6);
    /* British schools' "a third former" ("first form" alone is also a Pokémon's) */
    if (!bare && v <= 5 && (!strcmp(next, "former") || !strcmp(next, "formers"))) return 1;
    if (!strcmp(next, "grado") || !strcmp(next, "serie") || !strcmp(next, "elementare") ||
        !strcmp(next, "elementari"))
        return v <= 9;
    if (!strcmp(next, "media") || !strcmp(next, "medie")) return v <= 3;
    if (!strcmp(next, "ano") || !strcmp(next, "anos")) return !bare && v >= 4 && v <= 9;
    if (!strcmp(next, "de") && i + 2 < w->n &&
        (!strcmp(w->w[i + 2], "eso") || !strcmp(w->w[i + 2], "primaria") ||
         !strcmp(w->w[i + 2], "secundaria")))
        return v <= 6;
    return bare && v <= 9 && !strcmp(next, "年") && i + 2 < w->n && !strcmp(w->w[i + 2], "级");
}

/* 1 when t is a German zu-infinitive of a separable verb ("umzubringen", "aufzuhangen" folded,
 * "auszuziehen"), with the verb ("umbringen") written to out (size n). The stem after "zu" must
 * be a verb's: three letters or more before an infinitive ending ("Anzug", "Umzug" are nouns). */
static int zu_infinitive(const char *t, char *out, size_t n) {
    static const char *const PREFIX[] = {"um",       "auf",    "ab",     "aus",  "an",     "ein",
                                         "mit",      "vor",    "nach",   "weg",  "los",    "hin",
                                         "her",      "durch",  "fest",   "frei", "nieder", "hoch",
                                         "zusammen", "zuruck", "kaputt", "tot",  "fertig"};
    size_t len = strlen(t);
    for (size_t k = 0; k < sizeof PREFIX / sizeof PREFIX[0]; k++) {
        size_t pl = strlen(PREFIX[k]);
        if (strncmp(t, PREFIX[k], pl) || strncmp(t + pl, "zu", 2)) continue;
        const char *stem = t + pl + 2;
        size_t sl = len - pl - 2;
        int ending = sl >= 5 && (!strcmp(t + len - 2, "en") || !strcmp(t + len - 3, "ern") ||
                                 !strcmp(t + len - 3, "eln"));
        if (!ending || pl + sl + 1 > n) continue;
        memcpy(out, t, pl);
        memcpy(out + pl, stem, sl + 1);
        return 1;
    }
    return 0;
}

/* German puts a separable verb's particle at the end of its clause: "zieh das Mädchen auf dem
 * Foto aus" is "ausziehen" (undress), "er bringt sich um" "umbringen", "sie hängt sich auf"
 * "aufhängen", "schneidet sich die Pulsadern auf" "aufschneiden", "tritt den Hund tot"
 * "tottreten", "knallt ihn ab" "abknallen", "fasst das Kind an" "anfassen". A form of such a verb
 * whose clause, within ten words, ends with its particle (the last word, or punctuation after it:
 * gaps as split_words keeps them, the separators before each word, 1000 added for white space) gets
 * the whole verb as its second reading; -1 when memory runs out. */
static int separable_verbs(words_t *w, const int *gaps) {
    static const struct {
        const char *forms[6];
        const char *particle, *verb;
        int reflexive; /* only with "sich" in the clause: a picture is hung, a cake cut, too */
    } SEP[] = {
        {{"zieh", "ziehe", "zieht", "ziehst", "zog", "ziehen"}, "aus", "ausziehen", 0},
        {{"bring", "bringe", "bringt", "bringst", "brachte"}, "um", "umbringen", 0},
        {{"hang", "hange", "hangt", "hangst", "hangte"}, "auf", "aufhangen", 1},
        {{"schneid", "schneide", "schneidet", "schnitt", NULL}, "auf", "aufschneiden", 1},
        {{"schlitz", "schlitze", "schlitzt", "schlitzte", NULL}, "auf", "aufschlitzen", 0},
        {{"tritt", "trete", "trittst", "trat", NULL}, "tot", "tottreten", 0},
        {{"prugel", "prugle", "prugelt", "prugelte", NULL}, "tot", "totprugeln", 0},
        {{"stech", "steche", "sticht", "stach", NULL}, "ab", "abstechen", 0},
        {{"knall", "knalle", "knallt", "knallte", NULL}, "ab", "abknallen", 0},
        {{"fass", "fasse", "fasst", "fasste", "fassen"}, "an", "anfassen", 0},
    };
    for (int i = 0; i < w->n; i++) {
        if (w->alt[i]) continue;
        for (size_t v = 0; v < sizeof SEP / sizeof SEP[0]; v++) {
            int form = 0;
            for (int f = 0; f < 6 && SEP[v].forms[f] && !form; f++)
                form = !strcmp(w->w[i], SEP[v].forms[f]);
            if (!form) continue;
            int sich = 0;
            for (int j = i + 1; j < w->n && j <= i + 10; j++) {
                if (gaps[j] % 1000 >= 2) break; /* punctuation: the clause ended first */
                sich |= !strcmp(w->w[j], "sich") || !strcmp(w->w[j], "mich");
                int clause_end = j + 1 == w->n || gaps[j + 1] % 1000 >= 2;
                if (!strcmp(w->w[j], SEP[v].particle) && clause_end &&
                    (sich || !SEP[v].reflexive)) {
                    if (words_set_alt(w, i, SEP[v].verb)) return -1;
                    break;
                }
            }
            break;
        }
    }
    return 0;
}

/* The Cyrillic letter a leetspeak digit stands for in a Russian word, or NULL. */
static const char *leet_cyrillic(char c) {
    return c == '0' ? "о" : c == '3' ? "е" : c == '4' ? "а" : c == '6' ? "б" : NULL;
}

/* Leetspeak inside a Cyrillic word: the digits read as the Cyrillic letters they stand for (0 о,
 * 3 е, 4 а, 6 б), so "д3в0чк4 г0л4я" is "девочка голая". *out is a malloc'd copy when the word
 * has Cyrillic letters and such digits, else NULL; -1 when memory runs out. */
static int cyrillic_leet(const char *t, char **out) {
    *out = NULL;
    int cyrillic = 0, mapped = 0;
    for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
        cyrillic |= *p == 0xd0 || *p == 0xd1; /* lead bytes of U+0400..U+047F */
        mapped |= *p == '0' || *p == '3' || *p == '4' || *p == '6';
    }
    return cyrillic && mapped ? mapped_copy(t, leet_cyrillic, out) : 0;
}

/* Case-insensitive ASCII prefix test. */
static int starts_ci(const char *s, const char *prefix) {
    for (; *prefix; s++, prefix++)
        if (tolower((unsigned char)*s) != *prefix) return 0;
    return 1;
}

/* Marks ages under 18 in the languages the rules cover with the word "ageunderadult" after the
 * words ("12 year old", "12yo", "12 años", "10 ans", "10 Jahre", "zehnjährige", "10 anni", "10
 * лет", "十岁", and the estimates, bounds, birth years and school years below). alone[i]: word i
 * stands before punctuation or the end. -1 when memory runs out. */
static int mark_ages(words_t *w, const unsigned char *alone) {
    /* ages under 18 in the languages the rules cover: "12 year old", "12yo", "12 años",
     * "10 ans", "10 Jahre", "zehnjährige", "10 anni", "10 лет", "十岁" */
    static const struct {
        const char *word;
        int age;
    } NUMS[] = {
        /* English */
        {"one", 1},
        {"two", 2},
        {"three", 3},
        {"four", 4},
        {"five", 5},
        {"six", 6},
        {"seven", 7},
        {"eight", 8},
        {"nine", 9},
        {"ten", 10},
        {"eleven", 11},
        {"twelve", 12},
        {"thirteen", 13},
        {"fourteen", 14},
        {"fifteen", 15},
        {"sixteen", 16},
        {"seventeen", 17},
        /* Spanish (words shared with Portuguese are listed once) */
        {"uno", 1},
        {"dos", 2},
        {"tres", 3},
        {"cuatro", 4},
        {"cinco", 5},
        {"seis", 6},
        {"siete", 7},
        {"ocho", 8},
        {"nueve", 9},
        {"diez", 10},
        {"once", 11},
        {"doce", 12},
        {"trece", 13},
        {"catorce", 14},
        {"quince", 15},
        {"dieciseis", 16},
        {"diecisiete", 17},
        /* French */
        {"un", 1},
        {"une", 1},
        {"deux", 2},
        {"trois", 3},
        {"quatre", 4},
        {"cinq", 5},
        {"sept", 7},
        {"huit", 8},
        {"neuf", 9},
        {"dix", 10},
        {"onze", 11},
        {"douze", 12},
        {"treize", 13},
        {"quatorze", 14},
        {"seize", 16},
        /* German, folded (no umlauts) */
        {"ein", 1},
        {"eins", 1},
        {"zwei", 2},
        {"drei", 3},
        {"vier", 4},
        {"funf", 5},
        {"sechs", 6},
        {"sieben", 7},
        {"acht", 8},
        {"neun", 9},
        {"zehn", 10},
        {"elf", 11},
        {"zwolf", 12},
        {"dreizehn", 13},
        {"vierzehn", 14},
        {"funfzehn", 15},
        {"sechzehn", 16},
        {"siebzehn", 17},
        /* Portuguese */
        {"um", 1},
        {"dois", 2},
        {"duas", 2},
        {"quatro", 4},
        {"sete", 7},
        {"oito", 8},
        {"nove", 9},
        {"dez", 10},
        {"doze", 12},
        {"treze", 13},
        {"catorze", 14},
        {"dezesseis", 16},
        {"dezasseis", 16},
        {"dezessete", 17},
        {"dezassete", 17},
        /* Italian */
        {"due", 2},
        {"tre", 3},
        {"quattro", 4},
        {"cinque", 5},
        {"sei", 6},
        {"sette", 7},
        {"otto", 8},
        {"dieci", 10},
        {"undici", 11},
        {"dodici", 12},
        {"tredici", 13},
        {"quattordici", 14},
        {"quindici", 15},
        {"sedici", 16},
        {"diciassette", 17},
        /* Russian */
        {"один", 1},
        {"одна", 1},
        {"два", 2},
        {"две", 2},
        {"три", 3},
        {"четыре", 4},
        {"пят", 5},
        {"шест", 6},
        {"сем", 7},
        {"восем", 8},
        {"девят", 9},
        {"десят", 10},
        {"одиннадцат", 11},
        {"двенадцат", 12},
        {"тринадцат", 13},
        {"четырнадцат", 14},
        {"пятнадцат", 15},
        {"шестнадцат", 16},
        {"семнадцат", 17},
        {"одного", 1},
        {"двух", 2},
        {"трех", 3},
        {"четырех", 4},
        {"пяти", 5},
        {"шести", 6},
        {"семи", 7},
        {"восми", 8},
        {"девяти", 9},
        {"десяти", 10},
        {"одиннадцати", 11},
        {"двенадцати", 12},
        {"тринадцати", 13},
        {"четырнадцати", 14},
        {"пятнадцати", 15},
        {"шестнадцати", 16},
        {"семнадцати", 17},
    };
    static const char *const AGE_WORDS[] = {
        "yo",
        "y",
        "yr",
        "yrs",
        "anos",
        "ano",
        "ans",
        "an",
        "jahre",
        "jahren",
        "jahrig",
        "jahrige",
        "jahriger",
        "jahriges",
        "jahrigen",
        "anni",
        "anno",
        "лет",
        "года",
        "год",
        "let",
        "goda",
        "岁",
        "歲",
        "才",
        "살",
        /* languages the rules were not written for, the never-allowed category only: Dutch,
         * Polish, Turkish, Indonesian, Vietnamese, Arabic, Hindi (and Hinglish), Ukrainian,
         * Swedish ("10 jaar", "10 lat", "10 yaşında", "10 tahun", "10 tuổi", "10 سنوات",
         * "10 साल", "10 saal", "10 років", "10 år") */
        "jaar",
        "lat",
        "lata",
        "yas",
        "yasinda",
        "yasindaki",
        "tahun",
        "tuoi",
        "سنوات",
        "سنة",
        "سنين",
        "عاما",
        "اعوام",
        "साल",
        "saal",
        "років",
        "роки",
        "рік",
        "ar",
        "ars",
        /* the literary count of a young life in seasons: "eleven summers", "neuf printemps",
         * "zehn Lenze", "diez primaveras", "десять вёсен" */
        "summers",
        "winters",
        "springs",
        "printemps",
        "etes",
        "hivers",
        "lenze",
        "sommer",
        "winter",
        "primaveras",
        "veranos",
        "inviernos",
        "primavere",
        "estati",
        "inverni",
        "весен",
        "зим",
    };
    static const char HAN_DIGITS[] = "一二三四五六七八九十";
    int n0 = w->n;
    /* German separable verbs put "zu" between prefix and stem ("umzubringen",
     * "auszuziehen"): the word's second reading is the verb without it */
    for (int i = 0; i < n0; i++) {
        char verb[64];
        if (!w->alt[i] && zu_infinitive(w->w[i], verb, sizeof verb) && words_set_alt(w, i, verb))
            return -1;
    }
    int now = year_now();
    for (int i = 0; i < n0; i++) {
        const char *t = w->w[i];
        int age = -1;
        char *end;
        long v = strtol(t, &end, 10);
        int glued = glued_age_word(t);
        if ((glued > 0 && glued < 18) || year_age(w, i, now) || school_year(w, i))
            if (words_push(w, "ageunderadult")) return -1;
        if (end != t && (*end == 0 || !strcmp(end, "yo") || !strcmp(end, "yr") || !strcmp(end, "yrs")))
            age = (int)v;
        for (size_t k = 0; k < sizeof NUMS / sizeof NUMS[0]; k++)
            if (!strcmp(t, NUMS[k].word)) age = NUMS[k].age;
        /* zehnjährige: a number word glued to the German age word */
        for (size_t k = 0; age < 0 && k < sizeof NUMS / sizeof NUMS[0]; k++) {
            size_t nl = strlen(NUMS[k].word);
            if (!strncmp(t, NUMS[k].word, nl) && !strncmp(t + nl, "jahrig", 6)) {
                age = NUMS[k].age;
                if (age < 18 && words_push(w, "ageunderadult")) return -1;
                age = -1;
            }
        }
        /* pinyin before sui (岁): "shi sui", "ba sui", "shi er sui", "shier sui" */
        if (!strcmp(t, "sui")) {
            static const char *const PY[] = {"yi",  "er", "san", "si",  "wu",
                                             "liu", "qi", "ba",  "jiu", "shi"};
            int val = 0, tens = 0, any = 0;
            for (int k = i - 1; k >= 0 && k >= i - 3; k--) {
                const char *wk = w->w[k];
                int digit = 0, unit = 0;
                for (int d = 0; d < 10; d++)
                    if (!strcmp(wk, PY[d])) digit = d + 1;
                if (!digit && !strncmp(wk, "shi", 3)) /* glued: shiyi .. shiqi */
                    for (int d = 0; d < 9; d++)
                        if (!strcmp(wk + 3, PY[d])) digit = 10 + d + 1, unit = 1;
                if (!digit) break;
                any = 1;
                if (unit)
                    val += digit;
                else if (digit == 10)
                    tens = 1;
                else if (tens)
                    val += digit * 10, tens = 0;
                else
                    val += digit;
            }
            if (tens) val += 10;
            if (any && val > 0 && val < 18 && words_push(w, "ageunderadult")) return -1;
        }
        /* Han numerals before 岁: 十岁, 十二岁, 八岁 */
        if (!strcmp(t, "岁") || !strcmp(t, "歲")) {
            int val = 0, tens = 0, any = 0;
            for (int k = i - 1; k >= 0 && k >= i - 3; k--) {
                const char *d = strstr(HAN_DIGITS, w->w[k]);
                if (!d || strlen(w->w[k]) != 3) break;
                int digit = (int)(d - HAN_DIGITS) / 3 + 1;
                any = 1;
                if (digit == 10) tens = 1;
                else if (tens) val += digit * 10, tens = 0;
                else val += digit;
            }
            if (tens) val += 10;
            if (any && val > 0 && val < 18 && words_push(w, "ageunderadult")) return -1;
        }
        /* an age told in months: "an 18 month old", "18 Monate altes Kind" - a baby or a
         * toddler (under 216 months: under 18 years) */
        if (age >= 1 && age < 216 && i + 2 < n0 && small_age_unit(w->w[i + 1]) &&
            old_word(w->w[i + 2])) {
            if (words_push(w, "ageunderadult")) return -1;
            continue;
        }
        if (age < 1 || age >= 18) continue;
        int next_age = 0;
        if (i + 1 < n0 &&
            word_in_list(w->w[i + 1], AGE_WORDS, sizeof AGE_WORDS / sizeof AGE_WORDS[0]))
            next_age = 1;
        /* "12-летняя": the Russian age adjective after its number */
        if (i + 1 < n0 && !strncmp(w->w[i + 1], "летн", strlen("летн"))) next_age = 1;
        /* "10살": Korean's age word, read as its letters (the syllable is decomposed) */
        if (i + 3 < n0 && !strcmp(w->w[i + 1], "\u1109") && !strcmp(w->w[i + 2], "\u1161") &&
            !strcmp(w->w[i + 3], "\u11af"))
            next_age = 1;
        /* "year", "years", "yr", and as people misspell it: "yers", "yeras", "yaers" */
        static const char *const YEAR_TYPOS[] = {"yers", "yeras", "yaers", "yer"};
        int next_year =
            i + 2 < n0 &&
            (!strncmp(w->w[i + 1], "year", 4) || !strncmp(w->w[i + 1], "yr", 2) ||
             word_in_list(w->w[i + 1], YEAR_TYPOS, sizeof YEAR_TYPOS / sizeof YEAR_TYPOS[0])) &&
            (!strcmp(w->w[i + 2], "old") || !strcmp(w->w[i + 2], "olds") ||
             !strcmp(w->w[i + 2], "young")); /* verse: "ten years young" */
        /* "aged 11", "age 9", "barely eleven", "canonically 13": the word before says it is an age
         */
        int prev_age =
            i > 0 && (!strcmp(w->w[i - 1], "aged") || !strcmp(w->w[i - 1], "age") ||
                      !strcmp(w->w[i - 1], "barely") || !strcmp(w->w[i - 1], "canonically") ||
                      /* Arabic "her age (is) 10", "his age" */
                      !strcmp(w->w[i - 1], "عمرها") || !strcmp(w->w[i - 1], "عمره"));
        /* an upper bound on an age: "under 12", "younger than 12", "unter 12", "menos de 12",
         * "moins de 12", "meno di 12", "младше 12" - unless a unit of measure follows ("under 12
         * minutes") */
        prev_age = prev_age || (under_bound(w, i) && !(i + 1 < n0 && measure_unit(w->w[i + 1])));
        /* an age something is turned to: "de-age her to about eleven", "age him down to 9" */
        prev_age = prev_age || (aged_to(w, i) && !(i + 1 < n0 && measure_unit(w->w[i + 1])));
        /* an estimate that stands alone, before punctuation or the end, says a person's age: "a
         * little cutie, about 8, no clothes", "etwa 9." ("about 8 people" counts people) */
        prev_age = prev_age || (estimate_before(w, i) && alone[i]);
        /* Russian puts the unit first in an estimate: "лет одиннадцати", "лет 10" (about 10
         * years old) - unless a unit of measure follows ("лет 5 месяцев") */
        prev_age =
            prev_age || (i > 0 && (!strcmp(w->w[i - 1], "лет") || !strcmp(w->w[i - 1], "года")) &&
                         !(i + 1 < n0 && measure_unit(w->w[i + 1])));
        /* a person's age told with a pronoun: "she is 12", "he's 13", "who just turned 11",
         * "sie ist zehn", "ей 11" - unless a unit follows ("she is 5 foot 10") */
        prev_age =
            prev_age ||
            ((pronoun_age(w, i) || looks_age(w, i) || person_age(w, i) || calque_age(w, i)) &&
             !(i + 1 < n0 && measure_unit(w->w[i + 1])));
        /* a span of time is no age: "hace dos años", "il y a deux ans", "vor zwei Jahren",
         * "due anni fa", "há dois anos", "два года назад", "for two years" */
        if (next_age && time_span(w, i)) next_age = 0;
        if ((end != t && *end) || next_age || next_year || prev_age)
            if (words_push(w, "ageunderadult")) return -1;
    }
    return 0;
}

/* AUTOMATIC1111's alternation, "[child|teen]", names each word in turn: a '|' inside square
 * brackets separates words (elsewhere it may be a letter in disguise, "chi|d"). In place. */
static void split_alternation(char *text) {
    int depth = 0;
    for (char *t = text; *t; t++) {
        if (*t == '[')
            depth++;
        else if (*t == ']' && depth > 0)
            depth--;
        else if (*t == '|' && depth > 0)
            *t = ' ';
    }
}

/* A copy of text whose negative sections read as negations (and whose leetspeak possessives,
 * "'5", read "'s"): after "Negative prompt:",
 * "negative:" or Midjourney's "--no", each comma-separated item until the section ends (a line
 * break, ';', the next "--" parameter or A1111's "Steps:") gets a "no " before it, so "Negative
 * prompt: nsfw, nude" is "no nsfw, no nude" (allowed phrases) and "--no clothes" is "no clothes"
 * (nudity); an emphasis weighted zero, "(nsfw:0)", is "(no nsfw)". malloc'd (NULL when out of
 * memory). */
static char *negate_sections(const char *text) {
    static const char *const MARKS[] = {"negative prompt:", "negative:", "--no "};
    size_t n = strlen(text);
    char *out = malloc(4 * n + 1), *o = out;
    if (!out) return NULL;
    int in = 0, item_start = 0;
    for (size_t i = 0; i < n;) {
        const char *t = text + i;
        if (in &&
            (*t == '\n' || *t == ';' || starts_ci(t, "steps:") || (t[0] == '-' && t[1] == '-')))
            in = 0;
        size_t mark = 0;
        for (size_t k = 0; k < sizeof MARKS / sizeof MARKS[0] && !mark; k++)
            if (starts_ci(t, MARKS[k]) && (i == 0 || !isalnum((unsigned char)t[-1])))
                mark = strlen(MARKS[k]);
        if (mark) {
            memcpy(o, t, mark);
            o += mark;
            i += mark;
            in = item_start = 1;
            continue;
        }
        if (*t == '(') { /* "(word:0)": weighted zero */
            const char *close = memchr(t, ')', n - i < 64 ? n - i : 64);
            const char *colon = close ? memchr(t, ':', (size_t)(close - t)) : NULL;
            if (colon && colon > t + 1 && strspn(colon + 1, "0.") == (size_t)(close - colon - 1) &&
                close > colon + 1) {
                memcpy(o, "(no ", 4);
                o += 4;
                memcpy(o, t + 1, (size_t)(colon - t - 1));
                o += colon - t - 1;
                *o++ = ')';
                i = (size_t)(close - text) + 1;
                continue;
            }
        }
        if (in && item_start && *t != ' ' && *t != ',') {
            memcpy(o, "no ", 3);
            o += 3;
            item_start = 0;
        }
        if (in && *t == ',') item_start = 1;
        /* a possessive in leetspeak, "dr1v3r'5", is "driver's" (a lone 5 is never read as a
         * letter) */
        if (*t == '\'' && i > 0 && isalnum((unsigned char)t[-1]) && t[1] == '5' &&
            !isalnum((unsigned char)t[2])) {
            memcpy(o, "'s", 2);
            o += 2;
            i += 2;
            continue;
        }
        *o++ = *t;
        i++;
    }
    *o = '\0';
    return out;
}

static int split_words(const char *text, words_t *w) {
    memset(w, 0, sizeof *w);
    int leet_words = 0; /* words in which leetspeak was decoded */
    char *plain = mod_unescape(text);
    char *neg = plain ? negate_sections(plain) : NULL;
    free(plain);
    if (neg) split_alternation(neg);
    char *camel = neg ? split_camel(neg) : NULL;
    free(neg);
    char *f = camel ? fold(camel) : NULL;
    free(camel);
    if (!f) return -1;
    /* gaps[k]: separators before word k in the folded text, so that a spelled-out word ends
     * where its letters' spacing changes ("n u d e   k i d s" is two words) */
    int *gaps = NULL;
    /* raw tokens, cut in place; sep: the separator that ended the previous token (overwritten
     * by its terminator), 0 at the start and end */
    char *p = f, sep = 0;
    for (;;) {
        /* the gap's length, plus 1000 when it holds white space ("s.e.x" is spaced alike;
         * "x g" after "s.e.x" is not) */
        int gap = sep != 0, spaced = sep == ' ';
        for (; *p == ' ' || *p == SEP_PUNCT; p++) {
            gap++;
            spaced |= *p == ' ';
        }
        if (!*p) break;
        if (spaced) gap += 1000;
        char *tok = p;
        while (*p && *p != ' ' && *p != SEP_PUNCT)
            p++;
        sep = *p;
        if (*p) *p++ = 0;
        size_t l = strlen(tok);
        int letters = 0, digits = 0;
        for (size_t i = 0; i < l; i++) {
            letters += is_alpha(tok[i]);
            digits += tok[i] >= '0' && tok[i] <= '9';
        }
        /* symbols at the edges are punctuation, not letters ("wow!", "*bold*"), except $ and @;
         * an asterisk inside a word masks a letter ("n*de": moderation.c reads it) */
        while (l && strchr("!|+*", tok[l - 1]))
            tok[--l] = 0;
        while (*tok && strchr("!|+*", *tok)) {
            tok++;
            l--;
        }
        if (!l) continue;
        int utf8 = 0;
        for (size_t i = 0; i < l; i++)
            utf8 |= (unsigned char)tok[i] >= 0x80;
        /* an age glued to its unit ("10yo", "13yrs", "14y", "12ans") is two words, the number
         * and the unit, for the age reading below; never leetspeak ("10yo" is not "ioyo") */
        size_t nd = 0;
        while (nd < l && tok[nd] >= '0' && tok[nd] <= '9')
            nd++;
        if (nd >= 1 && nd <= 2 && nd < l && glued_age_unit(tok + nd)) {
            char num[3] = {tok[0], nd == 2 ? tok[1] : 0, 0};
            if (push_word(w, &gaps, num, NULL, gap) || push_word(w, &gaps, tok + nd, NULL, 1)) {
                free(gaps);
                free(f);
                return -1;
            }
            continue;
        }
        /* a number glued to an ordinal ending ("7th", "5º" read "5o", "1er", "6e") is one word
         * for the school-year reading below; never leetspeak ("7th" is not "tth") */
        if (nd >= 1 && nd <= 2 && nd < l && ordinal_ending(tok, nd, tok + nd)) {
            if (push_word(w, &gaps, tok, NULL, gap)) {
                free(gaps);
                free(f);
                return -1;
            }
            continue;
        }
        if (letters) {
            int changed = 0;
            for (size_t i = 0; i < l; i++) {
                int c = leet(tok[i]);
                changed |= c != tok[i];
                tok[i] = (char)c;
            }
            leet_words += changed;
        } else if (!digits && !utf8)
            continue; /* lone symbols */
        char *alt = NULL, *cyr = NULL;
        if (utf8 && digits && cyrillic_leet(tok, &cyr)) {
            free(gaps);
            free(f);
            return -1;
        }
        if (cyr) tok = cyr; /* "д3в0чк4" is "девочка" */
        char *twin = NULL;
        if (utf8 && cyrillic_twins(tok, &twin)) {
            free(cyr);
            free(gaps);
            free(f);
            return -1;
        }
        if (twin) tok = twin; /* "пopнo" is "порно" */
        if (utf8 && script_fix(tok, &alt)) {
            free(twin);
            free(cyr);
            free(gaps);
            free(f);
            return -1;
        }
        int rc = push_word(w, &gaps, tok, alt, gap);
        free(alt);
        free(twin);
        free(cyr);
        if (rc) {
            free(gaps);
            free(f);
            return -1;
        }
    }
    free(f);
    /* in a prompt with Russian words, a word of Latin letters that all have Cyrillic twins
     * ("paca", "c") may be Russian written in them: its Russian reading is its second */
    int russian = 0;
    for (int i = 0; i < w->n && !russian; i++)
        for (const unsigned char *q = (const unsigned char *)w->w[i]; *q && !russian; q++)
            russian = *q == 0xd0 || *q == 0xd1;
    for (int i = 0; russian && i < w->n; i++) {
        const char *t = w->w[i];
        size_t k = 0;
        while (t[k] && cyrillic_twin(t[k]))
            k++;
        if (w->alt[i] || !k || t[k]) continue;
        char *ru = NULL;
        int rc = mapped_copy(t, cyrillic_twin, &ru) || words_set_alt(w, i, ru);
        free(ru);
        if (rc) {
            free(gaps);
            return -1;
        }
    }
    /* "13 y o" / "13 y.o.": keep the age marker from merging into a spelled-out word */
    for (int i = 0; i + 2 < w->n; i++)
        if (w->w[i][0] >= '0' && w->w[i][0] <= '9' && !strcmp(w->w[i + 1], "y") &&
            !strcmp(w->w[i + 2], "o")) {
            memmove(gaps + i + 2, gaps + i + 3, sizeof *gaps * (size_t)(w->n - i - 3));
            if (words_replace_range(w, i + 1, i + 3, "yo")) {
                free(gaps);
                return -1;
            }
        }
    /* runs of three or more one-letter words, spaced alike, are a spelled-out word; a lone
     * leetspeak digit counts as its letter inside a run of at least two real letters
     * ("p 0 r n") */
    for (int i = 0; i < w->n;) {
        int j = i, alpha = 0;
        while (j < w->n && strlen(w->w[j]) == 1 &&
               (is_alpha(w->w[j][0]) || is_alpha((char)leet(w->w[j][0]))) &&
               (j < i + 2 || gaps[j] == gaps[i + 1]))
            alpha += is_alpha(w->w[j++][0]);
        if (j - i >= 3 && alpha >= 2) {
            char joined[64] = "";
            for (int k = i; k < j && k - i < 63; k++)
                joined[k - i] = (char)leet(w->w[k][0]);
            joined[j - i < 63 ? j - i : 63] = 0;
            memmove(gaps + i + 1, gaps + j, sizeof *gaps * (size_t)(w->n - j));
            if (words_replace_range(w, i, j, joined)) {
                free(gaps);
                return -1;
            }
            /* an article spelled in the same run ("of a c h i l d"): the word without it is the
             * second reading */
            if ((joined[0] == 'a' || joined[0] == 'i') && strlen(joined) >= 4 &&
                words_set_alt(w, i, joined + 1)) {
                free(gaps);
                return -1;
            }
            i++;
        } else {
            i++; /* a run may start at the next word ("a s-n-a-k-e": "a" is spaced apart) */
        }
    }
    if (separable_verbs(w, gaps)) {
        free(gaps);
        return -1;
    }
    /* a number that stands alone before punctuation or the end ("about 8,"): what mark_ages
     * reads an estimate by */
    int n0 = w->n;
    unsigned char *alone = malloc(n0 > 0 ? (size_t)n0 : 1);
    if (!alone) {
        free(gaps);
        return -1;
    }
    for (int i = 0; i < n0; i++)
        alone[i] = i + 1 == n0 || gaps[i + 1] % 1000 >= 2;
    free(gaps);
    int rc = mark_ages(w, alone);
    free(alone);
    if (rc) return -1;
    /* in a prompt written in leetspeak, a lone 4 or 1 is the word "a" or "i" ("m4k3 4 b0mb");
     * ages were read above, so no number that could be one is lost */
    if (leet_words)
        for (int i = 0; i < n0; i++) {
            if (!strcmp(w->w[i], "4") && words_replace_range(w, i, i + 1, "a")) return -1;
            if (!strcmp(w->w[i], "1") && words_replace_range(w, i, i + 1, "i")) return -1;
        }
    return 0;
}

char *words_join(const words_t *w) {
    buf_t b = {0};
    for (int i = 0; i < w->n; i++) {
        if (i) buf_append(&b, " ", 1);
        buf_append(&b, w->w[i], strlen(w->w[i]));
        if (w->alt[i]) {
            buf_append(&b, "|", 1);
            buf_append(&b, w->alt[i], strlen(w->alt[i]));
        }
    }
    if (!b.data) buf_append(&b, "", 0);
    return (char *)b.data; /* the caller's */
}

char *mod_normalize(const char *text) {
    words_t w;
    if (words_split(text, &w)) return NULL;
    char *out = words_join(&w);
    words_free(&w);
    return out;
}

int words_split(const char *text, words_t *w) {
    if (!split_words(text, w)) return 0;
    words_free(w); /* no caller is left with half a list */
    return -1;
}
