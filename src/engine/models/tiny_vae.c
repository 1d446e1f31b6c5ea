/* tiny_vae.c - TAESD-style decoder and encoder. */
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
#define TV_MAX_PARTS 4

typedef enum { TV_NONE, TV_CLAMP, TV_CONV, TV_RELU, TV_BLOCK, TV_UP } tv_kind_t;

typedef struct {
    tv_kind_t kind;
    conv2d_t conv, c0, c2, c4, skip;
    int has_skip;
} tv_layer_t;

struct tiny_vae {
    tv_layer_t layer[TV_MAX_LAYERS];
    int n, cin, cout, up, down;
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

/* The distinct prefixes of "<prefix><index>.conv.0.weight" (one per part in the file). */
static int find_prefixes(const st_file_t *f, char prefix[][160], int max) {
    int np = 0;
    for (size_t i = 0; i < st_count(f); i++) {
        const char *name = st_get(f, i)->name;
        const char *hit = strstr(name, ".conv.0.weight");
        if (!hit || hit[sizeof ".conv.0.weight" - 1]) continue;
        const char *d = hit;
        while (d > name && d[-1] >= '0' && d[-1] <= '9')
            d--;
        if (d == hit || (size_t)(d - name) >= sizeof prefix[0]) continue;
        int len = (int)(d - name), seen = 0;
        for (int k = 0; k < np && !seen; k++)
            seen = (int)strlen(prefix[k]) == len && !strncmp(prefix[k], name, (size_t)len);
        if (!seen && np < max) snprintf(prefix[np++], sizeof prefix[0], "%.*s", len, name);
    }
    return np;
}

/* The kinds of the layers under wl's prefix (without loading anything); returns the count. */
static int read_kinds(wload_t *wl, tv_kind_t kind[TV_MAX_LAYERS]) {
    char n[64];
    int count = 0;
    for (int i = 0; i < TV_MAX_LAYERS; i++) {
        snprintf(n, sizeof n, "%d.weight", i);
        int conv = w_has(wl, n);
        snprintf(n, sizeof n, "%d.conv.0.weight", i);
        int block = w_has(wl, n);
        tv_kind_t prev = i ? kind[i - 1] : TV_NONE;
        kind[i] = conv               ? TV_CONV
                  : block            ? TV_BLOCK
                  : i == 0           ? TV_CLAMP
                  : prev == TV_CONV  ? TV_RELU
                  : prev == TV_BLOCK ? TV_UP
                                     : TV_NONE;
        if (kind[i] == TV_NONE) break;
        if (conv || block) count = i + 1; /* trailing weightless layers are not part of it */
    }
    return count;
}

static const st_tensor_t *conv_weight(wload_t *wl, int i) {
    char n[64];
    snprintf(n, sizeof n, "%d.weight", i);
    const st_tensor_t *t = w_find(wl, n);
    return t && t->ndim == 4 ? t : NULL;
}

/* Which part a layer sequence is: an encoder takes RGB and never upsamples, a decoder gives RGB. */
static int part_of(wload_t *wl, const tv_kind_t *kind, int n, tiny_part_t *part) {
    int first = 0;
    while (first < n && (kind[first] == TV_CLAMP || kind[first] == TV_RELU))
        first++;
    const st_tensor_t *a = first < n && kind[first] == TV_CONV ? conv_weight(wl, first) : NULL;
    const st_tensor_t *z = n > 0 && kind[n - 1] == TV_CONV ? conv_weight(wl, n - 1) : NULL;
    int ups = 0;
    for (int i = 0; i < n; i++)
        ups += kind[i] == TV_UP || kind[i] == TV_CLAMP;
    if (a && a->shape[1] == 3 && !ups && z && z->shape[0] != 3) {
        *part = TINY_ENCODER;
        return 1;
    }
    if (z && z->shape[0] == 3) {
        *part = TINY_DECODER;
        return 1;
    }
    return 0;
}

static int load_layers(wload_t *wl, const tv_kind_t *kind, int n, tiny_part_t part, tiny_vae_t *t) {
    char nm[64];
    int rc = IMG_OK;
    for (int i = 0; i < n && !rc; i++) {
        tv_layer_t *l = &t->layer[i];
        l->kind = kind[i];
        t->n = i + 1;
        if (l->kind == TV_CONV) {
            const st_tensor_t *wt = conv_weight(wl, i);
            int stride =
                part == TINY_ENCODER && i > 0 && i + 1 < n && kind[i + 1] == TV_BLOCK ? 2 : 1;
            snprintf(nm, sizeof nm, "%d", i);
            rc = conv_load(wl, nm, stride, wt ? (int)wt->shape[2] / 2 : 0, &l->conv);
        } else if (l->kind == TV_BLOCK) {
            snprintf(nm, sizeof nm, "%d.conv.0", i);
            rc = conv_load(wl, nm, 1, 1, &l->c0);
            snprintf(nm, sizeof nm, "%d.conv.2", i);
            if (!rc) rc = conv_load(wl, nm, 1, 1, &l->c2);
            snprintf(nm, sizeof nm, "%d.conv.4", i);
            if (!rc) rc = conv_load(wl, nm, 1, 1, &l->c4);
            snprintf(nm, sizeof nm, "%d.skip.weight", i);
            if (!rc && w_has(wl, nm)) {
                l->has_skip = 1;
                snprintf(nm, sizeof nm, "%d.skip", i);
                rc = conv_load(wl, nm, 1, 0, &l->skip);
            }
        }
    }
    return rc;
}

/* Channels and scale of a loaded sequence; 0 when its convolutions do not chain. */
static int check_chain(tiny_vae_t *t) {
    int c = 0;
    t->up = t->down = 1;
    for (int i = 0; i < t->n; i++) {
        tv_layer_t *l = &t->layer[i];
        int cin = l->kind == TV_CONV ? l->conv.cin : l->kind == TV_BLOCK ? l->c0.cin : c;
        if (c && cin != c) return 0;
        if (!t->cin && cin) t->cin = cin;
        if (l->kind == TV_CONV) c = l->conv.cout;
        if (l->kind == TV_BLOCK) {
            if (l->c2.cin != l->c0.cout || l->c4.cin != l->c2.cout ||
                (!l->has_skip && l->c4.cout != cin) ||
                (l->has_skip && (l->skip.cin != cin || l->skip.cout != l->c4.cout)))
                return 0;
            c = l->c4.cout;
        }
        if (l->kind == TV_UP) t->up *= 2;
        if (l->kind == TV_CONV && l->conv.stride == 2) t->down *= 2;
    }
    t->cout = c;
    return c > 0;
}

int tiny_vae_load_part(const st_file_t *f, tiny_part_t part, tiny_vae_t **out, char *err,
                       size_t errlen) {
    const char *what = part == TINY_ENCODER ? "tiny encoder" : "tiny decoder";
    char prefix[TV_MAX_PARTS][160];
    int np = find_prefixes(f, prefix, TV_MAX_PARTS);
    for (int p = 0; p < np; p++) {
        wload_t wl = {.file = f};
        memcpy(wl.prefix, prefix[p], sizeof wl.prefix); /* both 160, NUL-terminated */
        tv_kind_t kind[TV_MAX_LAYERS];
        int n = read_kinds(&wl, kind);
        tiny_part_t is;
        if (!part_of(&wl, kind, n, &is) || is != part) continue;
        tiny_vae_t *t = calloc(1, sizeof *t);
        if (!t) return IMG_ENOMEM;
        int rc = load_layers(&wl, kind, n, part, t);
        if (!rc && !wl.failed && !check_chain(t)) rc = IMG_EFORMAT;
        if (rc || wl.failed) {
            rc = w_report(&wl, rc, what, "unexpected structure (its layers do not chain)", err,
                          errlen);
            tiny_vae_free(t);
            return rc;
        }
        *out = t;
        return IMG_OK;
    }
    snprintf(err, errlen, "no %s (N.conv.0.weight blocks %s) in the file", what,
             part == TINY_ENCODER ? "after a 3-channel convolution"
                                  : "before a 3-channel convolution");
    return IMG_ENOTFOUND;
}

int tiny_vae_load(const st_file_t *f, tiny_vae_t **out, char *err, size_t errlen) {
    return tiny_vae_load_part(f, TINY_DECODER, out, err, errlen);
}

int tiny_vae_upscale(const tiny_vae_t *t) {
    return t->up;
}
int tiny_vae_downscale(const tiny_vae_t *t) {
    return t->down;
}
int tiny_vae_latent_channels(const tiny_vae_t *t) {
    return t->up > 1 || t->down == 1 ? t->cin : t->cout;
}

static size_t mx(size_t a, size_t b) {
    return a > b ? a : b;
}

/* Sizes the two activation buffers and the block scratch for an input of h x w. */
static int prepare(tiny_vae_t *t, int h, int w) {
    if (t->arena && t->ah == h && t->aw == w) return IMG_OK;
    size_t act = (size_t)h * w * (size_t)t->cin, scratch = 0;
    int ch = h, cw = w, c = t->cin;
    for (int i = 0; i < t->n; i++) {
        tv_layer_t *l = &t->layer[i];
        if (l->kind == TV_CONV) {
            conv2d_out_size(&l->conv, ch, cw, &ch, &cw);
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
    float *a = malloc(sizeof(float) * (2 * act + scratch + 1)); /* owned by t (t->arena) */
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
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] > 0 ? x[i] : 0;
}

/* in: [cin, h, w] -> out: [cout, h', w'] through every layer. */
static int run(tiny_vae_t *t, const kctx_t *kc, const float *in, int h, int w, float *out) {
    int rc = prepare(t, h, w);
    if (rc) return rc;
    float *cur = t->a, *oth = t->b;
    int ch = h, cw = w, c = t->cin;
    op_nchw_to_nhwc(in, c, h, w, cur);
    for (int i = 0; i < t->n; i++) {
        tv_layer_t *l = &t->layer[i];
        size_t hw = (size_t)ch * cw;
        switch (l->kind) {
        case TV_NONE:
            break;
        case TV_CLAMP:
            for (size_t k = 0; k < hw * c; k++)
                cur[k] = tanhf(cur[k] / 3.f) * 3.f;
            break;
        case TV_RELU:
            relu(cur, hw * c);
            break;
        case TV_CONV: {
            conv2d_forward(kc, &l->conv, cur, ch, cw, oth, 0);
            conv2d_out_size(&l->conv, ch, cw, &ch, &cw);
            c = l->conv.cout;
            float *s = cur;
            cur = oth;
            oth = s;
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
            float *s = cur;
            cur = oth;
            oth = s;
            break;
        }
        case TV_UP: {
            op_upsample_nearest2x(cur, ch, cw, c, oth);
            ch *= 2;
            cw *= 2;
            float *s = cur;
            cur = oth;
            oth = s;
            break;
        }
        }
    }
    op_nhwc_to_nchw(cur, ch, cw, c, out);
    return IMG_OK;
}

int tiny_vae_decode(tiny_vae_t *t, const kctx_t *kc, const float *latent, int h, int w,
                    float *image) {
    if (t->up == 1 && t->down > 1) return IMG_EINVAL; /* an encoder */
    return run(t, kc, latent, h, w, image);
}

int tiny_vae_encode(tiny_vae_t *t, const kctx_t *kc, const float *image, int h, int w,
                    float *latent) {
    if (t->down == 1 || h % t->down || w % t->down) return IMG_EINVAL;
    return run(t, kc, image, h, w, latent);
}
