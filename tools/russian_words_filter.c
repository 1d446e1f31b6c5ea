/* russian_words_filter.c - build tool: reads word forms one per line on stdin (hunspell's unmunch
 * output for ru_RU; a "/flags" tail is ignored), writes them in the moderation normaliser's form
 * (lower case, ё as е, soft and hard signs dropped) into the Bloom filter that
 * src/moderation/russian_words.c reads, and writes the filter's bytes to stdout. Words with any
 * other character than Cyrillic letters, or shorter than five letters, are left out. Fails
 * (exit 1) when fewer than min_words words went in (argv[1], default 500000): a broken expansion
 * must not build a filter that calls nothing a word. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moderation/russian_words.h"

/* The normalised form of the line at s into out (room for cap bytes); its letter count, or -1
 * when the line is not a plain Cyrillic word. */
static int normalise(const char *s, char *out, size_t cap, size_t *len) {
    size_t n = 0;
    int letters = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && *p != '/' && *p != '\n';) {
        if (p[0] != 0xd0 && p[0] != 0xd1) return -1;
        unsigned cp = ((p[0] & 0x1fu) << 6) | (p[1] & 0x3fu);
        p += 2;
        if (cp >= 0x410 && cp <= 0x42f) cp += 0x20; /* А-Я */
        if (cp == 0x401 || cp == 0x451) cp = 0x435; /* Ё ё -> е */
        if (cp == 0x44c || cp == 0x44a) continue;   /* ь ъ */
        if (cp < 0x430 || cp > 0x44f) return -1;
        if (n + 2 >= cap) return -1;
        out[n++] = (char)(0xc0 | (cp >> 6));
        out[n++] = (char)(0x80 | (cp & 0x3f));
        letters++;
    }
    *len = n;
    return letters;
}

int main(int argc, char **argv) {
    long min_words = argc > 1 ? atol(argv[1]) : 500000;
    size_t bytes = (size_t)1 << (RUSSIAN_WORDS_BITS_LOG2 - 3);
    unsigned char *bits = calloc(bytes, 1); /* owned here, freed before exit */
    if (!bits) return 1;
    char line[512], w[256];
    long words = 0;
    while (fgets(line, sizeof line, stdin)) {
        size_t n;
        if (normalise(line, w, sizeof w, &n) < RUSSIAN_WORDS_MIN_LETTERS) continue;
        for (unsigned k = 0; k < RUSSIAN_WORDS_PROBES; k++) {
            uint32_t b = russian_words_probe(w, n, k);
            bits[b >> 3] |= (unsigned char)(1u << (b & 7));
        }
        words++;
    }
    int ok = words >= min_words && fwrite(bits, 1, bytes, stdout) == bytes && fflush(stdout) == 0;
    free(bits);
    if (!ok)
        fprintf(stderr, "russian_words_filter: %ld words read (at least %ld needed)\n", words,
                min_words);
    return ok ? 0 : 1;
}
