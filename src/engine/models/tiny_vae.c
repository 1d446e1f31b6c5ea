/* tiny_vae.c - TAESD-style decoder. */
#include "engine/models/tiny_vae.h"
#include "common/status.h"
#include "engine/kernels/conv.h"
#include "engine/kernels/ops.h"
#include "engine/models/blocks.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TV_MAX_LAYERS 64

typedef enum { TV_CLAMP, TV_CONV, TV_RELU, TV_BLOCK, TV_UP } tv_kind_t;

typedef struct {
    tv_kind_t kind;
    conv2d_t conv, c0, c2, c4, skip;
    int has_skip;
} tv_layer_t;

struct tiny_vae {
    tv_layer_t layer[TV_MAX_LAYERS];
    int n, cin, up;
    int ah, aw;
    float *arena, *a, *b, *scratch;
};

void tiny_vae_free(tiny_vae_t *t) {
    if (!t) return;
    for (int i = 0; i < t->n; i++) {
        tv_layer_t *l = &t->layer[i];
        if (l->kind == TV_CONV) conv2d_free(&l->conv);
        if (l->kind == TV_BLOCK) {
            conv2d_free(&l->c0);
            conv2d_free(&l->c2);
            conv2d_free(&l->c4);
            if (l->has_skip) conv2d_free(&l->skip);
        }
    }
    free(t->arena);
    free(t);
}

int tiny_vae_load(const st_file_t *f, tiny_vae_t **out, char *err, size_t errlen) {
    /* the prefix: whatever precedes "<index>.conv.0.weight" of the first block */
    char prefix[160] = "";
    int found = 0;
    for (size_t i = 0; i < st_count(f) && !found; i++) {
        const char *name = st_get(f, i)->name;
        const char *hit = strstr(name, ".conv.0.weight");
        if (!hit) continue;
        const char *d = hit;
        while (d > name && d[-1] >= '0' && d[-1] <= '9') d--;
        if (d == hit || (size_t)(d - name) >= sizeof prefix) continue;
        snprintf(prefix, sizeof prefix, "%.*s", (int)(d - name), name);
        found = 1;
    }
    if (!found) {
        snprintf(err, errlen, "no tiny autoencoder decoder (N.conv.0.weight blocks) in the file");
        return IMG_ENOTFOUND;
    }
    tiny_vae_t *t = calloc(1, sizeof *t);
    if (!t) return IMG_ENOMEM;
    wload_t wl = {.file = f};
    snprintf(wl.prefix, sizeof wl.prefix, "%s", prefix);
    char n[64];
    int rc = IMG_OK, last = -1;
    for (int i = 0; i < TV_MAX_LAYERS && !rc; i++) {
        tv_layer_t *l = &t->layer[i];
        snprintf(n, sizeof n, "%d.weight", i);
        int conv = w_has(&wl, n);
        snprintf(n, sizeof n, "%d.conv.0.weight", i);
        int block = w_has(&wl, n);
        if (conv) {
            l->kind = TV_CONV;
            const st_tensor_t *wt = (snprintf(n, sizeof n, "%d.weight", i), w_find(&wl, n));
            snprintf(n, sizeof n, "%d", i);
            rc = conv_load(&wl, n, 1, wt && wt->ndim == 4 ? (int)wt->shape[2] / 2 : 0, &l->conv);
            last = i;
        } else if (block) {
            l->kind = TV_BLOCK;
            snprintf(n, sizeof n, "%d.conv.0", i);
            rc = conv_load(&wl, n, 1, 1, &l->c0);
            snprintf(n, sizeof n, "%d.conv.2", i);
            if (!rc) rc = conv_load(&wl, n, 1, 1, &l->c2);
            snprintf(n, sizeof n, "%d.conv.4", i);
            if (!rc) rc = conv_load(&wl, n, 1, 1, &l->c4);
            snprintf(n, sizeof n, "%d.skip.weight", i);
            if (!rc && w_has(&wl, n)) {
                l->has_skip = 1;
                snprintf(n, sizeof n, "%d.skip", i);
                rc = conv_load(&wl, n, 1, 0, &l->skip);
            }
            last = i;
        } else if (i == 0) {
            l->kind = TV_CLAMP;
        } else if (t->layer[i - 1].kind == TV_CONV) {
            l->kind = TV_RELU;
        } else if (t->layer[i - 1].kind == TV_BLOCK) {
            l->kind = TV_UP;
        } else {
            break;
        }
        t->n = i + 1;
    }
    t->n = last + 1; /* trailing weightless layers are not part of the decoder */
    t->up = 1;
    for (int i = 0; i < t->n; i++) {
        if (t->layer[i].kind == TV_UP) t->up *= 2;
        if (t->layer[i].kind == TV_CONV && !t->cin) t->cin = t->layer[i].conv.cin;
        if (t->layer[i].kind == TV_BLOCK && !t->cin) t->cin = t->layer[i].c0.cin;
    }
    if (!rc && (t->n == 0 || t->layer[t->n - 1].kind != TV_CONV || t->layer[t->n - 1].conv.cout != 3))
        rc = IMG_EFORMAT;
    if (rc || wl.failed) {
        rc = w_report(&wl, rc, "tiny decoder", "unexpected structure (must end in a 3-channel convolution)", err, errlen);
        tiny_vae_free(t);
        return rc;
    }
    *out = t;
    return IMG_OK;
}

int tiny_vae_upscale(const tiny_vae_t *t) { return t->up; }
int tiny_vae_latent_channels(const tiny_vae_t *t) { return t->cin; }

static size_t mx(size_t a, size_t b) { return a > b ? a : b; }

static int prepare(tiny_vae_t *t, int h, int w) {
    if (t->arena && t->ah == h && t->aw == w) return IMG_OK;
    size_t act = (size_t)h * w * (size_t)t->cin, scratch = 0;
    int ch = h, cw = w, c = t->cin;
    for (int i = 0; i < t->n; i++) {
        tv_layer_t *l = &t->layer[i];
        if (l->kind == TV_CONV) {
            c = l->conv.cout;
        } else if (l->kind == TV_BLOCK) {
            scratch = mx(scratch, 2 * (size_t)ch * cw * (size_t)l->c0.cout);
            c = l->c4.cout;
        } else if (l->kind == TV_UP) {
            ch *= 2;
            cw *= 2;
        }
        act = mx(act, (size_t)ch * cw * (size_t)c);
    }
    float *a = malloc(sizeof(float) * (2 * act + scratch + 1));
    if (!a) return IMG_ENOMEM;
    free(t->arena);
    t->arena = a;
    t->a = a;
    t->b = a + act;
    t->scratch = t->b + act;
    t->ah = h;
    t->aw = w;
    return IMG_OK;
}

static void relu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
}

int tiny_vae_decode(tiny_vae_t *t, const kctx_t *kc, const float *latent, int h, int w, float *image) {
    int rc = prepare(t, h, w);
    if (rc) return rc;
    float *cur = t->a, *oth = t->b;
    int ch = h, cw = w, c = t->cin;
    op_nchw_to_nhwc(latent, c, h, w, cur);
    for (int i = 0; i < t->n; i++) {
        tv_layer_t *l = &t->layer[i];
        size_t hw = (size_t)ch * cw;
        switch (l->kind) {
        case TV_CLAMP:
            for (size_t k = 0; k < hw * c; k++) cur[k] = tanhf(cur[k] / 3.f) * 3.f;
            break;
        case TV_RELU: relu(cur, hw * c); break;
        case TV_CONV: {
            conv2d_forward(kc, &l->conv, cur, ch, cw, oth, 0);
            c = l->conv.cout;
            float *s = cur; cur = oth; oth = s;
            break;
        }
        case TV_BLOCK: {
            float *x1 = t->scratch, *x2 = x1 + hw * l->c0.cout;
            conv2d_forward(kc, &l->c0, cur, ch, cw, x1, 0);
            relu(x1, hw * l->c0.cout);
            conv2d_forward(kc, &l->c2, x1, ch, cw, x2, 0);
            relu(x2, hw * l->c2.cout);
            if (l->has_skip)
                conv2d_forward(kc, &l->skip, cur, ch, cw, oth, 0);
            else
                memcpy(oth, cur, sizeof(float) * hw * c);
            conv2d_forward(kc, &l->c4, x2, ch, cw, oth, 1);
            c = l->c4.cout;
            relu(oth, hw * c);
            float *s = cur; cur = oth; oth = s;
            break;
        }
        case TV_UP:
            op_upsample_nearest2x(cur, ch, cw, c, oth);
            ch *= 2;
            cw *= 2;
            float *s = cur; cur = oth; oth = s;
            break;
        }
    }
    op_nhwc_to_nchw(cur, ch, cw, 3, image);
    return IMG_OK;
}
