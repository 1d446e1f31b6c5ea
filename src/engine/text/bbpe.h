/* bbpe.h - byte-level BPE, the tokenizer of GPT-2 as Qwen2 and Qwen3 (FLUX.2 [klein]'s text
 * encoder) use it through Hugging Face's tokenizer.json:
 *
 *   1. added tokens ("<|im_start|>", "<think>", ...) are matched in the raw text first, the
 *      longest at the leftmost place, and become their ids as they are;
 *   2. the text between them is normalised to Unicode NFC;
 *   3. split into pieces by the pre-tokenizer pattern Qwen2 publishes,
 *        (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 *        \s*[\r\n]+|\s+(?!\S)|\s+
 *      (ordered alternatives, the first that matches at a place wins; \s is Unicode White_Space);
 *   4. each piece's UTF-8 bytes are mapped to GPT-2's printable byte characters and merged by the
 *      merge list's ranks, lowest first; the merged symbols are the vocabulary's ids.
 *
 * No beginning or end token is added and nothing is lower-cased. Added tokens' lstrip, rstrip and
 * single_word flags are not read (Qwen's are all false). */
#ifndef IMGAPI_ENGINE_TEXT_BBPE_H
#define IMGAPI_ENGINE_TEXT_BBPE_H
#include <stddef.h>
#include <stdint.h>

typedef struct bbpe bbpe_t;

/* From path: a tokenizer.json, a folder holding one, or a folder with vocab.json and merges.txt
 * (added tokens then from its tokenizer_config.json's added_tokens_decoder, when there is one).
 * Owned by *out (bbpe_free). IMG_EIO, IMG_EFORMAT (err says what), IMG_ENOMEM. */
int bbpe_load(const char *path, bbpe_t **out, char *err, size_t errlen);
void bbpe_free(bbpe_t *t);
/* One more than the largest id (vocabulary and added tokens). */
size_t bbpe_vocab_size(const bbpe_t *t);
/* The id of a vocabulary entry or added token written exactly so; -1 when there is none. */
int32_t bbpe_id(const bbpe_t *t, const char *token);
/* The ids of text (UTF-8; an invalid byte is a piece of its own, mapped as a byte); *ids is
 * malloc'd, owned by the caller (never NULL on success, even for no ids). IMG_EFORMAT when a byte
 * has no symbol in the vocabulary, IMG_ENOMEM. */
int bbpe_encode(const bbpe_t *t, const char *text, int32_t **ids, size_t *n);

#endif
