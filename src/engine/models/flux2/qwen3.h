/* qwen3.h - the Qwen3 language model as FLUX.2 [klein]'s text encoder (Hugging Face
 * transformers' Qwen3Model: token embedding, decoder layers of RMSNorm, grouped-query causal
 * attention with per-head q/k RMSNorm and rotary positions (half rotation, theta 1e6), and a
 * SiLU-gated MLP). FLUX.2 takes the hidden states after a quarter, half and three quarters of
 * the layers (9, 18, 27 of Qwen3-4B's 36), stacked along the features: the 7680-wide context of
 * [klein] 4B. Structure from the tensors (Qwen3ForCausalLM's names under "model.", or bare). */
#ifndef IMGAPI_ENGINE_MODELS_QWEN3_H
#define IMGAPI_ENGINE_MODELS_QWEN3_H
#include "engine/io/safetensors.h"
#include "engine/kernels/kctx.h"
#include <stddef.h>
#include <stdint.h>

typedef struct qwen3 qwen3_t;

typedef struct {
    int vocab, hidden, heads, kv_heads, head_dim, layers, intermediate;
} qwen3_info_t;

/* wflags as unet_load's (weights.h). Owned by *out (qwen3_free); f may be closed after. */
int qwen3_load(const st_file_t *f, int wflags, qwen3_t **out, char *err, size_t errlen);
void qwen3_free(qwen3_t *m);
const qwen3_info_t *qwen3_info(const qwen3_t *m);
/* The layers FLUX.2 stacks: layers / 4, layers / 2, 3 * layers / 4 (counts of layers run). */
void qwen3_flux2_layers(const qwen3_t *m, int out[3]);

/* tokens[n] (ids below vocab) with mask[n] (1 for each token, then 0 for padding: right padding
 * only; NULL: no padding) -> ctx [n, nstack * hidden]: the hidden state after stack[i] layers in
 * columns [i * hidden, (i + 1) * hidden). A padding token attends to every real token, a real
 * one to those up to itself. IMG_EINVAL for a bad id, mask or layer; IMG_ENOMEM. */
int qwen3_hidden(const qwen3_t *m, const kctx_t *kc, const int32_t *tokens, const int32_t *mask,
                 int n, const int *stack, int nstack, float *ctx);

#endif
