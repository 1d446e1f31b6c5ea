/* flux2_ae.c - the FLUX.2 autoencoder: the KL encoder and decoder of the LDM family with a
 * patchified, BatchNorm-normalised latent (flux2_ae.h). */
#include "engine/models/flux2/flux2_ae.h"
#include "common/status.h"
#include "engine/models/vae.h"
#include "engine/models/vae_encoder.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATCH 2
#define BN_EPS 1e-4f

struct flux2_ae {
    vae_t *dec;
    vae_encoder_t *enc; /* NULL: a decoder-only file */
    int z;              /* z_channels */
    float *mean, *std;  /* per latent channel (4z): running_mean, sqrt(running_var + eps) */
};

void flux2_ae_free(flux2_ae_t *a) {
    if (!a) return;
    vae_free(a->dec);
    vae_encoder_free(a->enc);
    free(a->mean);
    free(a->std);
    free(a);
}

/* A running statistic of n values as floats (malloc'd, owned by the caller); NULL with err. */
static float *read_stat(const st_file_t *f, const char *name, int n, char *err, size_t errlen,
                        int *rc) {
    const st_tensor_t *t = st_find(f, name);
    if (!t || t->numel != n) {
        snprintf(err, errlen, "FLUX.2 autoencoder: %s must hold %d values", name, n);
        *rc = IMG_EFORMAT;
        return NULL;
    }
    float *v = malloc(sizeof *v * (size_t)n);
    if (!v) {
        snprintf(err, errlen, "FLUX.2 autoencoder: out of memory");
        *rc = IMG_ENOMEM;
        return NULL;
    }
    if (st_to_f32(t, v, (size_t)n)) {
        snprintf(err, errlen, "FLUX.2 autoencoder: cannot read %s", name);
        *rc = IMG_EFORMAT;
        free(v);
        return NULL;
    }
    return v;
}

int flux2_ae_load(const st_file_t *f, int wflags, flux2_ae_t **out, char *err, size_t errlen) {
    *out = NULL;
    flux2_ae_t *a = calloc(1, sizeof *a);
    if (!a) return IMG_ENOMEM;
    int rc = vae_load(f, wflags, &a->dec, err, errlen);
    if (!rc) {
        int erc = vae_encoder_load(f, wflags, &a->enc, err, errlen);
        if (erc && erc != IMG_ENOTFOUND) rc = erc;
        if (!rc && a->enc && vae_encoder_latent_channels(a->enc) != vae_latent_channels(a->dec)) {
            snprintf(err, errlen, "FLUX.2 autoencoder: the encoder's and decoder's latents differ");
            rc = IMG_EFORMAT;
        }
    }
    if (!rc) {
        a->z = vae_latent_channels(a->dec);
        int n = PATCH * PATCH * a->z;
        a->mean = read_stat(f, "bn.running_mean", n, err, errlen, &rc);
        float *var = rc ? NULL : read_stat(f, "bn.running_var", n, err, errlen, &rc);
        if (var) {
            a->std = var; /* turned into sqrt(var + eps) in place */
            for (int c = 0; c < n; c++)
                a->std[c] = sqrtf(var[c] + BN_EPS);
        }
    }
    if (rc) {
        flux2_ae_free(a);
        return rc;
    }
    *out = a;
    return IMG_OK;
}

int flux2_ae_latent_channels(const flux2_ae_t *a) {
    return PATCH * PATCH * a->z;
}
int flux2_ae_scale(const flux2_ae_t *a) {
    return PATCH * vae_upscale(a->dec);
}
int flux2_ae_has_encoder(const flux2_ae_t *a) {
    return a->enc != NULL;
}

int flux2_ae_decode(flux2_ae_t *a, const kctx_t *kc, const float *latent, int h, int w,
                    float *image) {
    int z = a->z, H = PATCH * h, W = PATCH * w;
    float *x = malloc(sizeof *x * (size_t)z * H * W); /* the unpatchified latent; freed here */
    if (!x) return IMG_ENOMEM;
    for (int c = 0; c < z; c++)
        for (int pi = 0; pi < PATCH; pi++)
            for (int pj = 0; pj < PATCH; pj++) {
                int lc = (c * PATCH + pi) * PATCH + pj;
                const float *src = latent + (size_t)lc * h * w;
                float s = a->std[lc], m = a->mean[lc];
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++)
                        x[((size_t)c * H + PATCH * i + pi) * W + PATCH * j + pj] =
                            src[(size_t)i * w + j] * s + m;
            }
    int rc = vae_decode(a->dec, kc, x, H, W, image, NULL, NULL);
    free(x);
    return rc;
}

int flux2_ae_encode(flux2_ae_t *a, const kctx_t *kc, const float *image, int h, int w,
                    float *latent, float *moments, float *mean) {
    if (!a->enc) return IMG_ENOTFOUND;
    int s = vae_encoder_downscale(a->enc), z = a->z;
    if (h % (PATCH * s) || w % (PATCH * s)) return IMG_EINVAL;
    int H = h / s, W = w / s, lh = H / PATCH, lw = W / PATCH;
    float *mom = moments ? moments : malloc(sizeof *mom * 2 * (size_t)z * H * W); /* freed here */
    if (!mom) return IMG_ENOMEM;
    int rc = vae_encode_moments(a->enc, kc, image, h, w, mom, NULL, NULL);
    if (!rc && mean) memcpy(mean, mom, sizeof *mean * (size_t)z * H * W);
    for (int c = 0; !rc && c < z; c++) /* the mean is the moments' first z channels */
        for (int pi = 0; pi < PATCH; pi++)
            for (int pj = 0; pj < PATCH; pj++) {
                int lc = (c * PATCH + pi) * PATCH + pj;
                float *dst = latent + (size_t)lc * lh * lw;
                float is = 1 / a->std[lc], m = a->mean[lc];
                for (int i = 0; i < lh; i++)
                    for (int j = 0; j < lw; j++)
                        dst[(size_t)i * lw + j] =
                            (mom[((size_t)c * H + PATCH * i + pi) * W + PATCH * j + pj] - m) * is;
            }
    if (!moments) free(mom);
    return rc;
}
