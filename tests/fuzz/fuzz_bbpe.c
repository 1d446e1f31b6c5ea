/* fuzz_bbpe.c - libFuzzer target: byte-level BPE (Qwen's tokenizer, engine/text/bbpe.h) and
 * FLUX.2 [klein]'s prompt template on arbitrary bytes, with a small vocabulary the harness writes
 * (the 256 byte symbols, a few merges, Qwen's chat tokens). Ids must be inside the vocabulary;
 * the template's 512 ids must be the text's, then padding. */
#include "engine/models/flux2/flux2_prompt.h"
#include "engine/text/bbpe.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bbpe_t *load(void) {
    char path[] = "/tmp/imgapi-fuzz-bbpe-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) abort();
    fprintf(
        f,
        "{\"added_tokens\": [{\"id\": 300, \"content\": \"<|endoftext|>\"}, {\"id\": 301, "
        "\"content\": "
        "\"<|im_start|>\"}, {\"id\": 302, \"content\": \"<|im_end|>\"}, {\"id\": 303, \"content\": "
        "\"<think>\"}, {\"id\": 304, \"content\": \"</think>\"}],\n \"model\": {\"type\": \"BPE\", "
        "\"vocab\": {");
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        int direct = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        unsigned cp = direct ? (unsigned)b : 256u + (unsigned)extra++;
        if (cp == '"' || cp == '\\')
            fprintf(f, "\"\\%c\": %d, ", (char)cp, b);
        else
            fprintf(f, "\"\\u%04x\": %d, ", cp, b);
    }
    fprintf(f, "\"he\": 256, \"ll\": 257, \"hell\": 258, \"hello\": 259, \"\\u0120w\": 260, "
               "\"\\u010a\\u010a\": 261},\n"
               " \"merges\": [\"h e\", \"l l\", \"he ll\", [\"hell\", \"o\"], \"\\u0120 w\", "
               "\"\\u010a \\u010a\"]}}\n");
    fclose(f);
    char err[256];
    bbpe_t *t = NULL;
    if (bbpe_load(path, &t, err, sizeof err)) abort();
    unlink(path);
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bbpe_t *tok; /* loaded once per process: the harness's own state */
    if (!tok) tok = load();
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    int32_t *ids = NULL;
    size_t n = 0;
    if (bbpe_encode(tok, text, &ids, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || (size_t)ids[i] >= bbpe_vocab_size(tok)) abort();
        if (strlen(text) && !n) abort(); /* every byte is in some id */
        static int32_t t512[FLUX2_TEXT_LEN], mask[FLUX2_TEXT_LEN];
        int used = 0, total = 0;
        if (flux2_prompt_tokens(tok, text, FLUX2_TEXT_LEN, t512, mask, &used, &total)) abort();
        if (t512[0] != 301 || used < 1 || used > FLUX2_TEXT_LEN || total < used) abort();
        for (int i = 0; i < FLUX2_TEXT_LEN; i++)
            if (mask[i] != (i < used) || (i >= used && t512[i] != 300)) abort();
    }
    free(ids);
    free(text);
    return 0;
}
