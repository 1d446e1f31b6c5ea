/* english_words.h - the words of English (Debian's wamerican list, five letters and up, compiled
 * in at build time), so that the moderation readings that take a word apart or read it as a
 * misspelling leave real words as they are: "shortcuts" is no "short cuts", "everybody" no "every
 * body", "public" no misspelt rule word. */
#ifndef IMGAPI_MODERATION_ENGLISH_WORDS_H
#define IMGAPI_MODERATION_ENGLISH_WORDS_H
#include <stddef.h>

/* Whether the n bytes at s (lower case) are an English word of the list. */
int english_word(const char *s, size_t n);
/* How many words the list holds (0 would mean a build without it). */
size_t english_word_count(void);

#endif
