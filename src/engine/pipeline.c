/* pipeline.c - text (and image) to image for any model family (engine/family.h): the request's
 * checks, prompt -> the family's conditioning, the seed's noise, sampling with the family's
 * denoiser, an edit's latents and mask, decoding, statistics, RGB. What depends on a model's
 * architecture lives in its family (engine/models/sd_family.c for Stable Diffusion). */
#include "common/cpus.h"
#include "engine/engine.h"
#include "engine/io/diffusers.h"
#include "common/clock.h"
#include "common/status.h"
#include "engine/family.h"
#include "engine/io/safetensors.h"
#include "engine/kernels/gemm.h"
#include "engine/runtime/engine_ctx.h"
#include "engine/sampling/rng.h"
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include "engine/sampling/sampler.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct eng_model {
    const fam_ops_t *ops;
    void *fam; /* the family's state, owned through ops->free */
    fam_desc_t desc;
    kctx_t kc;
    arena_t arena; /* work memory the family's networks borrow in turn (arena.h) */
    eng_stats_t stats;
    unsigned long long flops;
    double mark;
};

void eng_last_stats(const eng_model_t *m, eng_stats_t *out) {
    *out = m->stats;
}

int eng_probe_native(const char *checkpoint, int *native, int *multiple, char *err, size_t errlen) {
    st_file_t *f;
    int rc = st_open(checkpoint, &f, err, errlen);
    if (rc) return rc;
    fam_detect(f)->probe_native(f, native, multiple);
    st_close(f);
    return IMG_OK;
}

int eng_probe_edit(const char *checkpoint, const char *vae, const char *tiny_encoder,
                   const char *tiny_decoder, int *can_edit, int *inpaint) {
    *can_edit = *inpaint = 0;
    char err[256];
    st_file_t *f, *vf = NULL;
    int rc = st_open(checkpoint, &f, err, sizeof err);
    if (rc) return rc;
    if (vae && *vae && st_open(vae, &vf, err, sizeof err)) vf = NULL;
    if (vf) { /* a VAE in diffusers' layout, under the LDM names */
        st_file_t *view = NULL;
        int vrc = diffusers_vae_view(vf, &view, err, sizeof err);
        vf = view ? view : vrc ? NULL : vf;
    }
    fam_detect(f)->probe_edit(f, vf, tiny_encoder && *tiny_encoder ? tiny_encoder : tiny_decoder,
                              can_edit, inpaint);
    st_close(vf);
    st_close(f);
    return IMG_OK;
}

void eng_free(eng_model_t *m) {
    if (!m) return;
    if (m->ops) m->ops->free(m->fam);
    arena_free(&m->arena);
    kctx_destroy(&m->kc);
    free(m);
}

const eng_info_t *eng_info(const eng_model_t *m) {
    return &m->desc.info;
}

int eng_has_previews(const eng_model_t *m) {
    return m->desc.previews;
}

/* RGB floats (planar, range [lo, lo + 2*half]) -> 8-bit interleaved image. */
static void to_rgb8(const float *rgb, int w, int h, int zero_to_one, uint8_t *px) {
    size_t plane = (size_t)w * h;
    for (size_t q = 0; q < plane; q++)
        for (int c = 0; c < 3; c++) {
            float v = zero_to_one ? rgb[c * plane + q] : (rgb[c * plane + q] + 1.f) * 0.5f;
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            px[q * 3 + c] = (uint8_t)lrintf(v * 255.f);
        }
}

int eng_load(const eng_load_opts_t *o, eng_model_t **out, char *err, size_t errlen) {
    if (o->vae_tile > 0 && o->vae_tile_overlap * 2 >= o->vae_tile) {
        snprintf(err, errlen, "vae_tile_overlap (%d) must be under half of vae_tile (%d)",
                 o->vae_tile_overlap, o->vae_tile);
        return IMG_EINVAL;
    }
    if (errlen) err[0] = 0;
    eng_model_t *m = calloc(1, sizeof *m); /* owned by *out, or freed below */
    if (!m) {
        snprintf(err, errlen, "out of memory loading the model");
        return IMG_ENOMEM;
    }
    st_file_t *file = NULL, *f = NULL; /* f: the file, or its overlay with adapters merged */
    st_progress_t prog = {o->progress, o->progress_user, 0, 0};
    int rc = st_open(o->checkpoint, &file, err, errlen);
    f = file;
    if (!rc && o->nloras > 0) {
        rc = lora_apply(file, o->loras, o->nloras, o->threads > 0 ? o->threads : cpus_usable(), &f, NULL, err, errlen);
        if (rc) f = NULL;
        if (rc && rc != IMG_ENOMEM) rc = IMG_EADAPTER; /* the adapter's fault, err names it */
    }
    if (!rc && o->progress) st_track(f, &prog);
    if (!rc) rc = kctx_create(o->threads, o->isa, o->precision, &m->kc, err, errlen);
    m->kc.flops = &m->flops;
    if (!rc) {
        const fam_ops_t *ops = fam_detect(f);
        rc = ops->load(o, f, &m->kc, &m->arena, &m->fam, &m->desc, err, errlen);
        if (!rc) m->ops = ops;
    }
    if (!rc) {
        gemm_dp_kernel_t dk = gemm_dp_kernel(&m->kc); /* what gemm will run the pairs on */
        m->desc.info.products = !m->kc.bf16                 ? ENG_PRODUCTS_F32
                                : dk == GEMM_DP_AMX         ? ENG_PRODUCTS_BF16_AMX
                                : dk == GEMM_DP_AVX512_BF16 ? ENG_PRODUCTS_BF16_AVX512
                                                            : ENG_PRODUCTS_BF16_C;
    }
    if (f != file) st_close(f); /* weights were copied and packed */
    st_close(file);
#ifdef __GLIBC__
    /* loading freed many large temporaries (a block-quantized matrix widened to floats before
     * packing, up to 32 MiB each); past glibc's sliding mmap threshold they came from the heap,
     * whose free pages stay resident until trimmed: 150 MiB of a Q8_0 SD 2 file */
    malloc_trim(0);
#endif
    if (rc) {
        if (rc == IMG_ENOMEM && errlen && !err[0])
            snprintf(err, errlen, "out of memory loading the model");
        eng_free(m);
        return rc;
    }
    if (o->progress) o->progress(o->progress_user, 1.0);
    *out = m;
    return IMG_OK;
}

int eng_count_tokens(eng_model_t *m, const char *prompt) {
    return m->ops->count_tokens(m->fam, prompt);
}

/* ---- sampling ---- */

typedef struct {
    eng_model_t *m;
    void *job;
    int lh, lw;
    size_t n;
    rng_t *rng;
    eng_progress_fn progress;
    void *user;
    img_t *preview;     /* NULL unless previews were asked for and possible */
    float *preview_rgb; /* planar scratch for it */
    fam_edit_t edit;    /* an edit's latents (pipeline-owned), or all NULL */
    int blend;          /* outside the mask the prediction is held to the image's latent */
} run_ctx_t;

static int run_denoise(void *user, const float *x, float sigma, float *den) {
    run_ctx_t *r = user;
    eng_model_t *m = r->m;
    int rc = m->ops->denoise(m->fam, &m->kc, r->job, x, sigma, &r->edit, den);
    if (rc || !r->blend) return rc;
    size_t hw = (size_t)r->lh * r->lw; /* outside the mask the image is known */
    for (size_t k = 0; k < r->n; k++) {
        float mk = r->edit.mask_lat[k % hw];
        den[k] = mk * den[k] + (1.f - mk) * r->edit.z0[k];
    }
    return IMG_OK;
}

static void run_noise(void *user, int step, float *out, size_t n) {
    (void)step;
    run_ctx_t *r = user;
    rng_randn(r->rng, out, n);
}

static int run_step(void *user, int step, int steps, const float *x, const float *den) {
    (void)x;
    run_ctx_t *r = user;
    eng_model_t *m = r->m;
    double now = clock_mono();
    if (step < ENG_MAX_STAT_STEPS) m->stats.step_s[step] = now - m->mark;
    m->stats.steps = step + 1;
    const img_t *pv = NULL;
    if (r->preview &&
        m->ops->preview(m->fam, &m->kc, den, r->lh, r->lw, r->preview_rgb) == IMG_OK) {
        to_rgb8(r->preview_rgb, r->preview->width, r->preview->height, 1, r->preview->pixels);
        pv = r->preview;
    }
    int stop = r->progress && r->progress(r->user, step + 1, steps, pv);
    m->mark = clock_mono(); /* preview time is not charged to the next step */
    return stop ? IMG_ECANCELLED : 0;
}

/* An edit's latents: z0, the image's latent; with a mask, the latent mask (for a 9-channel UNet
 * the nearest sample of the thresholded mask, as the reference builds it; for blending, any
 * latent pixel whose block touches the mask) and, for a 9-channel UNet, the latent of the image
 * with the masked area zeroed. */
/* RGB planes in [-1, 1] of an 8-bit image (its first three channels, or its grey one). */
static void image_planes(const img_t *im, float *img) {
    size_t HW = (size_t)im->width * im->height;
    int ch = im->channels;
    for (size_t i = 0; i < HW; i++)
        for (int c = 0; c < 3; c++)
            img[c * HW + i] = im->pixels[i * ch + (ch >= 3 ? c : 0)] / 127.5f - 1.f;
}

static int edit_latents(eng_model_t *m, const eng_params_t *p, int W, int H, int lh, int lw,
                        float *z0, float *mask_lat, float *masked_lat) {
    int inpaint = m->desc.info.inpaint_unet;
    size_t HW = (size_t)W * H, n = (size_t)m->desc.info.latent_channels * lh * lw;
    float *img = malloc(sizeof(float) * 3 * HW); /* freed here */
    if (!img) return IMG_ENOMEM;
    const uint8_t *px = p->init_image->pixels;
    int ch = p->init_image->channels;
    image_planes(p->init_image, img);
    int rc = m->ops->encode_image(m->fam, &m->kc, img, H, W, z0);
    for (int i = 0; !rc && i < p->nmore; i++) { /* the other references, after the first */
        image_planes(p->more_images[i], img);
        rc = m->ops->encode_image(m->fam, &m->kc, img, H, W, z0 + (size_t)(i + 1) * n);
    }
    if (!rc && p->mask) {
        int up = H / lh;
        for (int y = 0; y < lh; y++)
            for (int x = 0; x < lw; x++) {
                float v = 0;
                if (inpaint) {
                    v = p->mask[(size_t)(y * H / lh) * W + (size_t)(x * W / lw)] ? 1.f : 0.f;
                } else {
                    for (int dy = 0; dy < up && !v; dy++)
                        for (int dx = 0; dx < up && !v; dx++)
                            v = p->mask[(size_t)(y * up + dy) * W + (size_t)(x * up + dx)] ? 1.f
                                                                                           : 0.f;
                }
                mask_lat[(size_t)y * lw + x] = v;
            }
        if (inpaint) {
            for (size_t i = 0; i < HW; i++)
                for (int c = 0; c < 3; c++)
                    img[c * HW + i] =
                        p->mask[i] ? 0.f : px[i * ch + (ch >= 3 ? c : 0)] / 127.5f - 1.f;
            rc = m->ops->encode_image(m->fam, &m->kc, img, H, W, masked_lat);
        }
    }
    free(img);
    return rc;
}

int eng_generate(eng_model_t *m, const eng_params_t *p, eng_progress_fn progress, void *user,
                 img_t *out) {
    const eng_info_t *info = &m->desc.info;
    int up = m->desc.upscale;
    int mult = info->multiple; /* latent sizes must halve as often as the denoiser downsamples */
    int W = p->width / mult * mult, H = p->height / mult * mult;
    if (W < mult || H < mult || p->steps < 1 || p->steps > 1000 || !p->prompt) return IMG_EINVAL;
    int edit = p->init_image != NULL;
    int nimg = edit ? 1 + (p->nmore > 0 ? p->nmore : 0) : 0; /* input images */
    if (edit && (!info->can_edit || p->init_image->width != W || p->init_image->height != H ||
                 !(p->strength > 0.f && p->strength <= 1.f) || nimg > info->max_images))
        return IMG_EINVAL;
    for (int i = 0; i + 1 < nimg; i++)
        if (!p->more_images[i] || p->more_images[i]->width != W || p->more_images[i]->height != H)
            return IMG_EINVAL;
    if (!edit && info->inpaint_unet) return IMG_EUNSUPPORTED; /* it needs an image and mask */
    int lh = H / up, lw = W / up;
    size_t n = (size_t)info->latent_channels * lh * lw, hw = (size_t)lh * lw;
    /* x, the sampler's work (3n), the RGB planes; edits: z0, the masked image's latent, the
     * latent mask */
    float *mem = malloc(sizeof(float) * (4 * n + 3 * (size_t)H * W));
    /* every input image's latent, the masked image's, the latent mask */
    float *ebuf = edit ? malloc(sizeof(float) * ((size_t)(nimg + 1) * n + hw)) : NULL;
    if (!mem || (edit && !ebuf)) {
        free(mem);
        free(ebuf);
        return IMG_ENOMEM;
    }
    float *x = mem, *work = x + n, *rgb = work + 3 * n;
    float *z0 = ebuf, *masked_lat = ebuf ? z0 + (size_t)nimg * n : NULL,
          *mask_lat = ebuf ? masked_lat + n : NULL;
    img_t preview = {0};
    int want_preview = p->previews && m->desc.previews && progress;
    if (want_preview && img_alloc(&preview, W, H, 3)) want_preview = 0;
    memset(&m->stats, 0, sizeof m->stats);
    m->stats.width = W;
    m->stats.height = H;
    double t_start = clock_mono();
    m->ops->count_tokens(m->fam, p->prompt);
    m->stats.tokenize_s = clock_mono() - t_start;
    m->flops = 0;
    double t_text = clock_mono();
    fam_request_t req = {p->prompt,
                         p->negative_prompt ? p->negative_prompt : "",
                         p->guidance > 1.f,
                         p->guidance,
                         W,
                         H,
                         nimg,
                         edit && p->mask && info->inpaint_unet};
    void *job = NULL;
    int rc = m->ops->begin(m->fam, &m->kc, &req, &job);
    m->stats.text_s = clock_mono() - t_text;
    m->stats.text_gflop = (double)m->flops / 1e9;
    m->flops = 0;
    if (!rc && edit) {
        double t_enc = clock_mono();
        if (!p->mask)
            for (size_t k = 0; k < hw; k++)
                mask_lat[k] = 1.f;
        rc = edit_latents(m, p, W, H, lh, lw, z0, mask_lat, masked_lat);
        m->stats.encode_s = clock_mono() - t_enc;
        m->stats.encode_gflop = (double)m->flops / 1e9;
        m->flops = 0;
    }
    float sigmas[1025];
    if (!rc) {
        int steps = p->steps;
        m->ops->sigmas(m->fam, job, steps, p->schedule, sigmas);
        /* an edit runs the last part of the schedule from the image re-noised to its start; a
         * mask regenerates its area entirely (strength 1); a family that edits by reference
         * starts from noise and is given the image's latent at every step */
        int start = 0, by_ref = m->desc.edit_by_reference;
        if (edit && !p->mask && !by_ref) {
            int run = (int)lroundf(p->strength * (float)steps);
            start = steps - (run < 1 ? 1 : run);
        }
        rng_t rng;
        rng_seed(&rng, p->seed);
        if (p->noise)
            memcpy(x, p->noise, sizeof *x * n);
        else
            rng_randn(&rng, x, n);
        m->ops->noised(edit && !by_ref ? z0 : NULL, x, sigmas[start], n, x);
        run_ctx_t r = {m,
                       job,
                       lh,
                       lw,
                       n,
                       &rng,
                       progress,
                       user,
                       want_preview ? &preview : NULL,
                       rgb,
                       {edit ? z0 : NULL, edit ? mask_lat : NULL, edit ? masked_lat : NULL,
                        edit ? z0 : NULL, nimg},
                       edit && p->mask && !info->inpaint_unet};
        sampler_io_t io = {run_denoise, run_noise, run_step, &r};
        m->mark = clock_mono();
        rc =
            sampler_run((sampler_kind_t)p->sampler, x, n, sigmas + start, steps - start, &io, work);
    }
    m->ops->end(job);
    m->stats.steps_gflop = (double)m->flops / 1e9;
    m->flops = 0;
    double t_dec = clock_mono();
    int zero_to_one = 0;
    /* the denoiser's convolutions borrowed more of the context's scratch (Winograd's transformed
     * tiles: 62 MiB for SD 2's UNet at 512x512) than the decoder's do (about 10 MiB): returned to
     * the system before the decoder, where a request's memory peaks */
    if (m->kc.scratch) arena_free(m->kc.scratch);
#ifdef __GLIBC__
    malloc_trim(0); /* and the heap pages the denoising steps freed */
#endif
    if (!rc) rc = m->ops->decode(m->fam, &m->kc, x, lh, lw, p->fast_decode, rgb, &zero_to_one);
    m->stats.decode_s = clock_mono() - t_dec;
    m->stats.decode_gflop = (double)m->flops / 1e9;
    m->stats.total_s = clock_mono() - t_start;
    if (!rc && p->decoded) {
        memcpy(p->decoded, rgb, sizeof *rgb * 3 * (size_t)W * H);
        if (p->decoded_zero_to_one) *p->decoded_zero_to_one = zero_to_one;
    }
    if (!rc) rc = img_alloc(out, W, H, 3);
    if (!rc) to_rgb8(rgb, W, H, zero_to_one, out->pixels);
    img_free(&preview);
    free(mem);
    free(ebuf);
    /* The networks' shared work memory goes back to the system between requests: kept, the
     * decoder's 320 MiB (SD 2 at 512x512) would sit under the next request's denoising steps
     * beside their own Winograd scratch, 60 MiB above the decoder's peak; faulted in again on
     * huge pages, it costs a few tens of milliseconds a request. */
    arena_free(&m->arena);
    if (m->kc.scratch) arena_free(m->kc.scratch);
    return rc;
}
