/* test_bbpe.c - byte-level BPE (engine/text/bbpe.h) under allocation failure: loading a
 * tokenizer.json and encoding fail with IMG_ENOMEM at every allocation, leaving nothing behind
 * (the ASan run's leak check), or give the ids they give without the failure. The ids themselves
 * are checked against an independent implementation in tests/engine/qwen_tokenizer.py. */
#include "common/status.h"
#include "engine/text/bbpe.h"
#include "tests/unit/fault_alloc.h"
#include "tests/unit/harness.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A tokenizer.json of the 256 byte symbols, a few merges and two added tokens, at path. */
static int write_tokenizer(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "{\"added_tokens\": [{\"id\": 300, \"content\": \"<|endoftext|>\"}, {\"id\": 301, "
               "\"content\": "
               "\"<|im_start|>\"}, {\"id\": 302, \"content\": \"<|im_end|>\"}],\n \"model\": "
               "{\"type\": \"BPE\", "
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
    fprintf(f, "\"he\": 256, \"ll\": 257, \"hell\": 258, \"hello\": 259, \"\\u0120w\": 260},\n"
               " \"merges\": [\"h e\", \"l l\", \"he ll\", [\"hell\", \"o\"], \"\\u0120 w\"]}}\n");
    return fclose(f);
}

void test_bbpe_out_of_memory(void) {
    char path[] = "/tmp/imgapi-bbpe-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    CHECK(write_tokenizer(path) == 0);
    char err[256];
    bbpe_t *t = NULL;
    fault_alloc_arm(0);
    CHECK(bbpe_load(path, &t, err, sizeof err) == IMG_OK && t);
    long n = fault_alloc_disarm();
    static const char *const TEXT = "<|im_start|>hello world<|im_end|> 12 \xc3\xa9t\xc3\xa9";
    int32_t *want = NULL, *got = NULL;
    size_t nwant = 0, ngot = 0;
    CHECK(t && bbpe_encode(t, TEXT, &want, &nwant) == IMG_OK && nwant > 5);
    CHECK(want && want[0] == 301 && want[1] == 259); /* the added token, then "hello" merged */
    bbpe_free(t);
    for (long k = 1; k <= n; k++) {
        t = NULL;
        err[0] = 0;
        fault_alloc_arm(k);
        int rc = bbpe_load(path, &t, err, sizeof err);
        fault_alloc_disarm();
        if (rc == IMG_OK) { /* an allocation jansson may retry or do without */
            bbpe_free(t);
            continue;
        }
        if (!(rc == IMG_ENOMEM && t == NULL && err[0]))
            fprintf(stderr, "  k=%ld rc=%d err=%s\n", k, rc, err);
        CHECK(rc == IMG_ENOMEM && t == NULL && err[0]);
    }
    CHECK(bbpe_load(path, &t, err, sizeof err) == IMG_OK);
    fault_alloc_arm(0);
    CHECK(t && bbpe_encode(t, TEXT, &got, &ngot) == IMG_OK);
    n = fault_alloc_disarm();
    free(got);
    for (long k = 1; t && k <= n; k++) {
        got = NULL;
        fault_alloc_arm(k);
        int rc = bbpe_encode(t, TEXT, &got, &ngot);
        fault_alloc_disarm();
        CHECK(rc == IMG_ENOMEM ||
              (rc == IMG_OK && ngot == nwant && !memcmp(got, want, nwant * sizeof *got)));
        if (rc == IMG_OK) free(got);
    }
    free(want);
    bbpe_free(t);
    unlink(path);
}
