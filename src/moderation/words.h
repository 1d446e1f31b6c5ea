/* words.h - a list of normalised words (owned strings), each with an optional second reading
 * (a word written only in Cyrillic or Greek look-alike letters also read as Latin). */
#ifndef IMGAPI_MODERATION_WORDS_H
#define IMGAPI_MODERATION_WORDS_H
#include <stddef.h>

typedef struct {
    char **w;
    char **alt; /* alt[i]: the second reading of w[i], or NULL */
    int n, cap;
} words_t;

int words_push(words_t *w, const char *s);
/* Whether s is one of the n words of list. */
int word_in_list(const char *s, const char *const *list, size_t n);
/* Sets the second reading of word i (copied). */
int words_set_alt(words_t *w, int i, const char *alt);
/* Word i is read as `reading` (copied), the word as written kept as its second reading. */
int words_reread(words_t *w, int i, const char *reading);
/* Inserts s (copied) as word i, the words from i on moving up by one. */
int words_insert(words_t *w, int i, const char *s);
/* Replaces words [i, j) with one word. */
int words_replace_range(words_t *w, int i, int j, const char *s);
void words_free(words_t *w);
/* The words space-separated, a word's second reading after a '|' (malloc'd; NULL when out of
 * memory): what mod_normalize and mod_read print. */
char *words_join(const words_t *w);
/* Normalises text into words (see normalize.c); -1 on allocation failure, w then empty. */
int words_split(const char *text, words_t *w);
/* The Cyrillic a Latin transliteration of Russian stands for ("golaya" -> голая, "devochka" ->
 * девочка, "obnazhennyi" -> обнаженныи, as folding writes й; soft signs are dropped on both
 * sides), malloc'd; NULL when out of memory. s: lower-case ASCII letters. */
char *mod_translit_ru(const char *s);
/* "porn" and "pooorn": equal when a run of three or more repeated letters in `word` collapses. */
int word_matches(const char *word, const char *rule);
/* s with each run of a repeated character written once (at most cap - 1 bytes), and whether s
 * has a character three times in a row: word_matches compares words squeezed when it has. */
void word_squeeze(const char *s, char *out, size_t cap);
int word_has_triple(const char *s);

#endif
