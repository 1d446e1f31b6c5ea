/* bpe_merge.h - the merge loop both BPE tokenizers share (CLIP's tokenizer.c and the byte-level
 * bbpe.c): a word's symbols are merged pair by pair, the pair of lowest rank present first and
 * every occurrence of it left to right, until no neighbouring pair has a rank. */
#ifndef IMGAPI_ENGINE_TEXT_BPE_MERGE_H
#define IMGAPI_ENGINE_TEXT_BPE_MERGE_H
#include <stddef.h>
#include <stdint.h>

/* 1 with *rank and the *merged symbol when (a, b) is a merge of the vocabulary ctx, else 0. */
typedef int (*bpe_pair_fn)(const void *ctx, int32_t a, int32_t b, uint32_t *rank, int32_t *merged);

/* Merges sym[0..n) in place; returns how many symbols are left. */
size_t bpe_merge(int32_t *sym, size_t n, bpe_pair_fn pair, const void *ctx);

#endif
