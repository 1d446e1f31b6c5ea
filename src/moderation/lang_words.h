/* lang_words.h - the small words that show which language a prompt is written in. A rule word
 * that is also an ordinary word of another language (German "Kind", English "kind"; German
 * "Göre", English "gore") is written "~word" in the rules and counts only in a prompt that shows
 * its language: one of these words, or a rule word of that language that no English rule uses
 * ("nackt"). The lists hold articles, prepositions, pronouns and conjunctions that are not also
 * English words ("die", "war", "hat", "no" and "a" are left out), and "foto". */
#ifndef IMGAPI_MODERATION_LANG_WORDS_H
#define IMGAPI_MODERATION_LANG_WORDS_H

/* The languages (bit 1 << mod_lang_t) in which the normalised word (lower case, accents
 * dropped) is a function word; 0 for none. */
unsigned lang_function_word(const char *word);

/* 1 when the table is sorted and free of repeats (the lookup's precondition; a unit test). */
int lang_words_sorted(void);

#endif
