/* vae_tiled.c - the KL decoder and encoder over overlapping latent tiles, so their activations
 * (128 to 512 channels at full image resolution) are sized by a tile, not by the image. Tiles along
 * a side are as few as the tile limit allows and of equal size (so the work arena is planned once);
 * their decoded images are blended with weights that ramp linearly across the overlap, so no seam
 * shows. The decoder's middle attention then sees one tile instead of the whole latent, which is
 * the accepted cost of tiling (stable-diffusion.cpp and diffusers do the same). */
#include "common/status.h"
#include "engine/models/vae.h"
#include "engine/models/vae_encoder.h"
#include <stdlib.h>
#include <string.h>

/* Tiles along one side of n latents: count, side and the start of tile i. */
static void plan(int n, int tile, int overlap, int *count, int *side) {
    if (n <= tile) {
        *count = 1;
        *side = n;
        return;
    }
    int c = (n - overlap + (tile - overlap) - 1) / (tile - overlap);
    *count = c;
    *side = (n + (c - 1) * overlap + c - 1) / c;
}

static int start_of(int i, int count, int n, int side) {
    return count == 1 ? 0 : (int)(((long)i * (n - side) + (count - 1) / 2) / (count - 1));
}

/* Blend weight of pixel x of a tile w pixels wide whose overlaps with the previous and the next
 * tile are lo and hi pixels (0: no neighbour there): a linear ramp across each overlap. */
static float ramp_weight(int x, int w, int lo, int hi) {
    float wt = 1.f;
    if (lo > 0 && x < lo) wt = ((float)x + 0.5f) / (float)lo;
    if (hi > 0 && w - 1 - x < hi) {
        float r = ((float)(w - 1 - x) + 0.5f) / (float)hi;
        if (r < wt) wt = r;
    }
    return wt;
}

/* Overlaps of tile i with its neighbours, in image pixels (0 where there is none). */
static void overlaps(int i, int count, int n, int side, int s, int *lo, int *hi) {
    int x0 = start_of(i, count, n, side);
    *lo = i > 0 ? (start_of(i - 1, count, n, side) + side - x0) * s : 0;
    *hi = i + 1 < count ? (x0 + side - start_of(i + 1, count, n, side)) * s : 0;
}

int vae_decode_tiled(vae_t *v, const kctx_t *kc, const float *z, int h, int w, int tile,
                     int overlap, float *image) {
    if (tile <= 0 || (h <= tile && w <= tile)) return vae_decode(v, kc, z, h, w, image, NULL, NULL);
    if (overlap < 1 || overlap * 2 >= tile) return IMG_EINVAL;
    int c = vae_latent_channels(v), s = vae_upscale(v);
    int ny, nx, th, tw;
    plan(h, tile, overlap, &ny, &th);
    plan(w, tile, overlap, &nx, &tw);
    size_t H = (size_t)h * s, W = (size_t)w * s, TH = (size_t)th * s, TW = (size_t)tw * s;
    float *sub = malloc(sizeof(float) * (size_t)c * th * tw); /* one tile's latent */
    float *timg = malloc(sizeof(float) * 3 * TH * TW);        /* one tile's image */
    float *wsum = calloc(H * W, sizeof(float));               /* blend weights summed */
    int rc = sub && timg && wsum ? IMG_OK : IMG_ENOMEM;
    if (!rc) memset(image, 0, sizeof(float) * 3 * H * W);
    for (int ty = 0; ty < ny && !rc; ty++) {
        int y0 = start_of(ty, ny, h, th);
        for (int tx = 0; tx < nx && !rc; tx++) {
            int x0 = start_of(tx, nx, w, tw);
            for (int k = 0; k < c; k++)
                for (int y = 0; y < th; y++)
                    memcpy(sub + ((size_t)k * th + y) * tw, z + ((size_t)k * h + y0 + y) * w + x0,
                           sizeof(float) * (size_t)tw);
            rc = vae_decode(v, kc, sub, th, tw, timg, NULL, NULL);
            if (rc) break;
            int ylo, yhi, xlo, xhi;
            overlaps(ty, ny, h, th, s, &ylo, &yhi);
            overlaps(tx, nx, w, tw, s, &xlo, &xhi);
            for (size_t y = 0; y < TH; y++) {
                float wy = ramp_weight((int)y, (int)TH, ylo, yhi);
                size_t oy = (size_t)y0 * s + y;
                for (size_t x = 0; x < TW; x++) {
                    float wt = wy * ramp_weight((int)x, (int)TW, xlo, xhi);
                    size_t o = oy * W + (size_t)x0 * s + x;
                    wsum[o] += wt;
                    for (int ch = 0; ch < 3; ch++)
                        image[(size_t)ch * H * W + o] += wt * timg[((size_t)ch * TH + y) * TW + x];
                }
            }
        }
    }
    if (!rc)
        for (size_t o = 0; o < H * W; o++)
            for (int ch = 0; ch < 3; ch++)
                image[(size_t)ch * H * W + o] /= wsum[o];
    free(sub);
    free(timg);
    free(wsum);
    return rc;
}

int vae_encode_tiled(const vae_encoder_t *e, const kctx_t *kc, const float *image, int h, int w,
                     int tile, int overlap, float *moments) {
    int s = vae_encoder_downscale(e), lh = h / s, lw = w / s;
    if (h % s || w % s) return IMG_EINVAL;
    if (tile <= 0 || (lh <= tile && lw <= tile))
        return vae_encode_moments(e, kc, image, h, w, moments, NULL, NULL);
    if (overlap < 1 || overlap * 2 >= tile) return IMG_EINVAL;
    int c2 = 2 * vae_encoder_latent_channels(e);
    int ny, nx, th, tw;
    plan(lh, tile, overlap, &ny, &th);
    plan(lw, tile, overlap, &nx, &tw);
    size_t TH = (size_t)th * s, TW = (size_t)tw * s, L = (size_t)lh * lw;
    float *sub = malloc(sizeof(float) * 3 * TH * TW);           /* one tile's pixels */
    float *tmom = malloc(sizeof(float) * (size_t)c2 * th * tw); /* one tile's moments */
    float *wsum = calloc(L, sizeof(float));                     /* blend weights summed */
    int rc = sub && tmom && wsum ? IMG_OK : IMG_ENOMEM;
    if (!rc) memset(moments, 0, sizeof(float) * (size_t)c2 * L);
    for (int ty = 0; ty < ny && !rc; ty++) {
        int y0 = start_of(ty, ny, lh, th);
        for (int tx = 0; tx < nx && !rc; tx++) {
            int x0 = start_of(tx, nx, lw, tw);
            for (int k = 0; k < 3; k++)
                for (size_t y = 0; y < TH; y++)
                    memcpy(sub + ((size_t)k * TH + y) * TW,
                           image + ((size_t)k * h + (size_t)y0 * s + y) * w + (size_t)x0 * s,
                           sizeof(float) * TW);
            rc = vae_encode_moments(e, kc, sub, (int)TH, (int)TW, tmom, NULL, NULL);
            if (rc) break;
            int ylo, yhi, xlo, xhi;
            overlaps(ty, ny, lh, th, 1, &ylo, &yhi);
            overlaps(tx, nx, lw, tw, 1, &xlo, &xhi);
            for (int y = 0; y < th; y++) {
                float wy = ramp_weight(y, th, ylo, yhi);
                for (int x = 0; x < tw; x++) {
                    float wt = wy * ramp_weight(x, tw, xlo, xhi);
                    size_t o = (size_t)(y0 + y) * lw + (size_t)(x0 + x);
                    wsum[o] += wt;
                    for (int k = 0; k < c2; k++)
                        moments[(size_t)k * L + o] += wt * tmom[((size_t)k * th + y) * tw + x];
                }
            }
        }
    }
    if (!rc)
        for (size_t o = 0; o < L; o++)
            for (int k = 0; k < c2; k++)
                moments[(size_t)k * L + o] /= wsum[o];
    free(sub);
    free(tmom);
    free(wsum);
    return rc;
}
