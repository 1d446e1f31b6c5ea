/* fuzz_tokenizer.c - libFuzzer target: the CLIP tokenizer (text cleaning with ICU, pre-tokenizer,
 * BPE, context building, decoding) on arbitrary bytes, with the built-in model's vocabulary. Ids
 * must be inside the vocabulary and the context must start with SOT and hold one EOT. */
#include "engine/text/tokenizer.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* loaded once per process: the harness's own state, not the product's */
    static tokenizer_t *tok;
    if (!tok) {
        char err[256];
        if (tok_load("builtin:imgapi-shapes", &tok, err, sizeof err)) abort();
    }
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    int32_t *ids = NULL;
    size_t n = 0;
    if (tok_encode(tok, text, &ids, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || (size_t)ids[i] >= tok_vocab_size(tok)) abort();
        int32_t ctx[TOK_CONTEXT];
        int eot = tok_context(tok, ids, n, tok_eot(tok), ctx);
        if (ctx[0] != tok_sot(tok) || eot < 1 || eot >= TOK_CONTEXT || ctx[eot] != tok_eot(tok)) abort();
        int32_t short_ctx[32];
        eot = tok_context_len(tok, ids, n, 0, 32, short_ctx);
        if (eot < 1 || eot >= 32 || short_ctx[eot] != tok_eot(tok)) abort();
        char *back = tok_decode(tok, ids, n);
        free(back);
    }
    free(ids);
    free(text);
    return 0;
}
