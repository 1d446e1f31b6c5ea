/* matte.c - alpha matte for `background: transparent`.
 *
 * The background colour B is the per-channel median of the border pixels, and its own variation
 * (the border's 90th percentile distance from B) sets a noise floor below which a pixel is
 * background, so a generated background with some noise still becomes fully transparent.
 *
 * An edge pixel mixes the object's colour F and B: p = a F + (1 - a) B. F is estimated locally,
 * as the average of the clearly-not-background pixels around it (weighted towards the most
 * distinct ones), and the pixel's alpha is where p lies on the line from B to F: its coverage.
 * The background's share is then removed from the colour ("un-compositing"), so edges are soft
 * and no rim of the old background (a halo) remains when the image is laid over another one.
 * A pixel off that line (another colour of the object) is opaque by its distance from B alone.
 * Holes inside an object that show the background colour become transparent too.
 *
 * Last, islands that cannot be an object are cleared: a small one touching the frame (the border
 * is background by assumption; generators leave specks in the corners, where their zero-padded
 * convolutions see padding from two sides) and a faint one (no pixel even a quarter opaque: a
 * shading of the background, not a thing). */
#include "common/status.h"
#include "image/image.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u8(const void *a, const void *b) {
    return *(const uint8_t *)a - *(const uint8_t *)b;
}

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static float dist(const uint8_t *p, const float bg[3]) {
    float d = 0;
    for (int k = 0; k < 3; k++)
        d += (p[k] - bg[k]) * (p[k] - bg[k]);
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

#define MATTE_PLANES 5 /* per pixel: colour sums (3), their weight, background pixels */

/* Sums over a window of 2r+1 pixels along one line of n pixels whose planes start every step
 * floats in src (each MATTE_PLANES consecutive), into dst laid out the same way. Near the line's
 * ends the window is the part inside it. */
static void box_line(const float *src, float *dst, size_t step, int n, int r) {
    double acc[MATTE_PLANES] = {0};
    for (int i = 0; i < r && i < n; i++)
        for (int k = 0; k < MATTE_PLANES; k++)
            acc[k] += src[(size_t)i * step + k];
    for (int i = 0; i < n; i++) {
        for (int k = 0; i + r < n && k < MATTE_PLANES; k++)
            acc[k] += src[(size_t)(i + r) * step + k];
        for (int k = 0; i - r - 1 >= 0 && k < MATTE_PLANES; k++)
            acc[k] -= src[(size_t)(i - r - 1) * step + k];
        for (int k = 0; k < MATTE_PLANES; k++)
            dst[(size_t)i * step + k] = (float)acc[k];
    }
}

/* Box sums (2r+1 pixels a side) of every plane of v (w x h x MATTE_PLANES), in place, through
 * tmp (as many floats): rows into tmp, then columns back into v. */
static void box_sum(float *v, float *tmp, int w, int h, int r) {
    for (int y = 0; y < h; y++)
        box_line(v + (size_t)y * w * MATTE_PLANES, tmp + (size_t)y * w * MATTE_PLANES, MATTE_PLANES,
                 w, r);
    for (int x = 0; x < w; x++)
        box_line(tmp + (size_t)x * MATTE_PLANES, v + (size_t)x * MATTE_PLANES,
                 (size_t)w * MATTE_PLANES, h, r);
}

/* Islands (8-connected pixels with alpha > 0) are labelled with a union-find over parent[]. */
static uint32_t island_root(uint32_t *parent, uint32_t i) {
    while (parent[i] != i) {
        parent[i] = parent[parent[i]]; /* path halving */
        i = parent[i];
    }
    return i;
}

static void island_join(uint32_t *parent, uint32_t a, uint32_t b) {
    a = island_root(parent, a);
    b = island_root(parent, b);
    if (a < b)
        parent[b] = a;
    else if (b < a)
        parent[a] = b;
}

/* A speck touching the frame is at most 1/1024 of the image (a square of 1/32 of the side); a
 * faint island, peak alpha below a quarter, at most 1/64 of it. */
#define SPECK_SHARE 1024
#define FAINT_SHARE 64
#define FAINT_PEAK 64

/* Clears the islands of dst's alpha that cannot be an object (see the top of the file), giving
 * them src's colour like every transparent pixel. scratch holds 10 bytes a pixel. */
static void drop_islands(const img_t *src, img_t *dst, void *scratch) {
    int w = dst->width, h = dst->height;
    size_t n = (size_t)w * h;
    uint32_t *parent = scratch, *area = parent + n;
    uint8_t *peak = (uint8_t *)(area + n), *frame = peak + n;
    const uint8_t *al = dst->pixels + 3;
    if (n > UINT32_MAX) return; /* beyond any size the API accepts */
    for (size_t i = 0; i < n; i++) {
        parent[i] = (uint32_t)i;
        area[i] = 0;
        peak[i] = frame[i] = 0;
        if (!al[i * 4]) continue;
        int x = (int)(i % (size_t)w), y = (int)(i / (size_t)w);
        if (x > 0 && al[(i - 1) * 4]) island_join(parent, (uint32_t)i, (uint32_t)(i - 1));
        for (int dx = -1; y > 0 && dx <= 1; dx++)
            if (x + dx >= 0 && x + dx < w && al[(i - (size_t)w + dx) * 4])
                island_join(parent, (uint32_t)i, (uint32_t)(i - (size_t)w + dx));
    }
    for (size_t i = 0; i < n; i++) {
        if (!al[i * 4]) continue;
        /* each pixel keeps its root, so the pass below need not look it up again */
        uint32_t r = parent[i] = island_root(parent, (uint32_t)i);
        int x = (int)(i % (size_t)w), y = (int)(i / (size_t)w);
        area[r]++;
        if (al[i * 4] > peak[r]) peak[r] = al[i * 4];
        frame[r] |= x == 0 || y == 0 || x == w - 1 || y == h - 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!al[i * 4]) continue;
        uint32_t r = parent[i];
        int speck = frame[r] && (size_t)area[r] * SPECK_SHARE <= n;
        int faint = peak[r] < FAINT_PEAK && (size_t)area[r] * FAINT_SHARE <= n;
        if (!speck && !faint) continue;
        uint8_t *o = dst->pixels + i * 4;
        memcpy(o, src->pixels + i * (size_t)src->channels, 3);
        o[3] = 0;
    }
}

/* A pixel at 90% of the way from B to F is opaque: objects shade a little. */
#define MATTE_OPAQUE 0.9f

int img_matte(const img_t *src, img_t *dst) {
    int w = src->width, h = src->height, c = src->channels;
    size_t n = (size_t)w * h;
    /* owned here: per pixel, the weighted colour sums of the distinct pixels around it and the
     * count of background pixels there (MATTE_PLANES planes), and the box filter's scratch */
    float *fg = malloc(sizeof(float) * MATTE_PLANES * (n ? n : 1)),
          *tmp = malloc(sizeof(float) * MATTE_PLANES * (n ? n : 1));
    int rc = fg && tmp ? img_alloc(dst, w, h, 4) : IMG_ENOMEM;
    if (rc) {
        free(fg);
        free(tmp);
        return rc;
    }
    float bg[3];
    border_median(src, bg);
    /* colour distance from B: background up to lo; the plain ramp (for pixels without a local
     * object colour) is opaque from hi */
    float spread = border_spread(src, bg);
    float lo = spread + 8.f > 18.f ? spread + 8.f : 18.f;
    if (lo > 60.f) lo = 60.f; /* a busy border: keep some room for the object */
    float hi = lo + 42.f;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = src->pixels + i * c;
        float d = dist(p, bg), wt = d >= hi ? d * d : 0.f;
        for (int k = 0; k < 3; k++)
            fg[i * MATTE_PLANES + k] = wt * p[k];
        fg[i * MATTE_PLANES + 3] = wt;
        fg[i * MATTE_PLANES + 4] = d < lo;
    }
    int r = (w < h ? w : h) / 24;
    box_sum(fg, tmp, w, h, r < 2 ? 2 : r);
    free(tmp);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = src->pixels + i * c;
        float d = dist(p, bg);
        float a = (d - lo) / (hi - lo); /* the plain ramp */
        a = a < 0 ? 0 : a > 1 ? 1 : a;
        a = a * a * (3 - 2 * a); /* (interiors keep it: shading and highlights stay opaque) */
        const float *s = fg + i * MATTE_PLANES;
        if (s[3] > 0 && s[4] > 0.5f) { /* near the background: an edge */
            float v[3], q[3], vv = 0, qv = 0;
            for (int k = 0; k < 3; k++) {
                v[k] = s[k] / s[3] - bg[k];
                q[k] = p[k] - bg[k];
                vv += v[k] * v[k];
                qv += q[k] * v[k];
            }
            float D = sqrtf(vv);
            if (D >= hi) {
                float t = qv / vv, perp = 0; /* coverage along B -> F, and distance off it */
                for (int k = 0; k < 3; k++)
                    perp += (q[k] - t * v[k]) * (q[k] - t * v[k]);
                float line = (t * D - lo) / (MATTE_OPAQUE * D - lo);
                line = line < 0 ? 0 : line > 1 ? 1 : line;
                if (sqrtf(perp) <= fmaxf(lo, 0.25f * D))
                    a = line;
                else if (line > a)
                    a = line;
            }
        }
        uint8_t *o = dst->pixels + i * 4;
        for (int k = 0; k < 3; k++) {
            float f = a > 0.01f ? (p[k] - (1 - a) * bg[k]) / a : p[k];
            o[k] = (uint8_t)(f < 0 ? 0 : f > 255 ? 255 : f + 0.5f);
        }
        o[3] = (uint8_t)(a * 255.f + 0.5f);
    }
    drop_islands(src, dst, fg); /* fg's 20 bytes a pixel are free now */
    free(fg);
    return IMG_OK;
}
