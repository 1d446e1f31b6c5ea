/* matte.c - alpha matte for `background: transparent`.
 *
 * The background colour is the per-channel median of the border pixels. Alpha grows smoothly
 * with the colour distance from it (soft, anti-aliased edges), starting above the background's
 * own variation (measured on the border, so a generated background with some noise still
 * becomes fully transparent), and edge pixels are
 * "un-composited" (the background's share is removed) so that no coloured halo remains when
 * the image is laid over another background. Holes inside an object that show the background
 * colour become transparent too, as they should. */
#include "common/status.h"
#include "image/image.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u8(const void *a, const void *b) { return *(const uint8_t *)a - *(const uint8_t *)b; }

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static float dist(const uint8_t *p, const float bg[3]) {
    float d = 0;
    for (int k = 0; k < 3; k++) d += (p[k] - bg[k]) * (p[k] - bg[k]);
    return sqrtf(d);
}

/* The 90th percentile of the border pixels' distance from the background colour: how much the
 * background itself varies. */
static float border_spread(const img_t *im, const float bg[3]) {
    int w = im->width, h = im->height, c = im->channels;
    size_t n = (size_t)2 * w + (size_t)2 * (h > 2 ? h - 2 : 0), m = 0;
    float *d = malloc(sizeof(float) * n);
    if (!d) return 0;
    for (int x = 0; x < w; x++) {
        d[m++] = dist(im->pixels + (size_t)x * c, bg);
        d[m++] = dist(im->pixels + ((size_t)(h - 1) * w + x) * c, bg);
    }
    for (int y = 1; y < h - 1; y++) {
        d[m++] = dist(im->pixels + ((size_t)y * w) * c, bg);
        d[m++] = dist(im->pixels + ((size_t)y * w + w - 1) * c, bg);
    }
    qsort(d, m, sizeof *d, cmp_f);
    float s = m ? d[m * 9 / 10] : 0;
    free(d);
    return s;
}

static void border_median(const img_t *im, float bg[3]) {
    int w = im->width, h = im->height, c = im->channels;
    size_t n = (size_t)2 * w + (size_t)2 * (h > 2 ? h - 2 : 0);
    uint8_t *v = malloc(n);
    for (int k = 0; k < 3; k++) {
        if (!v) {
            bg[k] = im->pixels[k];
            continue;
        }
        size_t m = 0;
        for (int x = 0; x < w; x++) {
            v[m++] = im->pixels[(size_t)x * c + k];
            v[m++] = im->pixels[((size_t)(h - 1) * w + x) * c + k];
        }
        for (int y = 1; y < h - 1; y++) {
            v[m++] = im->pixels[((size_t)y * w) * c + k];
            v[m++] = im->pixels[((size_t)y * w + w - 1) * c + k];
        }
        qsort(v, m, 1, cmp_u8);
        bg[k] = v[m / 2];
    }
    free(v);
}

int img_matte(const img_t *src, img_t *dst) {
    int rc = img_alloc(dst, src->width, src->height, 4);
    if (rc) return rc;
    float bg[3];
    border_median(src, bg);
    /* colour distance: fully transparent up to lo, fully opaque from hi */
    float spread = border_spread(src, bg);
    float lo = spread + 8.f > 18.f ? spread + 8.f : 18.f;
    if (lo > 60.f) lo = 60.f; /* a busy border: keep some room for the object */
    float hi = lo + 42.f;
    size_t n = (size_t)src->width * src->height;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = src->pixels + i * src->channels;
        float d = dist(p, bg);
        float a = (d - lo) / (hi - lo);
        a = a < 0 ? 0 : a > 1 ? 1 : a;
        a = a * a * (3 - 2 * a);
        uint8_t *q = dst->pixels + i * 4;
        for (int k = 0; k < 3; k++) {
            float fg = a > 0.01f ? (p[k] - (1 - a) * bg[k]) / a : p[k];
            q[k] = (uint8_t)(fg < 0 ? 0 : fg > 255 ? 255 : fg + 0.5f);
        }
        q[3] = (uint8_t)(a * 255.f + 0.5f);
    }
    return IMG_OK;
}
