/* composite.c - an edit's result put back into its input: where the mask is 0 the input's pixels
 * are kept exactly, inside the mask the generated ones are taken, and across a seam of at most
 * `feather` pixels outside the mask the two are blended by distance to the mask. */
#include "common/status.h"
#include "image/image.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int img_composite_masked(const img_t *gen, const img_t *orig, const uint8_t *mask, int feather,
                         img_t *out) {
    int w = gen->width, h = gen->height;
    if (orig->width != w || orig->height != h || feather < 0) return IMG_EINVAL;
    size_t n = (size_t)w * h;
    float *dist = malloc(sizeof(float) * n);
    int rc = dist ? img_alloc(out, w, h, gen->channels) : IMG_ENOMEM;
    if (rc) {
        free(dist);
        return rc;
    }
    /* distance to the nearest masked pixel: two chamfer passes (1 and sqrt 2 steps) */
    const float big = 1e9f, d2 = 1.41421356f;
    for (size_t i = 0; i < n; i++)
        dist[i] = mask[i] ? 0.f : big;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float *d = &dist[(size_t)y * w + x];
            if (x > 0) *d = fminf(*d, d[-1] + 1.f);
            if (y > 0) {
                *d = fminf(*d, d[-w] + 1.f);
                if (x > 0) *d = fminf(*d, d[-w - 1] + d2);
                if (x + 1 < w) *d = fminf(*d, d[-w + 1] + d2);
            }
        }
    for (int y = h - 1; y >= 0; y--)
        for (int x = w - 1; x >= 0; x--) {
            float *d = &dist[(size_t)y * w + x];
            if (x + 1 < w) *d = fminf(*d, d[1] + 1.f);
            if (y + 1 < h) {
                *d = fminf(*d, d[w] + 1.f);
                if (x + 1 < w) *d = fminf(*d, d[w + 1] + d2);
                if (x > 0) *d = fminf(*d, d[w - 1] + d2);
            }
        }
    int gc = gen->channels, oc = orig->channels;
    for (size_t i = 0; i < n; i++) {
        /* weight of the generated pixel: 1 inside the mask, falling to 0 at `feather` px */
        float a = dist[i] == 0.f                     ? 1.f
                  : feather > 0 && dist[i] < feather ? 1.f - dist[i] / feather
                                                     : 0.f;
        for (int c = 0; c < gc; c++) {
            uint8_t g = gen->pixels[i * gc + c];
            uint8_t o = c < oc ? orig->pixels[i * oc + c] : 255;
            out->pixels[i * gc + c] = a == 1.f   ? g
                                      : a == 0.f ? o
                                                 : (uint8_t)lrintf(a * g + (1.f - a) * o);
        }
    }
    free(dist);
    return IMG_OK;
}

int img_mask_from_alpha(const img_t *rgba, uint8_t **mask) {
    *mask = NULL;
    if (rgba->channels != 4) return IMG_EINVAL;
    size_t px = (size_t)rgba->width * rgba->height;
    if (!(*mask = malloc(px + 1))) return IMG_ENOMEM;
    for (size_t k = 0; k < px; k++)
        (*mask)[k] = rgba->pixels[k * 4 + 3] == 0;
    return IMG_OK;
}

int img_resize_mask(const uint8_t *mask, int w, int h, int nw, int nh, uint8_t **out) {
    *out = malloc((size_t)nw * nh + 1);
    if (!*out) return IMG_ENOMEM;
    for (int y = 0; y < nh; y++) {
        int sy = (int)(((long long)y * h + h / 2) / nh);
        if (sy >= h) sy = h - 1;
        for (int x = 0; x < nw; x++) {
            int sx = (int)(((long long)x * w + w / 2) / nw);
            if (sx >= w) sx = w - 1;
            (*out)[(size_t)y * nw + x] = mask[(size_t)sy * w + sx];
        }
    }
    return IMG_OK;
}
