/* moderation.c - rules parsing and prompt classification. */
#include "moderation/moderation.h"
#include "common/status.h"
#include "moderation/classifier.h"
#include "moderation/phrase_index.h"
#include "moderation/lang_words.h"
#include "moderation/stem.h"
#include "moderation/words.h"
#include <stdio.h>

#define CLS_MIN_WORDS 2 /* the classifier decides prompts of at least this many words */
/* below this many words a refusal on one head must hold with any one word left out (cls_robust) */
#define CLS_ROBUST_BELOW 6
/* the one-word check of a combine stops here (its cost grows with the square of the length; one
 * word cannot carry the average of that many) */
#define CLS_ROBUST_MAX 96
#include <stdlib.h>
#include <string.h>

#include "moderation/english_words.h"
#include "moderation/russian_words.h"
#include "moderation_rules.inc" /* MODERATION_RULES: moderation/rules.txt, generated at build */

#define MAX_CATS 16
#define MAX_GROUPS 1024
#define MAX_COMBINES 1024
#define MAX_NEAR_GAP 8 /* "near": at most this many words between one group's word and the next */
#define STR_(x) #x
#define STR(x) STR_(x)

typedef struct {
    int cat; /* category index, or group index for group phrases */
    int unless; /* terms: a group whose presence in the prompt voids this term ("soft"), or -1 */
    int lang; /* mod_lang_t the phrase is written in */
    words_t words;
    char **stems; /* stems[k]: word k's stem in lang, or NULL (matched as written only) */
    /* "~": counts only in a prompt that shows lang (German "Kind" is English "kind") */
    unsigned char bound;
    unsigned char exact; /* "=": matched as written only */
    /* a match shows the prompt is in lang: a phrase of another language than English, not
     * bound, whose first word no English rule uses ("nackt"; not "sexy", which both list) */
    unsigned char shows_lang;
} phrase_t;

typedef struct {
    phrase_t *p;
    int n, cap;
} phrases_t;

#define MAX_GATES 8
#define MAX_VETOES 4

typedef struct {
    char name[32];
    int always;
    /* "gate": the classifier may refuse this category only when a word of one of these groups
     * occurs (not made harmless by an allow); ngates 0: always */
    int gates[MAX_GATES], ngates;
    float gate_open; /* a classifier score at or above which the gate does not apply (0: none) */
    /* "veto": the classifier may not name this category when a word of group veto[k] occurs
     * and none of group veto_unless[k] (an adult named as such is no minor) */
    int veto[MAX_VETOES], veto_unless[MAX_VETOES], nvetoes;
} category_t;

struct moderation {
    int version;
    category_t cats[MAX_CATS];
    int ncats;
    char groups[MAX_GROUPS][32];
    int group_cat[MAX_GROUPS]; /* "include": the group also holds every term of this category, or -1 */
    /* "unscored": the classifier does not read the group's words */
    unsigned char unscored[MAX_GROUPS];
    /* "lexicon": a large word list (tools/wordnet_violence.py) matched only where a rule names the
     * group: its words are no parts of glued words, hashtags or misspellings, and do not count
     * as English when a word of another language shows that language */
    unsigned char lexicon[MAX_GROUPS];
    int ngroups;
    int last_group; /* the group find_group found last (loading reads a group's lines in a row) */
    phrases_t terms, allows, members; /* members: .cat = group index */
    struct {
        int cat, g[4], ng; /* refused when a word of each of the ng groups occurs */
        /* "near": -1 anywhere in the prompt (combine), else the groups' words in their order with
         * at most gap words between one and the next ("me" + "pendre": "je vais me pendre") */
        int gap;
        int unless; /* a group whose word voids the rule ("unless"), or -1 */
        /* "span": the group this near rule puts in the prompt (its cat is -1), or -1 */
        int target;
    } combine[MAX_COMBINES];
    int ncombine;
    classifier_t *cls; /* the learned second stage, or NULL */
    /* the one-word terms and group members in Latin letters, sorted: the parts a glued
     * compound ("childporn") is split into; pointers into the phrases (owned there) */
    const char **vocab;
    int nvocab;
    /* every word of every rule phrase, sorted: the pieces a glued hashtag is read as */
    const char **allwords;
    int nallwords;
    /* the terms (kind 0), group members (1) and allows (2) by their first word: id = kind <<
     * ID_KIND_SHIFT | index */
    phrase_index_t *index;
};

#define ID_KIND_SHIFT 24

static void phrases_free(phrases_t *p) {
    for (int i = 0; i < p->n; i++) {
        for (int k = 0; p->p[i].stems && k < p->p[i].words.n; k++) free(p->p[i].stems[k]);
        free(p->p[i].stems);
        words_free(&p->p[i].words);
    }
    free(p->p);
}

void mod_free(moderation_t *m) {
    if (!m) return;
    phrases_free(&m->terms);
    phrases_free(&m->allows);
    phrases_free(&m->members);
    free(m->vocab);
    free(m->allwords);
    pidx_free(m->index);
    cls_free(m->cls);
    free(m);
}

int mod_version(const moderation_t *m) { return m->version; }

static int add_phrase(phrases_t *p, int idx, int lang, stemmers_t *st, const char *text) {
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        phrase_t *q = realloc(p->p, sizeof *q * (size_t)cap);
        if (!q) return IMG_ENOMEM;
        p->p = q;
        p->cap = cap;
    }
    phrase_t *ph = &p->p[p->n];
    memset(ph, 0, sizeof *ph);
    ph->cat = idx;
    ph->unless = -1;
    ph->lang = lang;
    ph->bound = text[0] == '~'; /* "~word": only in a prompt of its language */
    text += ph->bound;
    int exact = text[0] == '='; /* "=word": matched as written, never by stem */
    text += exact;
    ph->exact = (unsigned char)exact;
    if (words_split(text, &ph->words)) return IMG_ENOMEM;
    if (ph->words.n == 0) {
        words_free(&ph->words);
        return IMG_EFORMAT;
    }
    p->n++; /* owned by the list from here: freed with it on any failure below */
    ph->stems = calloc((size_t)ph->words.n, sizeof *ph->stems);
    if (!ph->stems) return IMG_ENOMEM;
    for (int k = 0; k < ph->words.n; k++) {
        char stem[256];
        int n = exact ? 0 : stem_word(st, lang, ph->words.w[k], stem, sizeof stem);
        if (n < 0) return IMG_ENOMEM;
        if (n > 0 && !(ph->stems[k] = strdup(stem))) return IMG_ENOMEM;
    }
    return IMG_OK;
}

static int find_cat(const moderation_t *m, const char *name) {
    for (int i = 0; i < m->ncats; i++)
        if (!strcmp(m->cats[i].name, name)) return i;
    return -1;
}

static int find_group(moderation_t *m, const char *name, int create) {
    /* a group's lines come one after another: the last group found is tried first */
    if (m->last_group < m->ngroups && !strcmp(m->groups[m->last_group], name)) return m->last_group;
    for (int i = 0; i < m->ngroups; i++)
        if (!strcmp(m->groups[i], name)) return m->last_group = i;
    if (!create || m->ngroups == MAX_GROUPS || strlen(name) >= 32) return -1;
    strcpy(m->groups[m->ngroups], name);
    m->group_cat[m->ngroups] = -1;
    return m->last_group = m->ngroups++;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether s is min or more letters a-z and nothing else. */
static int latin_word(const char *s, size_t min) {
    size_t n = 0;
    for (; s[n]; n++)
        if (s[n] < 'a' || s[n] > 'z') return 0;
    return n >= min;
}

/* Whether phrase k of list l (terms, members, allows) belongs to a lexicon group. */
static int in_lexicon(const moderation_t *m, int l, int k) {
    return l == 1 && m->lexicon[m->members.p[k].cat];
}

/* m->vocab: every one-word term and group member of three or more Latin letters, lexicons left
 * out. */
static int build_vocab(moderation_t *m) {
    const phrases_t *lists[] = {&m->terms, &m->members};
    int n = 0;
    m->vocab = malloc(sizeof *m->vocab * (size_t)(m->terms.n + m->members.n + 1)); /* owned by m */
    if (!m->vocab) return IMG_ENOMEM;
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < lists[l]->n; k++)
            if (lists[l]->p[k].words.n == 1 && latin_word(lists[l]->p[k].words.w[0], 3) &&
                !in_lexicon(m, l, k))
                m->vocab[n++] = lists[l]->p[k].words.w[0];
    qsort(m->vocab, (size_t)n, sizeof *m->vocab, cmp_str);
    int u = 0;
    for (int k = 0; k < n; k++)
        if (!u || strcmp(m->vocab[u - 1], m->vocab[k])) m->vocab[u++] = m->vocab[k];
    m->nvocab = u;
    /* all words of terms, group members and allows, any script, lexicons left out */
    const phrases_t *all[] = {&m->terms, &m->members, &m->allows};
    size_t total = 0;
    for (int l = 0; l < 3; l++)
        for (int k = 0; k < all[l]->n; k++) total += (size_t)all[l]->p[k].words.n;
    m->allwords = malloc(sizeof *m->allwords * (total + 1)); /* owned by m */
    if (!m->allwords) return IMG_ENOMEM;
    n = 0;
    for (int l = 0; l < 3; l++)
        for (int k = 0; k < all[l]->n; k++)
            for (int j = 0; j < all[l]->p[k].words.n && !in_lexicon(m, l, k); j++)
                m->allwords[n++] = all[l]->p[k].words.w[j];
    qsort(m->allwords, (size_t)n, sizeof *m->allwords, cmp_str);
    u = 0;
    for (int k = 0; k < n; k++)
        if (!u || strcmp(m->allwords[u - 1], m->allwords[k])) m->allwords[u++] = m->allwords[k];
    m->nallwords = u;
    return IMG_OK;
}

/* Marks the phrases whose match shows the prompt's language (phrase_t.shows_lang): not English,
 * not bound, and a first word that no English phrase uses. */
static int mark_shows_lang(moderation_t *m) {
    const phrases_t *all[] = {&m->terms, &m->members, &m->allows};
    size_t total = 0;
    for (int l = 0; l < 3; l++)
        for (int k = 0; k < all[l]->n; k++)
            total += (size_t)all[l]->p[k].words.n;
    const char **en = malloc(sizeof *en * (total + 1)); /* views into the phrases; freed here */
    if (!en) return IMG_ENOMEM;
    size_t nen = 0;
    for (int l = 0; l < 3; l++)
        for (int k = 0; k < all[l]->n; k++)
            if (all[l]->p[k].lang == LANG_EN && !in_lexicon(m, l, k))
                for (int j = 0; j < all[l]->p[k].words.n; j++)
                    en[nen++] = all[l]->p[k].words.w[j];
    qsort(en, nen, sizeof *en, cmp_str);
    phrases_t *marked[] = {&m->terms, &m->members};
    /* every inflection and every other use of a bound word is bound too ("Kinder" and "Kindes"
     * share the stem of "~Kind", so English "kind" matches them as well) */
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < marked[l]->n; k++) {
            const phrase_t *b = &marked[l]->p[k];
            if (!b->bound || b->words.n != 1) continue;
            for (int l2 = 0; l2 < 2; l2++)
                for (int j = 0; j < marked[l2]->n; j++) {
                    phrase_t *q = &marked[l2]->p[j];
                    if (q->lang != b->lang || q->words.n != 1) continue;
                    if (!strcmp(q->words.w[0], b->words.w[0]) ||
                        (q->stems[0] && b->stems[0] && !strcmp(q->stems[0], b->stems[0])))
                        q->bound = 1;
                }
        }
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < marked[l]->n; k++) {
            phrase_t *ph = &marked[l]->p[k];
            const char *first = ph->words.w[0];
            ph->shows_lang =
                ph->lang != LANG_EN && !ph->bound && !bsearch(&first, en, nen, sizeof *en, cmp_str);
        }
    free(en);
    return IMG_OK;
}

static int utf8_chars(const char *s, size_t n) {
    int c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

/* The index keys of a word: as written ("x"), squeezed ("q"), and its stem in lang ("s" and the
 * language's number) when it has one; key must hold 3 + 256 bytes. */
static void key_exact(char *key, const char *w) { snprintf(key, 260, "x%.256s", w); }
static void key_squeezed(char *key, const char *w) {
    key[0] = 'q';
    word_squeeze(w, key + 1, 128);
}
static void key_stem(char *key, int lang, const char *stem) { snprintf(key, 260, "s%c%.256s", 'a' + lang, stem); }

/* Every phrase under the keys of its first word. */
static int build_index(moderation_t *m) {
    if (pidx_new(&m->index)) return IMG_ENOMEM;
    const phrases_t *lists[3] = {&m->terms, &m->members, &m->allows};
    char key[260];
    for (int kind = 0; kind < 3; kind++)
        for (int i = 0; i < lists[kind]->n; i++) {
            const phrase_t *ph = &lists[kind]->p[i];
            int id = kind << ID_KIND_SHIFT | i;
            key_exact(key, ph->words.w[0]);
            if (pidx_add(m->index, key, id)) return IMG_ENOMEM;
            key_squeezed(key, ph->words.w[0]);
            if (pidx_add(m->index, key, id)) return IMG_ENOMEM;
            if (ph->stems[0]) {
                key_stem(key, ph->lang, ph->stems[0]);
                if (pidx_add(m->index, key, id)) return IMG_ENOMEM;
            }
        }
    return IMG_OK;
}

static int in_allwords(const moderation_t *m, const char *s, size_t n) {
    char piece[128];
    if (n >= sizeof piece) return 0;
    memcpy(piece, s, n);
    piece[n] = 0;
    const char *key = piece;
    return bsearch(&key, m->allwords, (size_t)m->nallwords, sizeof *m->allwords, cmp_str) != NULL;
}

/* A long word glued from several rule words - a hashtag such as "#howtomakemeth",
 * "#каксделатьбомбу", "#евреикрысы" - is read as those words: the fewest pieces that are all
 * words of the rules' phrases, each of two or more letters; with two pieces, both of four or
 * more ("therapists" does not become "the rapists"), with more, at most half of them under four
 * ("pedometer" does not become "pedo me ter"). Words of nine letters or more only. */
static int split_hashtags(const moderation_t *m, words_t *w) {
    for (int i = 0; i < w->n; i++) {
        const char *t = w->w[i];
        size_t len = strlen(t);
        int chars = utf8_chars(t, len);
        /* an English word is read as itself ("everybody" is no "every body") */
        if (chars < 9 || len >= 120 || w->alt[i] || in_allwords(m, t, len) || english_word(t, len))
            continue;
        /* best[k]: fewest pieces covering t[0..k), from[k] where its last piece starts */
        int best[121], from[121];
        for (size_t k = 0; k <= len; k++) best[k] = -1;
        best[0] = 0;
        for (size_t k = 0; k < len; k++) {
            if (best[k] < 0 || ((unsigned char)t[k] & 0xc0) == 0x80) continue;
            for (size_t e = k + 1; e <= len; e++) {
                if (e < len && ((unsigned char)t[e] & 0xc0) == 0x80) continue;
                if (utf8_chars(t + k, e - k) < 2 || !in_allwords(m, t + k, e - k)) continue;
                if (best[e] < 0 || best[k] + 1 < best[e]) {
                    best[e] = best[k] + 1;
                    from[e] = (int)k;
                }
            }
        }
        if (best[len] < 2) continue;
        int cuts[121], nc = 0, small = 0;
        for (int e = (int)len; e > 0; e = from[e]) {
            cuts[nc++] = e;
            small += utf8_chars(t + from[e], (size_t)(e - from[e])) < 4;
        }
        /* short pieces are what ordinary words are made of ("pedometer" is no "pedo me ter",
         * "outlasted" no "out last ed"): at most half of the pieces, none of two */
        if ((nc == 2 && small) || 2 * small > nc) continue;
        /* the pieces follow the word, which stays: an inflected rule word that happens to be
         * glued from others ("overdoses": over + doses) still matches as itself */
        char *copy = strdup(t);
        if (!copy) return IMG_ENOMEM;
        int start = 0, at = i + 1, rc = IMG_OK;
        for (int c = nc - 1; c >= 0 && !rc; c--) {
            char piece[128];
            memcpy(piece, copy + start, (size_t)(cuts[c] - start));
            piece[cuts[c] - start] = 0;
            rc = words_insert(w, at++, piece);
            start = cuts[c];
        }
        free(copy);
        if (rc) return IMG_ENOMEM;
        i = at - 1;
    }
    return IMG_OK;
}

static int in_vocab(const moderation_t *m, const char *s) {
    return bsearch(&s, m->vocab, (size_t)m->nvocab, sizeof *m->vocab, cmp_str) != NULL;
}

/* A word glued from two rule words ("childporn", "nudekids", "kinderpornos", and
 * "c h i l d p o r n" once its letters are joined) is read as the two: both parts must be
 * one-word rules of three or more letters (the second may end in a plural s), so "therapist"
 * stays whole ("the" is no rule), and no word a rule phrase uses is split. */
static int split_compounds(const moderation_t *m, words_t *w) {
    for (int i = 0; i < w->n; i++) {
        const char *t = w->w[i];
        size_t len = strlen(t);
        /* a word a rule phrase uses is taken as written ("Drogengeld" of "Geldwäsche von
         * Drogengeld" is not "Drogen Geld") */
        if (len < 6 || len >= 64 || !latin_word(t, 6) || in_vocab(m, t) || in_allwords(m, t, len) ||
            english_word(t, len)) /* "shortcuts" is no "short cuts" */
            continue;
        for (size_t k = 3; k + 3 <= len; k++) {
            char left[64], right[64];
            memcpy(left, t, k);
            left[k] = 0;
            if (!in_vocab(m, left)) continue;
            memcpy(right, t + k, len - k + 1);
            /* the second part may carry a plural ending ("kinderpornos": kinder + porno) */
            size_t rl = len - k;
            if (!in_vocab(m, right) && rl > 4 && right[rl - 1] == 's') right[rl - 1] = 0;
            if (!in_vocab(m, right)) continue;
            if (words_replace_range(w, i, i + 1, left) || words_insert(w, i + 1, right))
                return IMG_ENOMEM;
            i++;
            break;
        }
    }
    return IMG_OK;
}

/* Whether s is all Cyrillic letters (two bytes each, U+0430-U+044F) and at least min of them. */
static int cyrillic_word(const char *s, size_t min) {
    size_t n = 0;
    for (; s[0]; s += 2, n++) {
        unsigned char a = (unsigned char)s[0], b = (unsigned char)s[1];
        if (!((a == 0xd0 && b >= 0xb0 && b <= 0xbf) || (a == 0xd1 && b >= 0x80 && b <= 0x8f)))
            return 0;
    }
    return n >= min;
}

/* A misspelling as people type it, read as the rule word it misses by one letter, the word as
 * written kept as its second reading: in Latin letters a letter typed twice ("cortanndo") in a
 * word that is no English word; in Russian, the vowels that sound alike unstressed, о written а
 * and е written и or я ("галая", "девачка", "эротека"). Five letters and up, one edit, and the
 * result must be a one-word rule (Latin) or a word of the rules' phrases (Russian). A letter left
 * out is not read back: other languages' own words are one letter from rule words too often
 * (Spanish "cocina" is "cocaina" without its a, Italian "eroica" "erotica" without its t). A
 * Russian word form is taken as written: "песка" (sand) is no "писька", "лопает" no "лапает". */
static int fix_misspellings(const moderation_t *m, words_t *w) {
    static const char *const SWAPS[][2] = {
        {"а", "о"}, {"о", "а"}, {"и", "е"}, {"е", "и"}, {"я", "е"}};
    for (int i = 0; i < w->n; i++) {
        const char *t = w->w[i];
        size_t len = strlen(t);
        if (w->alt[i] || len >= 62 || in_allwords(m, t, len)) continue;
        char v[64];
        int found = 0;
        if (latin_word(t, 5) && !in_vocab(m, t) && !english_word(t, len)) {
            for (size_t k = 0; k + 1 < len && !found; k++) /* a letter typed twice at k */
                if (t[k] == t[k + 1] && (k + 2 >= len || t[k + 2] != t[k])) {
                    memcpy(v, t, k);
                    memcpy(v + k, t + k + 1, len - k);
                    found = in_vocab(m, v);
                }
        } else if (cyrillic_word(t, 5) && !russian_word(t, len)) { /* "песка" is sand */
            for (size_t k = 0; k + 1 < len && !found; k += 2)
                for (size_t s = 0; s < sizeof SWAPS / sizeof SWAPS[0] && !found; s++)
                    if (!memcmp(t + k, SWAPS[s][0], 2)) {
                        memcpy(v, t, len + 1);
                        memcpy(v + k, SWAPS[s][1], 2);
                        found = in_allwords(m, v, len);
                    }
        }
        if (found && words_reread(w, i, v)) return IMG_ENOMEM;
    }
    return IMG_OK;
}

/* English typed as it is spoken drops the g of -ing ("touchin", "stabbin'", "gettin"): a Latin
 * word ending in "in" that is no English word and no rule word, whose -ing form is an English
 * word, is read as that form, the word as written kept as its second reading. Five letters and up,
 * as the list is ("ruin" is no "ruing"); a word of another language in -in stays as written
 * unless a g makes an English word of it. */
static int fix_dropped_g(const moderation_t *m, words_t *w) {
    for (int i = 0; i < w->n; i++) {
        const char *t = w->w[i];
        size_t len = strlen(t);
        if (w->alt[i] || len < 5 || len >= 63 || strcmp(t + len - 2, "in") || !latin_word(t, 5) ||
            in_vocab(m, t) || in_allwords(m, t, len) || english_word(t, len))
            continue;
        char v[64];
        memcpy(v, t, len);
        v[len] = 'g';
        v[len + 1] = 0;
        if (english_word(v, len + 1) && words_reread(w, i, v)) return IMG_ENOMEM;
    }
    return IMG_OK;
}

/* A word of five or more letters that is a one-word rule with two neighbouring letters swapped
 * ("chlid", "pronography") is read as that rule word, the word as written kept as its second
 * reading. Five letters and up, and only a swap: a shorter word or another edit meets too many
 * ordinary words. */
static int fix_transpositions(const moderation_t *m, words_t *w) {
    for (int i = 0; i < w->n; i++) {
        const char *t = w->w[i];
        size_t len = strlen(t);
        /* a word any rule phrase uses is taken as written ("sesso" of "sesso esplicito" is not
         * a swapped "sesos") */
        if (len < 5 || len >= 64 || w->alt[i] || !latin_word(t, 5) || in_vocab(m, t) ||
            in_allwords(m, t, len) || english_word(t, len)) /* "public" is no swapped word */
            continue;
        char v[64];
        memcpy(v, t, len + 1);
        /* not the first two letters: typing slips inside a word, and a name read with its first
         * two letters swapped became a rule word ("George" as French "égorge") */
        for (size_t k = 1; k + 1 < len; k++) {
            if (v[k] == v[k + 1]) continue;
            char c = v[k];
            v[k] = v[k + 1];
            v[k + 1] = c;
            if (in_vocab(m, v)) {
                if (words_reread(w, i, v)) return IMG_ENOMEM;
                break;
            }
            v[k + 1] = v[k];
            v[k] = c;
        }
    }
    return IMG_OK;
}

/* 1 when t (with '*' for masked letters) spells v letter for letter. */
static int mask_matches(const char *t, const char *v) {
    for (; *t && *v; t++, v++)
        if (*t != *v && !(*t == '*' && *v >= 'a' && *v <= 'z')) return 0;
    return !*t && !*v;
}

/* A word whose letters are masked by asterisks ("n*de", "p**n", "ch*ld") is read as the first
 * one-word rule it spells letter for letter, the word as written kept as its second reading:
 * censoring a letter does not hide the word. At least two real letters and no more masks than
 * letters. */
static int fix_masks(const moderation_t *m, words_t *w) {
    for (int i = 0; i < w->n; i++) {
        const char *t = w->w[i];
        size_t len = strlen(t);
        int stars = 0, letters = 0;
        for (size_t k = 0; k < len; k++) {
            stars += t[k] == '*';
            letters += t[k] >= 'a' && t[k] <= 'z';
        }
        if (!stars || letters < 2 || stars > letters || len >= 64 || w->alt[i]) continue;
        /* the word as masked, or its plural's singular ("f*ggots": the rule word "faggot") */
        size_t stem_len = len > 3 && t[len - 1] == 's' ? len - 1 : len;
        for (int v = 0; v < m->nvocab; v++) {
            size_t vl = strlen(m->vocab[v]);
            char masked[64];
            memcpy(masked, t, len + 1);
            if (vl == stem_len && vl < len)
                masked[vl] = 0;
            else if (vl != len)
                continue;
            if (!mask_matches(masked, m->vocab[v])) continue;
            char read[64];
            snprintf(read, sizeof read, "%s%s", m->vocab[v], vl < len ? "s" : "");
            if (words_reread(w, i, read)) return IMG_ENOMEM;
            break;
        }
    }
    return IMG_OK;
}

/* Short words that a stray space could leave beside a fragment: a fragment beside one of these is
 * read as written ("a nude" is not "anude"). */
static int common_short(const char *s) {
    static const char *const SHORT[] = {
        "a",  "i",  "an", "in", "on", "at", "to", "of", "is", "it", "be", "by", "or", "we", "he",
        "me", "my", "no", "so", "up", "us", "do", "go", "as", "am", "if", "ok", "oh", "hi", "el",
        "la", "le", "de", "en", "un", "et", "y",  "o",  "e",  "da", "di", "im", "zu", "und"};
    return word_in_list(s, SHORT, sizeof SHORT / sizeof SHORT[0]);
}

/* A rule word broken by a stray space ("chi ld", "p orn", "nud e") is read as the word as well:
 * two neighbouring fragments of Latin letters, one of them one or two letters long and no
 * ordinary short word, neither a rule word, joined into a one-word rule of four letters or more.
 * The joined word is added after the prompt's words (the two stay, so no phrase across them is
 * broken). */
static int join_fragments(const moderation_t *m, words_t *w) {
    for (int i = 0; i + 1 < w->n; i++) {
        const char *a = w->w[i], *b = w->w[i + 1];
        size_t la = strlen(a), lb = strlen(b);
        if (la + lb < 4 || la + lb >= 64 || (la > 2 && lb > 2) || !latin_word(a, 1) ||
            !latin_word(b, 1))
            continue;
        if (common_short(la <= 2 ? a : b) || in_vocab(m, a) || in_vocab(m, b)) continue;
        char joined[64];
        memcpy(joined, a, la);
        memcpy(joined + la, b, lb + 1);
        if (!in_vocab(m, joined)) continue;
        if (words_push(w, joined)) return IMG_ENOMEM;
        i++;
    }
    return IMG_OK;
}

/* Whether word t, read backwards into r (64 bytes), is a one-word rule: a Latin word of four
 * letters or more that is no rule word as written. */
static int reversed_rule(const moderation_t *m, const char *t, char *r) {
    size_t len = strlen(t);
    if (len < 4 || len >= 64 || !latin_word(t, 4) || in_vocab(m, t)) return 0;
    for (size_t k = 0; k < len; k++)
        r[k] = t[len - 1 - k];
    r[len] = 0;
    return in_vocab(m, r);
}

/* A prompt written backwards ("dlihc dekan"): when two or more of its words are one-word rules
 * read backwards (reversed_rule), their reversals are added after the prompt's words. One word
 * alone is chance ("star" is "rats" backwards). */
static int read_reversed(const moderation_t *m, words_t *w) {
    char r[64];
    int hits = 0;
    for (int i = 0; i < w->n && hits < 2; i++)
        hits += reversed_rule(m, w->w[i], r);
    for (int i = 0, n = w->n; hits >= 2 && i < n; i++)
        if (reversed_rule(m, w->w[i], r) && words_push(w, r)) return IMG_ENOMEM;
    return IMG_OK;
}

/* Whether t is a shorthand of chat that has no vowel ("ppl", "pls"): the word it stands for is
 * known, so it is not read as the rule words it is the consonants of ("ppl" is no "pupil"). */
static int chat_shorthand(const char *t) {
    static const char *const SHORT[] = {"ppl", "pls", "plz", "thx", "thnx", "smth",
                                        "sth", "msg", "pcs", "pts", "hrs",  "bff",
                                        "brb", "btw", "tbh", "lmk", "nvm",  "smh"};
    return word_in_list(t, SHORT, sizeof SHORT / sizeof SHORT[0]);
}

/* A word written without its vowels ("nkd grl", "wrsts") is also read as the one-word rules it
 * is the consonants of (the same first letter; at most three, all of them: "nkd" is "naked" and
 * its misspellings), the readings added after the prompt's words. Words of three letters or more
 * with no vowel at all and no letter three times ("sss'est" is a stretched "s'est") only: "nsfw"
 * or "rgb" are the consonants of no rule word. */
static int read_disemvoweled(const moderation_t *m, words_t *w) {
    for (int i = 0, n = w->n; i < n; i++) {
        const char *t = w->w[i];
        size_t len = strlen(t);
        if (len < 3 || len >= 32 || !latin_word(t, 3) || strpbrk(t, "aeiouy") || in_vocab(m, t) ||
            word_has_triple(t) || chat_shorthand(t))
            continue;
        const char *found[3];
        int nf = 0;
        for (int v = 0; v < m->nvocab && nf < 3; v++) {
            const char *c = m->vocab[v];
            if (c[0] != t[0] || strlen(c) == len) continue;
            size_t k = 0;
            for (const char *q = c; *q && k <= len; q++)
                if (!strchr("aeiouy", *q)) k = k < len && *q == t[k] ? k + 1 : len + 1;
            if (k == len) found[nf++] = c;
        }
        for (int f = 0; f < nf; f++)
            if (words_push(w, found[f])) return IMG_ENOMEM;
    }
    return IMG_OK;
}

/* A prompt's words as the rules and the classifier read them: normalised, glued compounds split,
 * swapped letters and masked letters read as the rule word they spell. w is freed on failure. */
static int read_words(const moderation_t *m, const char *prompt, words_t *w) {
    if (words_split(prompt, w) || split_compounds(m, w) || split_hashtags(m, w) ||
        fix_transpositions(m, w) || fix_misspellings(m, w) || fix_dropped_g(m, w) ||
        fix_masks(m, w) || join_fragments(m, w) || read_reversed(m, w) || read_disemvoweled(m, w)) {
        words_free(w);
        return IMG_ENOMEM;
    }
    return IMG_OK;
}

int mod_load(const char *text, moderation_t **out, char *err, size_t errlen) {
    moderation_t *m = calloc(1, sizeof *m);
    char *copy = strdup(text);
    stemmers_t *st = NULL;
    if (!m || !copy || stemmers_open(&st)) {
        snprintf(err, errlen, "moderation rules: out of memory");
        free(m);
        free(copy);
        return IMG_ENOMEM;
    }
    int rc = IMG_OK, lineno = 0, lang = LANG_EN;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        while (*line == ' ' || *line == '\t') line++;
        if (!*line || *line == '#') continue;
        char kw[16], a[64], b[64], c[64];
        int off = 0;
        if (sscanf(line, "%15s %n", kw, &off) != 1) continue;
        const char *rest = line + off;
        if (!strcmp(kw, "version")) {
            m->version = atoi(rest);
        } else if (!strcmp(kw, "lang")) {
            if (sscanf(rest, "%63s", a) != 1 || (lang = stem_lang_parse(a)) < 0) rc = IMG_EFORMAT;
        } else if (!strcmp(kw, "category")) {
            if (sscanf(rest, "%63s %63s", a, b) != 2 || m->ncats == MAX_CATS || strlen(a) >= 32 ||
                (strcmp(b, "always") && strcmp(b, "auto")))
                rc = IMG_EFORMAT;
            else {
                strcpy(m->cats[m->ncats].name, a);
                m->cats[m->ncats++].always = !strcmp(b, "always");
            }
        } else if (!strcmp(kw, "term") || !strcmp(kw, "group")) {
            int n2 = 0;
            if (sscanf(rest, "%63s %n", a, &n2) != 1 || !rest[n2]) {
                rc = IMG_EFORMAT;
            } else if (!strcmp(kw, "term")) {
                int cat = find_cat(m, a);
                rc = cat < 0 ? IMG_EFORMAT : add_phrase(&m->terms, cat, lang, st, rest + n2);
            } else {
                int g = find_group(m, a, 1);
                rc = g < 0 ? IMG_EFORMAT : add_phrase(&m->members, g, lang, st, rest + n2);
            }
        } else if (!strcmp(kw, "soft")) { /* soft CATEGORY GROUP phrase */
            int n2 = 0, cat, g;
            if (sscanf(rest, "%63s %63s %n", a, b, &n2) != 2 || !rest[n2] || (cat = find_cat(m, a)) < 0 ||
                (g = find_group(m, b, 1)) < 0) {
                rc = IMG_EFORMAT;
            } else {
                rc = add_phrase(&m->terms, cat, lang, st, rest + n2);
                if (!rc) m->terms.p[m->terms.n - 1].unless = g;
            }
        } else if (!strcmp(kw, "include")) { /* include GROUP CATEGORY */
            int g, cat;
            if (sscanf(rest, "%63s %63s", a, b) != 2 || (g = find_group(m, a, 1)) < 0 ||
                (cat = find_cat(m, b)) < 0)
                rc = IMG_EFORMAT;
            else
                m->group_cat[g] = cat;
        } else if (!strcmp(kw, "unscored") || !strcmp(kw, "lexicon")) { /* unscored|lexicon GROUP */
            char extra[2];
            int g;
            if (sscanf(rest, "%63s %1s", a, extra) != 1 || (g = find_group(m, a, 0)) < 0)
                rc = IMG_EFORMAT;
            else
                (kw[0] == 'u' ? m->unscored : m->lexicon)[g] = 1;
        } else if (!strcmp(kw, "allow")) {
            rc = add_phrase(&m->allows, -1, lang, st, rest);
        } else if (!strcmp(kw, "gate")) {
            char gname[64];
            int cat, used = 0, at = 0;
            float above = 0;
            if (sscanf(rest, "%63s%n", a, &used) != 1 || (cat = find_cat(m, a)) < 0) {
                rc = IMG_EFORMAT;
            } else {
                at = used;
                if (sscanf(rest + at, " %f%n", &above, &used) == 1) { /* an optional confidence */
                    if (!(above > 0 && above <= 1)) rc = IMG_EFORMAT;
                    m->cats[cat].gate_open = above;
                    at += used;
                }
                while (!rc && sscanf(rest + at, "%63s%n", gname, &used) == 1) {
                    int g = find_group(m, gname, 0);
                    if (g < 0 || m->cats[cat].ngates == MAX_GATES) rc = IMG_EFORMAT;
                    else m->cats[cat].gates[m->cats[cat].ngates++] = g;
                    at += used;
                }
                if (!rc && !m->cats[cat].ngates) rc = IMG_EFORMAT;
            }
        } else if (!strcmp(kw, "veto")) { /* veto CATEGORY GROUP UNLESS_GROUP */
            char extra[2];
            int cat;
            category_t *k = NULL;
            if (sscanf(rest, "%63s %63s %63s %1s", a, b, c, extra) != 3 || (cat = find_cat(m, a)) < 0 ||
                (k = &m->cats[cat])->nvetoes == MAX_VETOES || (k->veto[k->nvetoes] = find_group(m, b, 0)) < 0 ||
                (k->veto_unless[k->nvetoes] = find_group(m, c, 0)) < 0)
                rc = IMG_EFORMAT;
            else
                k->nvetoes++;
        } else if (!strcmp(kw, "combine") || !strcmp(kw, "near") || !strcmp(kw, "span")) {
            /* combine CATEGORY GROUP_A GROUP_B [GROUP_C [GROUP_D]] [unless GROUP];
             * near CATEGORY GAP GROUP_A GROUP_B [GROUP_C [GROUP_D]] [unless GROUP];
             * span GROUP GAP GROUP_A GROUP_B [GROUP_C [GROUP_D]] [unless GROUP] */
            char tok[9][64], extra[2];
            int nt = 0, used = 0, at = 0;
            while (nt < 9 && sscanf(rest + at, "%63s%n", tok[nt], &used) == 1) {
                nt++;
                at += used;
            }
            int near = kw[0] != 'c', first = near ? 2 : 1, last = nt, unless = -1, gap = -1,
                cat = -1, target = -1;
            if (sscanf(rest + at, "%1s", extra) == 1) rc = IMG_EFORMAT; /* a tenth word */
            if (!rc && nt >= 2 && !strcmp(tok[nt - 2], "unless")) {
                last = nt - 2;
                if ((unless = find_group(m, tok[nt - 1], 0)) < 0) rc = IMG_EFORMAT;
            }
            char *end = NULL;
            if (!rc && near && nt > 1) gap = (int)strtol(tok[1], &end, 10);
            if (!rc && near &&
                (nt < 2 || !end || *end || end == tok[1] || gap < 0 || gap > MAX_NEAR_GAP))
                rc = IMG_EFORMAT;
            int ng = last - first;
            if (!rc && nt >= 1 && kw[0] == 's')
                rc = (target = find_group(m, tok[0], 1)) < 0 ? IMG_EFORMAT : IMG_OK;
            else if (!rc && nt >= 1)
                rc = (cat = find_cat(m, tok[0])) < 0 ? IMG_EFORMAT : IMG_OK;
            if (rc || nt < 1 || ng < 2 || ng > 4 || m->ncombine == MAX_COMBINES) rc = IMG_EFORMAT;
            for (int k = 0; !rc && k < ng; k++)
                if ((m->combine[m->ncombine].g[k] = find_group(m, tok[first + k], 0)) < 0)
                    rc = IMG_EFORMAT;
            if (!rc) {
                m->combine[m->ncombine].cat = cat;
                m->combine[m->ncombine].ng = ng;
                m->combine[m->ncombine].gap = gap;
                m->combine[m->ncombine].unless = unless;
                m->combine[m->ncombine].target = target;
                m->ncombine++;
            }
        } else {
            rc = IMG_EFORMAT;
        }
        if (rc == IMG_EFORMAT)
            snprintf(err, errlen, "moderation rules line %d: cannot read '%.80s'%s", lineno, line,
                     m->ngroups == MAX_GROUPS      ? " (at most " STR(MAX_GROUPS) " groups)"
                     : m->ncombine == MAX_COMBINES ? " (at most " STR(MAX_COMBINES) " combines)"
                                                   : "");
        else if (rc)
            snprintf(err, errlen, "moderation rules line %d: %s", lineno, img_status_str(rc));
    }
    free(copy);
    stemmers_close(st);
    if (!rc && (!m->version || !m->ncats)) {
        snprintf(err, errlen, "moderation rules: a version and at least one category are required");
        rc = IMG_EFORMAT;
    }
    if (rc) {
        mod_free(m);
        return rc;
    }
    if (build_vocab(m) || mark_shows_lang(m) || build_index(m)) {
        snprintf(err, errlen, "moderation rules: out of memory");
        mod_free(m);
        return IMG_ENOMEM;
    }
    rc = cls_load_builtin(&m->cls);
    if (rc) {
        snprintf(err, errlen, "moderation classifier: %s", img_status_str(rc));
        mod_free(m);
        return rc;
    }
    *out = m;
    return IMG_OK;
}

void mod_use_classifier(moderation_t *m, int on) {
    if (!on) {
        cls_free(m->cls);
        m->cls = NULL;
    }
}

int mod_load_default(moderation_t **out, char *err, size_t errlen) {
    return mod_load(MODERATION_RULES, out, err, errlen);
}

/* A prompt's words with their stems, computed on first use per language. */
typedef struct {
    words_t w;
    char **stems;     /* stems[i * LANG_COUNT + lang]: "" none, NULL not computed yet */
    char **alt_stems; /* the same for each word's second reading (w.alt) */
    char **tr;        /* tr[i]: word i read as transliterated Russian ("" none, NULL not yet) */
    char **tr_stems;  /* tr[i]'s Russian stem ("" none, NULL not yet) */
    stemmers_t *st;
    int oom;
} prompt_t;

/* The stem of word in lang, computed once into *slot ("" when it has none). */
static const char *cached_stem(prompt_t *p, char **slot, int lang, const char *word) {
    if (!*slot) {
        char stem[256];
        int n = stem_word(p->st, lang, word, stem, sizeof stem);
        if (n < 0 || !(*slot = strdup(n > 0 ? stem : ""))) {
            p->oom = 1;
            return "";
        }
    }
    return *slot;
}

/* The stem of word i's first (alt 0) or second reading in lang. */
static const char *prompt_stem(prompt_t *p, int i, int lang, int alt) {
    char **slot = &(alt ? p->alt_stems : p->stems)[(size_t)i * LANG_COUNT + (size_t)lang];
    return cached_stem(p, slot, lang, alt ? p->w.alt[i] : p->w.w[i]);
}

/* Word i read as transliterated Russian: Latin letters only, four or more or a short word
 * Russian writes often ("kak", "v"); "" when it is none. */
static const char *prompt_translit(prompt_t *p, int i) {
    if (p->tr[i]) return p->tr[i];
    static const char *const SHORT[] = {"v",   "s",   "i",   "k",   "na",  "ne",  "po",
                                        "do",  "za",  "iz",  "ot",  "ya",  "my",  "on",
                                        "kak", "ikh", "yad", "bez", "pro", "pod", "nad",
                                        "ona", "oni", "let", "god", "eyo", "ego", "dlya"};
    const char *w = p->w.w[i];
    size_t l = strlen(w), k = 0;
    while (k < l && w[k] >= 'a' && w[k] <= 'z')
        k++;
    int take = k == l && l >= 4;
    for (size_t s = 0; !take && k == l && s < sizeof SHORT / sizeof SHORT[0]; s++)
        take = !strcmp(w, SHORT[s]);
    p->tr[i] = take ? mod_translit_ru(w) : strdup("");
    if (!p->tr[i]) {
        p->oom = 1;
        return "";
    }
    return p->tr[i];
}

/* An English rule word of three letters, too short to stem, also matches its plural ("boy" in
 * "little boy" matches "little boys", "kid" "kids"), unless the rule is written "=word". */
static int short_plural(const phrase_t *ph, const char *word, const char *rule) {
    if (ph->exact || ph->lang != LANG_EN || strlen(rule) != 3 || strlen(word) != 4 ||
        word[3] != 's')
        return 0;
    for (int c = 0; c < 3; c++)
        if (rule[c] < 'a' || rule[c] > 'z') return 0;
    return !strncmp(word, rule, 3);
}

static int word_at(prompt_t *p, int i, const phrase_t *ph, int k) {
    const char *rule = ph->words.w[k];
    if (word_matches(p->w.w[i], rule) || (p->w.alt[i] && word_matches(p->w.alt[i], rule))) return 1;
    if (short_plural(ph, p->w.w[i], rule) || (p->w.alt[i] && short_plural(ph, p->w.alt[i], rule)))
        return 1;
    if (ph->lang == LANG_RU && (unsigned char)rule[0] >= 0x80) { /* Russian in Latin letters */
        const char *tr = prompt_translit(p, i);
        if (tr[0] && word_matches(tr, rule)) return 1;
        if (tr[0] && ph->stems[k]) {
            const char *ts = cached_stem(p, &p->tr_stems[i], LANG_RU, tr);
            if (ts[0] && !strcmp(ts, ph->stems[k])) return 1;
        }
    }
    if (!ph->stems[k]) return 0;
    const char *s = prompt_stem(p, i, ph->lang, 0);
    if (s[0] && !strcmp(s, ph->stems[k])) return 1;
    if (!p->w.alt[i]) return 0; /* the second reading by stem too */
    s = prompt_stem(p, i, ph->lang, 1);
    return s[0] && !strcmp(s, ph->stems[k]);
}

/* Does phrase ph occur at word i, with at least one of its words not neutralised? */
static int phrase_at(prompt_t *p, const unsigned char *neutral, int i, const phrase_t *ph) {
    if (i + ph->words.n > p->w.n) return 0;
    int live = 0;
    for (int k = 0; k < ph->words.n; k++) {
        if (!word_at(p, i + k, ph, k)) return 0;
        live |= !(neutral && neutral[i + k]);
    }
    return live;
}

/* Sets mask[] over the words of every place phrase ph occurs (as phrase_at finds it); 1 if it
 * occurs at all. */
static int mark_phrase(prompt_t *p, const unsigned char *neutral, const phrase_t *ph,
                       unsigned char *mask) {
    int any = 0;
    for (int i = 0; i < p->w.n; i++)
        if (phrase_at(p, neutral, i, ph)) {
            memset(mask + i, 1, (size_t)ph->words.n);
            any = 1;
        }
    return any;
}

/* Which phrases occur in a prompt: allows, then terms and group members (soft terms too: the
 * context that voids a soft term for its own category does not void it inside a combine, "a
 * nude child in the style of Titian"), and so which groups occur (a member, or with "include" a
 * term of its category). */
typedef struct {
    unsigned char *term, *member; /* per phrase */
    int *found, nfound; /* the indices of the members found, ascending (near rules read these) */
    unsigned char group[MAX_GROUPS];
    /* per word: left out by the classifier - read by the rules as a word of a language the prompt
     * does not show ("kind" in an English prompt: the classifier's letter n-grams cannot tell
     * "kind" from "Kind"), or a member of an `unscored` group (a place the training data used
     * only as the setting of harmful prompts: "卧室", bedroom) */
    unsigned char *unread;
} found_t;

/* Adds the ids under key to the candidates at word i (each id once per word: seen[] holds the
 * last word + 1 it was added at). */
static int add_candidates(const moderation_t *m, const char *key, int i, int *seen, int **c, int *n, int *cap) {
    int k;
    const int *ids = pidx_get(m->index, key, &k);
    for (int j = 0; j < k; j++) {
        int kind = ids[j] >> ID_KIND_SHIFT, idx = ids[j] & ((1 << ID_KIND_SHIFT) - 1);
        int at = kind == 0 ? idx : kind == 1 ? m->terms.n + idx : m->terms.n + m->members.n + idx;
        if (seen[at] == i + 1) continue;
        seen[at] = i + 1;
        if (*n == *cap) {
            int nc = *cap ? 2 * *cap : 64;
            int *q = realloc(*c, sizeof *q * 2 * (size_t)nc);
            if (!q) return IMG_ENOMEM;
            *c = q;
            *cap = nc;
        }
        (*c)[2 * *n] = i;
        (*c)[2 * *n + 1] = ids[j];
        (*n)++;
    }
    return IMG_OK;
}

/* Every phrase that may start at word i: the ids under the keys of its readings (as written,
 * squeezed, stemmed in each language, and read as transliterated Russian), which are all the
 * ways word_at can match a phrase's first word. */
static int word_candidates(const moderation_t *m, prompt_t *p, int i, int *seen, int **c, int *n, int *cap) {
    char key[260];
    int rc = IMG_OK;
    for (int alt = 0; alt < 2 && !rc; alt++) {
        const char *r = alt ? p->w.alt[i] : p->w.w[i];
        if (!r) continue;
        key_exact(key, r);
        rc = add_candidates(m, key, i, seen, c, n, cap);
        if (!rc && strlen(r) == 4 &&
            r[3] == 's') { /* "boys": the phrases of "boy" (short_plural) */
            char singular[4] = {r[0], r[1], r[2], 0};
            key_exact(key, singular);
            rc = add_candidates(m, key, i, seen, c, n, cap);
        }
        if (!rc && word_has_triple(r)) {
            key_squeezed(key, r);
            rc = add_candidates(m, key, i, seen, c, n, cap);
        }
        for (int lang = 0; lang < LANG_COUNT && !rc; lang++) {
            const char *st = prompt_stem(p, i, lang, alt);
            if (!st[0]) continue;
            key_stem(key, lang, st);
            rc = add_candidates(m, key, i, seen, c, n, cap);
        }
    }
    const char *tr = rc ? "" : prompt_translit(p, i);
    if (tr[0]) {
        key_exact(key, tr);
        rc = add_candidates(m, key, i, seen, c, n, cap);
        if (!rc && word_has_triple(tr)) {
            key_squeezed(key, tr);
            rc = add_candidates(m, key, i, seen, c, n, cap);
        }
        const char *ts = rc ? "" : cached_stem(p, &p->tr_stems[i], LANG_RU, tr);
        if (ts[0]) {
            key_stem(key, LANG_RU, ts);
            rc = add_candidates(m, key, i, seen, c, n, cap);
        }
    }
    return rc ? rc : p->oom ? IMG_ENOMEM : IMG_OK;
}

/* Clears the bound phrases ("~Kind") found in a prompt that does not show their language: by a
 * function word of it ("ein", "una") or by a phrase that shows it ("nackt"); their words are
 * marked in f->unread. */
static void drop_unshown(const moderation_t *m, prompt_t *p, const unsigned char *neutral,
                         found_t *f) {
    unsigned shown = 0, bound = 0;
    for (int i = 0; i < p->w.n; i++) {
        shown |= lang_function_word(p->w.w[i]);
        if (p->w.alt[i]) shown |= lang_function_word(p->w.alt[i]);
    }
    const phrases_t *lists[] = {&m->terms, &m->members};
    unsigned char *found[] = {f->term, f->member};
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < lists[l]->n; k++)
            if (found[l][k]) {
                if (lists[l]->p[k].shows_lang) shown |= 1u << lists[l]->p[k].lang;
                bound |= lists[l]->p[k].bound;
            }
    for (int l = 0; bound && l < 2; l++)
        for (int k = 0; k < lists[l]->n; k++) {
            const phrase_t *ph = &lists[l]->p[k];
            if (!found[l][k] || !ph->bound || (shown & 1u << ph->lang)) continue;
            found[l][k] = 0;
            mark_phrase(p, neutral, ph, f->unread);
        }
}

/* Fills f (its arrays allocated here, freed by the caller) and neutral (the words an allow
 * makes harmless). */
static int find_phrases(const moderation_t *m, prompt_t *p, unsigned char *neutral, found_t *f) {
    int total = m->terms.n + m->members.n + m->allows.n, *seen = calloc((size_t)total + 1, sizeof *seen);
    int *c = NULL, n = 0, cap = 0; /* candidates: (word, id) pairs */
    f->term = calloc((size_t)m->terms.n + 1, 1);
    f->member = calloc((size_t)m->members.n + 1, 1);
    f->unread = calloc((size_t)p->w.n + 1, 1);
    int rc = seen && f->term && f->member && f->unread ? IMG_OK : IMG_ENOMEM;
    for (int i = 0; !rc && i < p->w.n; i++) rc = word_candidates(m, p, i, seen, &c, &n, &cap);
    for (int k = 0; !rc && k < n; k++) { /* allows first: they neutralise words */
        int i = c[2 * k], id = c[2 * k + 1];
        const phrase_t *ph = &m->allows.p[id & ((1 << ID_KIND_SHIFT) - 1)];
        if (id >> ID_KIND_SHIFT == 2 && phrase_at(p, NULL, i, ph)) memset(neutral + i, 1, (size_t)ph->words.n);
    }
    for (int k = 0; !rc && k < n; k++) {
        int i = c[2 * k], id = c[2 * k + 1], kind = id >> ID_KIND_SHIFT, idx = id & ((1 << ID_KIND_SHIFT) - 1);
        if (kind == 0 && !f->term[idx]) f->term[idx] = (unsigned char)phrase_at(p, neutral, i, &m->terms.p[idx]);
        if (kind == 1 && !f->member[idx])
            f->member[idx] = (unsigned char)phrase_at(p, neutral, i, &m->members.p[idx]);
    }
    if (!rc) drop_unshown(m, p, neutral, f);
    for (int k = 0; !rc && k < m->members.n; k++)
        if (f->member[k] && m->unscored[m->members.p[k].cat])
            mark_phrase(p, neutral, &m->members.p[k], f->unread);
    memset(f->group, 0, sizeof f->group);
    unsigned char by_cat[MAX_CATS] = {0};
    f->found = rc ? NULL : malloc(sizeof *f->found * ((size_t)m->members.n + 1));
    if (!rc && !f->found) rc = IMG_ENOMEM;
    for (int k = 0; !rc && k < m->members.n; k++)
        if (f->member[k]) {
            f->group[m->members.p[k].cat] = 1;
            f->found[f->nfound++] = k;
        }
    for (int t = 0; !rc && t < m->terms.n; t++) by_cat[m->terms.p[t].cat] |= f->term[t];
    for (int g = 0; !rc && g < m->ngroups; g++) f->group[g] |= m->group_cat[g] >= 0 && by_cat[m->group_cat[g]];
    if (!rc && p->oom) rc = IMG_ENOMEM;
    free(seen);
    free(c);
    return rc;
}

/* Appends s to out (of cap bytes) while it fits, never cutting inside a UTF-8 character. */
static void append_cut(char *out, size_t cap, const char *s) {
    size_t len = strlen(out), n = strlen(s);
    if (len + n >= cap) {
        n = cap - 1 - len;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out + len, s, n);
    out[len + n] = '\0';
}

static void append_words(char *out, size_t cap, const words_t *w) {
    for (int k = 0; k < w->n; k++) {
        if (k) append_cut(out, cap, " ");
        append_cut(out, cap, w->w[k]);
    }
}

/* The words that put group grp in the prompt: its first member found, else (a group with
 * "include") the first term found of its category; NULL if neither. */
static const words_t *group_evidence(const moderation_t *m, const found_t *f, int grp) {
    for (int i = 0; i < m->members.n; i++)
        if (m->members.p[i].cat == grp && f->member[i]) return &m->members.p[i].words;
    for (int t = 0; m->group_cat[grp] >= 0 && t < m->terms.n; t++)
        if (m->terms.p[t].cat == m->group_cat[grp] && f->term[t]) return &m->terms.p[t].words;
    return NULL;
}

/* Whether the found members fm[from[s]..from[s + 1]) of each group s of a near rule occur in
 * order, the first starting within words [lo, hi], each next one within gap words of the end of
 * the one before. */
static int near_from(const moderation_t *m, prompt_t *p, const unsigned char *neutral,
                     const int *fm, const int *from, int ng, int gap, int s, int lo, int hi) {
    for (int i = lo; i <= hi && i < p->w.n; i++)
        for (int j = from[s]; j < from[s + 1]; j++) {
            const phrase_t *ph = &m->members.p[fm[j]];
            if (!phrase_at(p, neutral, i, ph)) continue;
            int end = i + ph->words.n;
            if (s + 1 == ng || near_from(m, p, neutral, fm, from, ng, gap, s + 1, end, end + gap))
                return 1;
        }
    return 0;
}

/* Combine k when it is a near rule whose groups all occur: 1 if their words stand in order and
 * near enough, 0 if not, or IMG_ENOMEM. */
static int near_hit(const moderation_t *m, prompt_t *p, const unsigned char *neutral,
                    const found_t *f, int k) {
    int ng = m->combine[k].ng, from[5], nf = 0;
    int *fm = malloc(sizeof *fm * ((size_t)f->nfound + 1)); /* owned here */
    if (!fm) return IMG_ENOMEM;
    for (int s = 0; s < ng; s++) {
        from[s] = nf;
        for (int j = 0; j < f->nfound; j++)
            if (m->members.p[f->found[j]].cat == m->combine[k].g[s]) fm[nf++] = f->found[j];
    }
    from[ng] = nf;
    int hit = near_from(m, p, neutral, fm, from, ng, m->combine[k].gap, 0, 0, p->w.n - 1);
    free(fm);
    return hit;
}

/* Whether combine, near or span k holds: a word of each of its groups, none of its "unless"
 * group, and for a near rule or span the words in order (near_hit); 1, 0 or IMG_ENOMEM. */
static int rule_holds(const moderation_t *m, prompt_t *p, const unsigned char *neutral,
                      const found_t *f, int k) {
    for (int g = 0; g < m->combine[k].ng; g++)
        if (!f->group[m->combine[k].g[g]]) return 0;
    if (m->combine[k].unless >= 0 && f->group[m->combine[k].unless]) return 0;
    return m->combine[k].gap < 0 ? 1 : near_hit(m, p, neutral, f, k);
}

/* out->rule: which term or combine refused (what put each combined group in the prompt). */
static void describe_rule(const moderation_t *m, const found_t *f, int term, int combine,
                          mod_result_t *out) {
    out->rule[0] = '\0';
    if (term >= 0) {
        append_cut(out->rule, sizeof out->rule, "term ");
        append_words(out->rule, sizeof out->rule, &m->terms.p[term].words);
        return;
    }
    append_cut(out->rule, sizeof out->rule, m->combine[combine].gap < 0 ? "combine" : "near");
    for (int g = 0; g < m->combine[combine].ng; g++) {
        int grp = m->combine[combine].g[g];
        append_cut(out->rule, sizeof out->rule, g ? " + " : " ");
        append_cut(out->rule, sizeof out->rule, m->groups[grp]);
        const words_t *why = group_evidence(m, f, grp);
        if (why) {
            append_cut(out->rule, sizeof out->rule, "=");
            append_words(out->rule, sizeof out->rule, why);
        }
    }
}

/* The classifier's class k or combine (a, b) named `name`: 1 for a combine (*a, *b, thresholds
 * *ta, *tb), 0 for a class (*a = k, threshold *ta), -1 for no such name. */
static int cls_lookup(const classifier_t *cls, const char *name, int *a, int *b, float *ta,
                      float *tb) {
    for (int i = 0; i < cls_combines(cls); i++) {
        const char *cn;
        cls_combine(cls, i, a, b, ta, tb, &cn);
        if (!strcmp(cn, name)) return 1;
    }
    for (int k = 0; k < cls_classes(cls); k++)
        if (!strcmp(cls_class_name(cls, k), name)) {
            *a = *b = k;
            *ta = *tb = cls_threshold(cls, k);
            return 0;
        }
    return -1;
}

/* Whether the classifier's refusal `name` holds with each one word of the prompt left out. A
 * combine (sexual and minor) fails when leaving out one word drops both heads: that word carried
 * both ("photo of a girl": the girl was the minor and, to the model, the sexual content too). A
 * single head fails, in prompts under CLS_ROBUST_BELOW words, when leaving out one word drops it:
 * on short plain requests ("a soldier, 4k", "a banner", "my son") one word the model had seen
 * mostly in harmful training prompts decided alone, and in a prompt that short a word the rules
 * do not list is the rules' to judge. 1 holds, 0 not, or a negative status. */
static int cls_robust(const classifier_t *cls, const words_t *w, const char *name) {
    int a, b;
    float ta, tb;
    int combine = cls_lookup(cls, name, &a, &b, &ta, &tb);
    if (combine < 0 || w->n < 2 || w->n > CLS_ROBUST_MAX || (!combine && w->n >= CLS_ROBUST_BELOW))
        return 1;
    size_t n = (size_t)w->n;
    words_t less = {0};
    less.w = malloc(sizeof *less.w * n);
    less.alt = malloc(sizeof *less.alt * n); /* views into w's strings, not owned */
    int rc = less.w && less.alt ? 1 : IMG_ENOMEM;
    for (int drop = 0; rc == 1 && drop < w->n; drop++) {
        less.n = 0;
        for (int i = 0; i < w->n; i++)
            if (i != drop) {
                less.w[less.n] = w->w[i];
                less.alt[less.n++] = w->alt[i];
            }
        float probs[CLS_MAX_CLASSES];
        if (cls_score(cls, &less, probs))
            rc = IMG_ENOMEM;
        else if (probs[a] < ta && probs[b] < tb)
            rc = 0;
    }
    free(less.w);
    free(less.alt);
    return rc;
}

/* For a refusal on a combine of two heads (sexual and minor): whether head a still passes with
 * the words the rules read as members of the group named like head b left out - the sexual
 * content must come from other words than those naming the child ("маленькая девочка, 4k" names
 * a child twice and nothing else). 1 holds (or the rules read no such word), 0 not, or a
 * negative status. */
static int cls_holds_without_group(const moderation_t *m, prompt_t *p, const unsigned char *neutral,
                                   const found_t *f, const char *name) {
    int a, b;
    float ta, tb;
    if (cls_lookup(m->cls, name, &a, &b, &ta, &tb) != 1) return 1;
    int g = -1;
    for (int k = 0; k < m->ngroups && g < 0; k++)
        if (!strcmp(m->groups[k], cls_class_name(m->cls, b))) g = k;
    if (g < 0 || !f->group[g] || p->w.n < 1) return 1;
    size_t n = (size_t)p->w.n;
    unsigned char *drop = calloc(n, 1);
    words_t less = {0};
    less.w = malloc(sizeof *less.w * n);
    less.alt = malloc(sizeof *less.alt * n); /* views into p's strings, not owned */
    int rc = drop && less.w && less.alt ? 1 : IMG_ENOMEM, any = 0;
    for (int k = 0; rc == 1 && k < m->members.n; k++)
        if (m->members.p[k].cat == g && f->member[k])
            any |= mark_phrase(p, neutral, &m->members.p[k], drop);
    for (int i = 0; rc == 1 && i < p->w.n; i++)
        if (!drop[i] && !neutral[i] &&
            !f->unread[i]) { /* nor the words the classifier leaves out */
            less.w[less.n] = p->w.w[i];
            less.alt[less.n++] = p->w.alt[i];
        }
    float probs[CLS_MAX_CLASSES];
    if (rc == 1 && any) {
        if (cls_score(m->cls, &less, probs))
            rc = IMG_ENOMEM;
        else if (probs[a] < ta)
            rc = 0;
    }
    free(drop);
    free(less.w);
    free(less.alt);
    return rc;
}

/* Decides on words (taken over, freed here): the rules, then (learned = 1) the classifier.
 * preset: words made harmless before the allows are read (NULL: none). */
static int check_words(const moderation_t *m, words_t *words, const unsigned char *preset,
                       int learned, mod_level_t level, mod_result_t *out) {
    memset(out, 0, sizeof *out);
    prompt_t p = {0};
    p.w = *words;
    unsigned char *neutral = calloc((size_t)p.w.n + 1, 1);
    if (neutral && preset) memcpy(neutral, preset, (size_t)p.w.n);
    p.stems = calloc((size_t)p.w.n * LANG_COUNT + 1, sizeof *p.stems);
    p.alt_stems = calloc((size_t)p.w.n * LANG_COUNT + 1, sizeof *p.alt_stems);
    p.tr = calloc((size_t)p.w.n + 1, sizeof *p.tr);
    p.tr_stems = calloc((size_t)p.w.n + 1, sizeof *p.tr_stems);
    int rc = !neutral || !p.stems || !p.alt_stems || !p.tr || !p.tr_stems || stemmers_open(&p.st)
                 ? IMG_ENOMEM
                 : IMG_OK;
    found_t f = {0};
    if (!rc) rc = find_phrases(m, &p, neutral, &f);
    for (int k = 0; !rc && k < m->ncombine; k++) /* spans, in the order the rules give them */
        if (m->combine[k].target >= 0 && !f.group[m->combine[k].target]) {
            int hit = rule_holds(m, &p, neutral, &f, k);
            if (hit < 0) rc = hit;
            f.group[m->combine[k].target] = hit > 0;
        }
    for (int c = 0; !rc && c < m->ncats && !out->refused; c++) {
        if (level == MOD_LEVEL_LOW && !m->cats[c].always) continue;
        int hit = 0, term = -1, combine = -1;
        for (int t = 0; t < m->terms.n && !hit; t++)
            if (m->terms.p[t].cat == c) {
                hit = f.term[t] && (m->terms.p[t].unless < 0 || !f.group[m->terms.p[t].unless]);
                if (hit) term = t;
            }
        for (int k = 0; k < m->ncombine && !hit && !rc; k++)
            if (m->combine[k].cat == c) {
                int holds = rule_holds(m, &p, neutral, &f, k);
                if (holds < 0) rc = holds;
                hit = holds > 0;
                if (hit) combine = k;
            }
        if (hit) {
            out->refused = 1;
            snprintf(out->category, sizeof out->category, "%s", m->cats[c].name);
            describe_rule(m, &f, term, combine, out);
        }
    }
    /* second stage: the classifier's view of the whole prompt (of two words or more: a single
     * word is the rules' to judge, the classifier has too little to go on). It refuses what the rules let
     * through, and when the rules refused under a category of level auto it may name a graver
     * one (a sexual prompt about a minor is reported as sexual_minors). Its candidates: each
     * combined category whose two heads pass (sexual and minor), and each head that passes and
     * is a category of the rules (a head such as "minor" refuses nothing alone); an always
     * category wins over the others, then the most probable. */
    int rules_cat = out->refused ? find_cat(m, out->category) : -1;
    int graver_possible = out->refused && rules_cat >= 0 && !m->cats[rules_cat].always;
    /* the classifier reads the words no allow made harmless ("transsexual" is an identity, not
     * sexual content, to both stages) and that are no word of a language the prompt does not show
     * ("kind" in English); where it leaves words out, a refusal must hold on the whole prompt too
     * (each head's lower score counts: a prompt cut short reads oddly) */
    words_t view = {0}; /* views into p.w's strings, not owned */
    int run_cls = !rc && learned && (!out->refused || graver_possible) && m->cls;
    if (run_cls) {
        view.w = malloc(sizeof *view.w * ((size_t)p.w.n + 1));
        view.alt = malloc(sizeof *view.alt * ((size_t)p.w.n + 1));
        if (!view.w || !view.alt) rc = IMG_ENOMEM;
        for (int i = 0; !rc && i < p.w.n; i++)
            if (!neutral[i] && !f.unread[i]) {
                view.w[view.n] = p.w.w[i];
                view.alt[view.n++] = p.w.alt[i];
            }
    }
    if (run_cls && !rc && view.n >= CLS_MIN_WORDS) {
        float probs[CLS_MAX_CLASSES];
        rc = cls_score(m->cls, &view, probs);
        if (!rc && view.n < p.w.n) { /* and the whole prompt: a refusal must hold on both */
            float whole[CLS_MAX_CLASSES];
            rc = cls_score(m->cls, &p.w, whole);
            for (int k = 0; !rc && k < cls_classes(m->cls); k++)
                if (whole[k] < probs[k]) probs[k] = whole[k];
        }
        const char *best = NULL;
        float best_p = 0;
        int best_always = 0;
        for (int i = 0; !rc && i < cls_combines(m->cls) + cls_classes(m->cls); i++) {
            const char *name;
            float pr;
            if (i < cls_combines(m->cls)) {
                int a, b;
                float ta, tb;
                cls_combine(m->cls, i, &a, &b, &ta, &tb, &name);
                if (probs[a] < ta || probs[b] < tb) continue;
                pr = probs[a] < probs[b] ? probs[a] : probs[b];
            } else {
                int k = i - cls_combines(m->cls);
                name = cls_class_name(m->cls, k);
                pr = probs[k];
                if (pr < cls_threshold(m->cls, k)) continue;
            }
            int cat = find_cat(m, name);
            if (cat < 0) continue;
            /* a gated category needs one of its words, or a confident score */
            int open = !m->cats[cat].ngates || (m->cats[cat].gate_open > 0 && pr >= m->cats[cat].gate_open);
            for (int g = 0; !open && g < m->cats[cat].ngates; g++)
                open = f.group[m->cats[cat].gates[g]];
            if (!open) continue;
            int vetoed = 0;
            for (int v = 0; v < m->cats[cat].nvetoes && !vetoed; v++)
                vetoed = f.group[m->cats[cat].veto[v]] && !f.group[m->cats[cat].veto_unless[v]];
            if (vetoed) continue;
            int always = m->cats[cat].always;
            if (level == MOD_LEVEL_LOW && !always) continue;
            if (out->refused && !always) continue; /* the rules already named an auto category */
            if (!best || always > best_always || (always == best_always && pr > best_p)) {
                best = name;
                best_p = pr;
                best_always = always;
            }
        }
        if (!rc && best) {
            int r = cls_robust(m->cls, &view, best);
            if (r == 1) r = cls_holds_without_group(m, &p, neutral, &f, best);
            if (r < 0)
                rc = r;
            else if (!r)
                best = NULL;
        }
        if (best) {
            out->refused = 1;
            out->by_classifier = 1;
            out->rule[0] = '\0';
            snprintf(out->category, sizeof out->category, "%s", best);
        }
    }
    free(view.w);
    free(view.alt);
    if (!rc && p.oom) rc = IMG_ENOMEM;
    for (size_t i = 0; i < (size_t)p.w.n * LANG_COUNT; i++) {
        if (p.stems) free(p.stems[i]);
        if (p.alt_stems) free(p.alt_stems[i]);
    }
    free(p.stems);
    free(p.alt_stems);
    for (int i = 0; i < p.w.n; i++) {
        if (p.tr) free(p.tr[i]);
        if (p.tr_stems) free(p.tr_stems[i]);
    }
    free(p.tr);
    free(p.tr_stems);
    stemmers_close(p.st);
    free(f.term);
    free(f.member);
    free(f.found);
    free(f.unread);
    free(neutral);
    words_free(&p.w);
    return rc;
}

int mod_check(const moderation_t *m, const char *prompt, mod_level_t level, mod_result_t *out) {
    memset(out, 0, sizeof *out);
    words_t w;
    if (read_words(m, prompt, &w)) return IMG_ENOMEM;
    return check_words(m, &w, NULL, 1, level, out);
}

int mod_check_negative(const moderation_t *m, const char *prompt, const char *negative,
                       mod_level_t level, mod_result_t *out) {
    memset(out, 0, sizeof *out);
    if (!negative || !*negative) return IMG_OK;
    /* the negative prompt read as a negative section ("no clothes"), after the prompt's words */
    size_t n = strlen(negative);
    char *section = malloc(n + sizeof "Negative prompt: "); /* freed here */
    if (!section) return IMG_ENOMEM;
    memcpy(section, "Negative prompt: ", sizeof "Negative prompt: " - 1);
    memcpy(section + sizeof "Negative prompt: " - 1, negative, n + 1);
    words_t a, b;
    int rc = read_words(m, prompt, &a) ? IMG_ENOMEM : IMG_OK;
    if (!rc && read_words(m, section, &b)) {
        words_free(&a);
        rc = IMG_ENOMEM;
    }
    free(section);
    if (rc) return rc;
    /* every word of the section is harmless but the "no" before each item: only a phrase that
     * needs the negation ("no clothes", "no underwear") counts, beside the prompt's own words */
    unsigned char *preset = calloc((size_t)(a.n + b.n) + 1, 1);
    for (int i = 0; !rc && i < b.n; i++) {
        if (!preset || words_push(&a, b.w[i]) || (b.alt[i] && words_set_alt(&a, a.n - 1, b.alt[i])))
            rc = IMG_ENOMEM;
        else
            preset[a.n - 1] = strcmp(b.w[i], "no") != 0;
    }
    words_free(&b);
    if (rc) {
        free(preset);
        words_free(&a);
        return rc;
    }
    rc = check_words(m, &a, preset, 0, level, out);
    free(preset);
    return rc;
}

char *mod_read(const moderation_t *m, const char *text) {
    words_t w;
    if (read_words(m, text, &w)) return NULL;
    char *out = words_join(&w);
    words_free(&w);
    return out;
}

int mod_classifier_scores(const moderation_t *m, const char *prompt, float *probs,
                          const char **names, int max) {
    if (!m->cls) return 0;
    words_t w;
    if (read_words(m, prompt, &w)) return IMG_ENOMEM;
    float all[CLS_MAX_CLASSES];
    int rc = cls_score(m->cls, &w, all);
    words_free(&w);
    if (rc) return rc;
    int n = cls_classes(m->cls) < max ? cls_classes(m->cls) : max;
    for (int k = 0; k < n; k++) {
        probs[k] = all[k];
        names[k] = cls_class_name(m->cls, k);
    }
    return n;
}
