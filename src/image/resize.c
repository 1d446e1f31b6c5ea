/* resize.c - separable Lanczos-3 resampling with precomputed, normalised filter taps. */
#include "common/status.h"
#include "image/image.h"
#include <math.h>
#include <stdlib.h>

typedef struct {
    int *start;    /* first source index per output index */
    int *count;    /* taps per output index */
    float *weight; /* taps, `stride` per output index */
    int stride;
} taps_t;

static double sinc(double x) {
    if (fabs(x) < 1e-8) return 1.0;
    x *= M_PI;
    return sin(x) / x;
}

static double lanczos3(double x) { return fabs(x) < 3.0 ? sinc(x) * sinc(x / 3.0) : 0.0; }

static void taps_free(taps_t *t) {
    free(t->start);
    free(t->count);
    free(t->weight);
}

static int taps_make(int in, int out, taps_t *t) {
    double scale = (double)in / out;
    double support = 3.0 * (scale > 1.0 ? scale : 1.0);
    double fscale = scale > 1.0 ? 1.0 / scale : 1.0;
    t->stride = (int)ceil(support) * 2 + 1;
    t->start = malloc(sizeof(int) * (size_t)out);
    t->count = malloc(sizeof(int) * (size_t)out);
    t->weight = malloc(sizeof(float) * (size_t)out * (size_t)t->stride);
    if (!t->start || !t->count || !t->weight) {
        taps_free(t);
        return IMG_ENOMEM;
    }
    for (int i = 0; i < out; i++) {
        double center = (i + 0.5) * scale;
        int lo = (int)floor(center - support);
        int hi = (int)ceil(center + support);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        if (hi - lo > t->stride) hi = lo + t->stride;
        double sum = 0;
        float *w = t->weight + (size_t)i * (size_t)t->stride;
        for (int j = lo; j < hi; j++) {
            double v = lanczos3((j + 0.5 - center) * fscale);
            w[j - lo] = (float)v;
            sum += v;
        }
        for (int j = lo; j < hi; j++) w[j - lo] = (float)(w[j - lo] / (sum != 0 ? sum : 1));
        t->start[i] = lo;
        t->count[i] = hi - lo;
    }
    return IMG_OK;
}

static uint8_t clamp_u8(float v) {
    if (v <= 0.f) return 0;
    if (v >= 255.f) return 255;
    return (uint8_t)(v + 0.5f);
}

int img_resize(const img_t *src, int width, int height, img_t *dst) {
    int c = src->channels;
    int rc = img_alloc(dst, width, height, c);
    if (rc) return rc;
    if (width == src->width && height == src->height) {
        for (size_t i = 0; i < (size_t)width * height * c; i++) dst->pixels[i] = src->pixels[i];
        return IMG_OK;
    }
    taps_t tx = {0}, ty = {0};
    float *mid = malloc(sizeof(float) * (size_t)width * (size_t)src->height * (size_t)c);
    if (!mid || taps_make(src->width, width, &tx) || taps_make(src->height, height, &ty)) {
        free(mid);
        taps_free(&tx);
        taps_free(&ty);
        img_free(dst);
        return IMG_ENOMEM;
    }
    for (int y = 0; y < src->height; y++) {
        const uint8_t *row = src->pixels + (size_t)y * src->width * c;
        for (int x = 0; x < width; x++) {
            const float *w = tx.weight + (size_t)x * tx.stride;
            for (int k = 0; k < c; k++) {
                float acc = 0;
                for (int j = 0; j < tx.count[x]; j++) acc += w[j] * row[(tx.start[x] + j) * c + k];
                mid[((size_t)y * width + x) * c + k] = acc;
            }
        }
    }
    for (int y = 0; y < height; y++) {
        const float *w = ty.weight + (size_t)y * ty.stride;
        for (int x = 0; x < width; x++) {
            for (int k = 0; k < c; k++) {
                float acc = 0;
                for (int j = 0; j < ty.count[y]; j++)
                    acc += w[j] * mid[((size_t)(ty.start[y] + j) * width + x) * c + k];
                dst->pixels[((size_t)y * width + x) * c + k] = clamp_u8(acc);
            }
        }
    }
    free(mid);
    taps_free(&tx);
    taps_free(&ty);
    return IMG_OK;
}
