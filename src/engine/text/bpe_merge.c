/* bpe_merge.c - the BPE merge loop (bpe_merge.h). */
#include "engine/text/bpe_merge.h"

size_t bpe_merge(int32_t *sym, size_t n, bpe_pair_fn pair, const void *ctx) {
    size_t m = n;
    for (;;) {
        uint32_t best = UINT32_MAX, rank;
        int32_t merged, best_merged = -1;
        size_t at = 0;
        for (size_t i = 0; i + 1 < m; i++)
            if (pair(ctx, sym[i], sym[i + 1], &rank, &merged) && rank < best) {
                best = rank;
                best_merged = merged;
                at = i;
            }
        if (best == UINT32_MAX) return m;
        int32_t a = sym[at], b = sym[at + 1];
        size_t w = 0; /* every occurrence of the best pair, left to right */
        for (size_t i = 0; i < m;) {
            if (i + 1 < m && sym[i] == a && sym[i + 1] == b) {
                sym[w++] = best_merged;
                i += 2;
            } else {
                sym[w++] = sym[i++];
            }
        }
        m = w;
    }
}
