/* fuzz_moderation.c - libFuzzer target: the moderation normaliser and matcher on arbitrary
 * prompts (both levels), and the rules-file parser on the same bytes. */
#include "moderation/moderation.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static moderation_t *rules;
    char err[256];
    if (!rules && mod_load_default(&rules, err, sizeof err)) abort();
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    char *norm = mod_normalize(text);
    free(norm);
    mod_result_t r;
    for (int level = 0; level < 2; level++)
        if (mod_check(rules, text, level ? MOD_LEVEL_LOW : MOD_LEVEL_AUTO, &r) == 0 && r.refused && !r.category[0]) abort();
    moderation_t *m = NULL;
    if (mod_load(text, &m, err, sizeof err) == 0) mod_free(m);
    free(text);
    return 0;
}
