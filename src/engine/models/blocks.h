/* blocks.h - building blocks shared by the UNet and the VAE: GroupNorm parameters, ResNet
 * blocks (with an optional timestep projection), spatial transformers, resampling. All act on
 * channels-last images [h*w, c]. */
#ifndef IMGAPI_ENGINE_MODELS_BLOCKS_H
#define IMGAPI_ENGINE_MODELS_BLOCKS_H
#include "engine/kernels/conv.h"
#include "engine/kernels/gemm.h"
#include "engine/models/weights.h"

typedef struct {
    int c;
    float *g, *b;
    float eps;
} gnorm_t;

typedef struct {
    int cin, cout;
    gnorm_t n1, n2;
    conv2d_t conv1, conv2;
    int has_emb;
    gemm_w_t emb; /* [cout, emb_dim] */
    float *emb_b;
    int has_skip;
    conv2d_t skip; /* 1x1 when cin != cout */
} resblock_t;

typedef struct {
    float *n1_g, *n1_b, *n2_g, *n2_b, *n3_g, *n3_b;
    gemm_w_t qkv;          /* self-attention q,k,v: [3c, c] */
    gemm_w_t out1, q2, kv2, out2, ff1, ff2;
    float *out1_b, *out2_b, *ff1_b, *ff2_b;
} tblock_t;

typedef struct {
    int c, heads, depth, ctx_dim;
    gnorm_t norm;
    gemm_w_t proj_in, proj_out;
    float *proj_in_b, *proj_out_b;
    tblock_t *blocks;
} transformer_t;

/* The KL VAE's single-head self-attention over all pixels (mid.attn_1 of the encoder and the
 * decoder): GroupNorm, fused q/k/v 1x1 convolutions, attention, proj_out, residual. */
typedef struct {
    int c;
    gnorm_t norm;
    gemm_w_t qkv, proj;
    float *qkv_b, *proj_b;
} vae_attn_t;

/* Loaders: names are relative to wl->prefix + base. Return IMG_OK or an error (wl->err). */
int gnorm_load(wload_t *wl, const char *name, int c, float eps, gnorm_t *out);
void gnorm_free(gnorm_t *g);
/* LDM ResBlock (in_layers/emb_layers/out_layers/skip_connection) when ldm, else the VAE's
 * ResnetBlock (norm1/conv1/norm2/conv2/nin_shortcut). */
int resblock_load(wload_t *wl, const char *base, int ldm, float eps, resblock_t *out);
void resblock_free(resblock_t *r);
int transformer_load(wload_t *wl, const char *base, int heads_hint, int head_dim_hint, transformer_t *out);
void transformer_free(transformer_t *t);
/* base: e.g. "mid.attn_1." */
int vae_attn_load(wload_t *wl, const char *base, vae_attn_t *out);
void vae_attn_free(vae_attn_t *a);
/* Scratch of vae_attn_forward for hw pixels (floats). */
size_t vae_attn_scratch(const vae_attn_t *a, size_t hw);
/* y = x + attention(x) over hw pixels of a->c channels; x and y must differ. */
void vae_attn_forward(const kctx_t *kc, const vae_attn_t *a, const float *x, size_t hw, float *y,
                      float *scratch);
int conv_load(wload_t *wl, const char *name, int stride, int pad, conv2d_t *out);

/* Scratch a block needs beyond its input and output (floats). */
size_t resblock_scratch(const resblock_t *r, int h, int w);
size_t transformer_scratch(const transformer_t *t, int h, int w, int nctx);

/* y = block(x); x and y must differ; emb is the projected-to-nothing time embedding (SiLU is
 * applied here), NULL for the VAE. */
void resblock_forward(const kctx_t *kc, const resblock_t *r, const float *x, int h, int w,
                      const float *emb, float *y, float *scratch);
/* The same when x is not needed afterwards: x's memory is overwritten (contents lost), which
 * lets a block with a skip convolution (cin != cout) need a scratch of only hw * cout. */
size_t resblock_scratch_consuming(const resblock_t *r, int h, int w);
void resblock_forward_consuming(const kctx_t *kc, const resblock_t *r, float *x, int h, int w,
                                const float *emb, float *y, float *scratch);
void transformer_forward(const kctx_t *kc, const transformer_t *t, const float *x, int h, int w,
                         const float *ctx, int nctx, float *y, float *scratch);

#endif
