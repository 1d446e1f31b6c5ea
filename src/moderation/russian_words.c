/* russian_words.c - lookup in the Russian word-form filter built by the Makefile (see
 * russian_words.h and tools/russian_words_filter.c). */
#include "moderation/russian_words.h"

/* russian_words_data.S: the filter's 2^24 bits, least significant bit of each byte first. */
extern const unsigned char imgapi_russian_words[];
extern const unsigned char imgapi_russian_words_end[];

static int filter_ok(void) {
    return imgapi_russian_words_end - imgapi_russian_words == (1 << RUSSIAN_WORDS_BITS_LOG2) / 8;
}

int russian_word(const char *s, size_t n) {
    /* Cyrillic letters are two bytes each */
    if (n < 2 * RUSSIAN_WORDS_MIN_LETTERS || !filter_ok()) return 0;
    for (unsigned k = 0; k < RUSSIAN_WORDS_PROBES; k++) {
        uint32_t b = russian_words_probe(s, n, k);
        if (!(imgapi_russian_words[b >> 3] & (1u << (b & 7)))) return 0;
    }
    return 1;
}

size_t russian_words_bits_set(void) {
    if (!filter_ok()) return 0;
    size_t n = 0;
    for (const unsigned char *p = imgapi_russian_words; p < imgapi_russian_words_end; p++)
        n += (size_t)__builtin_popcount(*p);
    return n;
}
