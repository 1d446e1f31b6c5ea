/* attention.h - fused multi-head attention: softmax(Q K^T / sqrt(d)) V with an online softmax
 * over key blocks, so no nq x nk matrix is ever stored. Heads are column slices: head h of a
 * row is columns [h*dh, (h+1)*dh). */
#ifndef IMGAPI_ENGINE_KERNELS_ATTENTION_H
#define IMGAPI_ENGINE_KERNELS_ATTENTION_H
#include "engine/kernels/kctx.h"

#define ATTN_MAX_HEAD_DIM 512

/* Picks the faster of the two ways (attention.c): blocked GEMMs for long non-causal key
 * sequences on AVX2/AVX-512, else the fused online-softmax kernel. */
void attention(const kctx_t *kc, const float *q, int ldq, const float *k, int ldk, const float *v,
               int ldv, int nq, int nk, int heads, int dh, int causal, float *out, int ldo);
/* The fused kernel alone (benchmarks and tests compare the two). */
void attention_fused(const kctx_t *kc, const float *q, int ldq, const float *k, int ldk,
                     const float *v, int ldv, int nq, int nk, int heads, int dh, int causal,
                     float *out, int ldo);

#endif
