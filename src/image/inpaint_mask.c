/* inpaint_mask.c - AUTOMATIC1111's inpainting inputs turned into the engine's: a luminance mask
 * (white = repaint) blurred and thresholded, and the "fill" start for the masked pixels. */
#include "common/status.h"
#include "image/image.h"
#include <stdlib.h>
#include <string.h>

/* One horizontal and one vertical box pass of radius r over a w x h plane of floats (in place;
 * tmp has w * h floats). */
static void box_blur(float *v, float *tmp, int w, int h, int r) {
    for (int y = 0; y < h; y++) {
        const float *row = v + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float s = 0;
            int n = 0;
            for (int k = x - r; k <= x + r; k++)
                if (k >= 0 && k < w) {
                    s += row[k];
                    n++;
                }
            tmp[(size_t)y * w + x] = s / (float)n;
        }
    }
    for (int x = 0; x < w; x++)
        for (int y = 0; y < h; y++) {
            float s = 0;
            int n = 0;
            for (int k = y - r; k <= y + r; k++)
                if (k >= 0 && k < h) {
                    s += tmp[(size_t)k * w + x];
                    n++;
                }
            v[(size_t)y * w + x] = s / (float)n;
        }
}

int img_mask_from_luma(const img_t *m, int invert, int blur, int w, int h, uint8_t **out) {
    *out = NULL;
    /* luma: freed once resized; sized: the result, the caller's */
    uint8_t *luma = malloc((size_t)m->width * m->height + 1), *sized = NULL;
    if (!luma) return IMG_ENOMEM;
    for (size_t i = 0; i < (size_t)m->width * m->height; i++) {
        const uint8_t *p = m->pixels + i * (size_t)m->channels;
        int y = m->channels >= 3 ? (299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000 : p[0];
        if (m->channels == 4 && p[3] < 128) y = 0; /* a transparent pixel is no paint */
        luma[i] = (uint8_t)(invert ? 255 - y : y);
    }
    int rc = img_resize_mask(luma, m->width, m->height, w, h, &sized);
    free(luma);
    if (rc) return rc;
    if (blur > 0) { /* three box passes: close to A1111's Gaussian of that radius */
        /* the blur's planes, freed below */
        float *v = malloc(sizeof(float) * (size_t)w * h),
              *tmp = malloc(sizeof(float) * (size_t)w * h);
        if (!v || !tmp) {
            free(v);
            free(tmp);
            free(sized);
            return IMG_ENOMEM;
        }
        for (size_t i = 0; i < (size_t)w * h; i++)
            v[i] = sized[i];
        int r = blur / 2 > 0 ? blur / 2 : 1;
        for (int pass = 0; pass < 3; pass++)
            box_blur(v, tmp, w, h, r);
        for (size_t i = 0; i < (size_t)w * h; i++)
            sized[i] = (uint8_t)(v[i] + 0.5f);
        free(v);
        free(tmp);
    }
    for (size_t i = 0; i < (size_t)w * h; i++)
        sized[i] = sized[i] >= 128;
    *out = sized; /* the caller's */
    return IMG_OK;
}

int img_fill_masked(img_t *im, const uint8_t *mask) {
    size_t npx = (size_t)im->width * im->height;
    int c = im->channels < 3 ? im->channels : 3;
    double sum[3] = {0};
    size_t kept = 0;
    for (size_t i = 0; i < npx; i++)
        if (!mask[i]) {
            for (int k = 0; k < c; k++)
                sum[k] += im->pixels[i * (size_t)im->channels + k];
            kept++;
        }
    if (kept == 0 || kept == npx) return IMG_OK; /* nothing to fill from, or nothing to fill */
    for (size_t i = 0; i < npx; i++)             /* start from the mean colour of what stays */
        if (mask[i])
            for (int k = 0; k < c; k++)
                im->pixels[i * (size_t)im->channels + k] = (uint8_t)(sum[k] / (double)kept + 0.5);
    /* then coarse to fine: each masked pixel takes the colour of its neighbourhood at that scale */
    static const int SCALES[] = {64, 16, 4};
    for (size_t s = 0; s < sizeof SCALES / sizeof SCALES[0]; s++) {
        int sw = im->width / SCALES[s], sh = im->height / SCALES[s];
        if (sw < 1 || sh < 1) continue;
        img_t small = {0}, big = {0};
        int rc = img_resize(im, sw, sh, &small);
        if (!rc) rc = img_resize(&small, im->width, im->height, &big);
        if (!rc)
            for (size_t i = 0; i < npx; i++)
                if (mask[i])
                    memcpy(im->pixels + i * (size_t)im->channels,
                           big.pixels + i * (size_t)big.channels, (size_t)c);
        img_free(&small);
        img_free(&big);
        if (rc) return rc;
    }
    return IMG_OK;
}
