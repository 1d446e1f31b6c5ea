/* debug.h - the `imgapi debug` components (one file per group) and what they share: reading
 * tensors as f32 and writing intermediate taps under the golden sets' names. */
#ifndef IMGAPI_CLI_DEBUG_H
#define IMGAPI_CLI_DEBUG_H
#include "config/config.h"
#include "engine/io/safetensors.h"
#include "engine/kernels/kctx.h"
#include "engine/models/weights.h"

/* What every network component opens and closes: the weights, the inputs, a kernel context and
 * an output writer. dbg_open prints the reason and returns nonzero on failure; dbg_close frees
 * whatever was opened. */
typedef struct {
    st_file_t *wf, *inf;
    st_file_t *base; /* with adapters: the weights file, wf its merged overlay */
    kctx_t kc;
    int wflags; /* how networks are loaded: W_BF16 with precision bf16, W_Q8 with --quantize q8 */
    st_writer_t *w;
    char err[512];
} dbg_env_t;
int dbg_open(dbg_env_t *e, const config_t *cfg, const char *weights, const char *inputs, int q8);
/* Adapters given as `--lora FILE[:SCALE]` (scale 1 when absent), merged into *wf: on success
 * *base receives the file and *wf its overlay (close both, *wf first). Prints what was applied
 * to standard error, or the reason; nonzero on failure. */
int dbg_loras(st_file_t **wf, st_file_t **base, const char *const *loras, int n);
void dbg_close(dbg_env_t *e);

/* A malloc'd f32 copy of tensor `name` (NULL when absent); *t gets the tensor. */
float *dbg_read_f32(const st_file_t *f, const char *name, int64_t *numel, const st_tensor_t **t);

/* Intermediate outputs (NHWC in, written NCHW) as KEY.intermediate.NAME. */
typedef struct {
    st_writer_t *w;
    const char *key;
    int failed;
} tap_ctx_t;
void dbg_tap_write(void *user, const char *name, const float *x, int h, int w, int c);

int debug_tokenizer(const char *weights, const char *inputs, const char *out);
/* text-encoder and unet apply the adapters loras (nloras of them, "FILE[:SCALE]") first. */
/* q8: the networks' matrices and convolutions held as 8-bit panels (--quantize q8). */
int debug_text_encoder(const config_t *cfg, const char *weights, const char *inputs, const char *out,
                       const char *prefix, const char *const *loras, int nloras, int q8);
int debug_unet(const config_t *cfg, const char *weights, const char *inputs, const char *out,
               const char *const *loras, int nloras, int q8);
int debug_vae(const config_t *cfg, const char *weights, const char *inputs, const char *out, int q8);
int debug_vae_encoder(const config_t *cfg, const char *weights, const char *inputs,
                      const char *out, int q8);
int debug_inpaint_condition(const config_t *cfg, const char *weights, const char *vae_path,
                            const char *inputs, const char *out, int q8);
int debug_tiny(const config_t *cfg, int encoder, const char *weights, const char *inputs, const char *out);
/* The FLUX.2 autoencoder: latent -> image (decoder), image -> latent, moments, mean (encoder),
 * for every case PREFIX.latent / PREFIX.image of the inputs. */
int debug_flux_ae(const config_t *cfg, int encoder, const char *weights, const char *inputs, const char *out, int q8);
/* FLUX.2's transformer: x, x_ids, timesteps, ctx, ctx_ids (, guidance) -> out per case. */
int debug_flux_transformer(const config_t *cfg, const char *weights, const char *inputs, const char *out, int q8);
/* FLUX.2's schedule (PREFIX.steps, PREFIX.seq_len -> PREFIX.timesteps; no weights) and its
 * sampler (the transformer's inputs with .timesteps and optional .ref / .ref_ids -> .out). */
int debug_flux_schedule(const char *inputs, const char *out);
int debug_flux_sampler(const config_t *cfg, const char *weights, const char *inputs, const char *out, int q8);
/* Qwen3 as FLUX.2's text encoder: tokens (, attention_mask) -> ctx and hidden_states.N. */
/* Byte-level BPE (Qwen's tokenizer) on JSON cases: plain ids and FLUX.2 [klein]'s padded ids. */
int debug_qwen_tokenizer(const char *weights, const char *inputs, const char *out);
/* The FLUX.2 pipeline end to end from the four files in dir (transformer, ae, text_encoder
 * .safetensors - the transformer may be transformer.gguf instead - and tokenizer.json): per case, noise and metadata prompt and steps (and an edit's
 * image) -> the decoder's output. */
int debug_flux_pipeline(const config_t *cfg, const char *dir, const char *inputs, const char *out, int q8);
int debug_qwen3_text(const config_t *cfg, const char *weights, const char *inputs, const char *out, int q8);
int debug_sampler(const char *inputs, const char *out);
int debug_rng(const char *inputs, const char *out);

#endif
