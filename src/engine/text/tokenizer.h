/* tokenizer.h - the CLIP byte-level BPE tokenizer, as SD's text encoders use it.
 *
 * Text cleaning follows the reference exactly: Unicode NFC, HTML unescape twice, whitespace
 * runs collapsed and trimmed, lower case, then the CLIP pre-tokenizer pattern and BPE. */
#ifndef IMGAPI_ENGINE_TEXT_TOKENIZER_H
#define IMGAPI_ENGINE_TEXT_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>

#define TOK_CONTEXT 77

typedef struct tokenizer tokenizer_t;

/* Loads from the gzipped BPE merges list (bpe_simple_vocab_16e6.txt.gz), from a diffusers
 * tokenizer folder (vocab.json + merges.txt), or from a vocab.json whose merges.txt sits beside
 * it. On failure returns an error with a reason in err. */
int tok_load(const char *path, tokenizer_t **out, char *err, size_t errlen);
int tok_load_bpe_gz(const char *path, tokenizer_t **out, char *err, size_t errlen);
int tok_load_vocab_merges(const char *vocab_json, const char *merges_txt, tokenizer_t **out,
                          char *err, size_t errlen);
void tok_free(tokenizer_t *t);

int32_t tok_sot(const tokenizer_t *t);
int32_t tok_eot(const tokenizer_t *t);
size_t tok_vocab_size(const tokenizer_t *t);

/* BPE ids of a text, without start/end tokens. *ids is malloc'd (caller frees). */
int tok_encode(const tokenizer_t *t, const char *text, int32_t **ids, size_t *n);
/* [SOT] + ids[:75] + [EOT], padded to 77 with pad (0 as OpenCLIP does, or EOT as SD1 does).
 * Returns the index of the EOT token (the pooling position). */
int tok_context(const tokenizer_t *t, const int32_t *ids, size_t n, int32_t pad,
                int32_t out[TOK_CONTEXT]);
/* The same for an encoder with a shorter context: len (2..TOK_CONTEXT) tokens, ids[:len-2]. */
int tok_context_len(const tokenizer_t *t, const int32_t *ids, size_t n, int32_t pad, int len,
                    int32_t *out);
/* Decodes ids back to text (for debugging); malloc'd string. */
char *tok_decode(const tokenizer_t *t, const int32_t *ids, size_t n);

/* The cleaning step alone (NFC, unescape, whitespace, lower case); malloc'd UTF-8. */
char *tok_clean_text(const char *text);

#endif
