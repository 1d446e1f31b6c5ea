/* russian_words.h - the word forms of Russian (Debian's hunspell-ru dictionary expanded by
 * hunspell-tools' unmunch at build time: 1.2 million forms of five letters and up), held as a
 * Bloom filter compiled into the binary, so that the moderation reading of Russian misspellings
 * (an unstressed vowel written as its twin: "девачка", "галая") leaves real words alone: "песка"
 * (sand) is no misspelt "писька", "лопает" (pops) no "лапает" (gropes), "парно" (in pairs) no
 * "порно". The filter answers "not a word" exactly and "a word" wrongly for about 0.15 % of other
 * strings, which then keep only their reading as written. */
#ifndef IMGAPI_MODERATION_RUSSIAN_WORDS_H
#define IMGAPI_MODERATION_RUSSIAN_WORDS_H
#include <stddef.h>
#include <stdint.h>

/* The filter's shape, shared with its generator (tools/russian_words_filter.c): 2^24 bits,
 * RUSSIAN_WORDS_PROBES bit positions per word from two FNV-1a hashes (double hashing). */
#define RUSSIAN_WORDS_BITS_LOG2 24
#define RUSSIAN_WORDS_PROBES 8
#define RUSSIAN_WORDS_MIN_LETTERS 5

/* The k-th bit position of the n bytes at s. */
static inline uint32_t russian_words_probe(const char *s, size_t n, unsigned k) {
    uint64_t h1 = 14695981039346656037ull, h2 = 1099511628211ull * 31u;
    for (size_t i = 0; i < n; i++) {
        h1 = (h1 ^ (unsigned char)s[i]) * 1099511628211ull;
        h2 = (h2 ^ (unsigned char)s[i]) * 0x100000001b3ull + 0x9e3779b97f4a7c15ull;
    }
    h2 |= 1; /* odd: the probes of one word never coincide */
    uint64_t p = h1 + (uint64_t)k * h2;
    return (uint32_t)((p ^ (p >> 29)) & ((1u << RUSSIAN_WORDS_BITS_LOG2) - 1));
}

/* Whether the n bytes at s - a word as the moderation normaliser writes it: lower case, ё as е,
 * no soft or hard sign - are a Russian word form of five letters or more. */
int russian_word(const char *s, size_t n);
/* The number of bits set in the compiled filter (0 would mean a build without it). */
size_t russian_words_bits_set(void);

#endif
