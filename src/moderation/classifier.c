/* classifier.c - reads classifier.bin in place and scores prompts (see classifier.h). The
 * features must be those of train/moderation_train.py to the bit: the same strings ("w:" word,
 * "b:" word pair, "c:" character n-gram of "<word>"), the same FNV-1a hash, the same buckets. */
#include "moderation/classifier.h"
#include "common/status.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern const unsigned char imgapi_moderation_classifier[];
extern const unsigned char imgapi_moderation_classifier_end[];

struct classifier {
    uint32_t buckets, dim, hidden, classes;
    char names[CLS_MAX_CLASSES][32];
    float thresholds[CLS_MAX_CLASSES];
    uint32_t ncombine;
    struct {
        uint32_t a, b;
        float ta, tb;
        char name[32];
    } combine[CLS_MAX_COMBINES];
    const uint16_t *E;        /* f16 [buckets][dim], in the file */
    float *W1, *b1, *W2, *b2; /* copied out (the file's f32 need not be aligned) */
};

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (!man) {
            bits = sign;
        } else { /* subnormal */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            bits = sign | exp << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0xff << 23 | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static float *copy_f32(const unsigned char *p, size_t n) {
    float *o = malloc(n * sizeof *o + 1);
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
        uint32_t b = rd32(p + 4 * i);
        memcpy(&o[i], &b, 4);
    }
    return o;
}

void cls_free(classifier_t *c) {
    if (!c) return;
    free(c->W1);
    free(c->b1);
    free(c->W2);
    free(c->b2);
    free(c);
}

int cls_load(const unsigned char *data, size_t len, classifier_t **out) {
    *out = NULL;
    if (len < 24 || memcmp(data, "IMGMODC2", 8)) return IMG_EFORMAT;
    classifier_t *c = calloc(1, sizeof *c);
    if (!c) return IMG_ENOMEM;
    c->buckets = rd32(data + 8);
    c->dim = rd32(data + 12);
    c->hidden = rd32(data + 16);
    c->classes = rd32(data + 20);
    int ok = c->buckets && !(c->buckets & (c->buckets - 1)) && c->buckets <= 1u << 24 && c->dim &&
             c->dim <= 256 && c->hidden && c->hidden <= 1024 && c->classes >= 1 &&
             c->classes <= CLS_MAX_CLASSES;
    size_t off = 24 + (size_t)c->classes * 36;
    if (ok && len >= off + 4) {
        c->ncombine = rd32(data + off);
        ok = c->ncombine <= CLS_MAX_COMBINES;
    }
    size_t need = ok ? off + 4 + (size_t)c->ncombine * 48 + (size_t)c->buckets * c->dim * 2 +
                           4 * ((size_t)c->hidden * c->dim + c->hidden +
                                (size_t)c->classes * c->hidden + c->classes)
                     : 0;
    if (!ok || need != len) {
        cls_free(c);
        return IMG_EFORMAT;
    }
    off = 24;
    for (uint32_t k = 0; k < c->classes; k++, off += 36) {
        memcpy(c->names[k], data + off, 31);
        c->names[k][31] = 0;
        uint32_t b = rd32(data + off + 32);
        memcpy(&c->thresholds[k], &b, 4);
    }
    off += 4;
    for (uint32_t i = 0; i < c->ncombine; i++, off += 48) {
        c->combine[i].a = rd32(data + off);
        c->combine[i].b = rd32(data + off + 4);
        uint32_t ta = rd32(data + off + 8), tb = rd32(data + off + 12);
        memcpy(&c->combine[i].ta, &ta, 4);
        memcpy(&c->combine[i].tb, &tb, 4);
        memcpy(c->combine[i].name, data + off + 16, 31);
        c->combine[i].name[31] = 0;
        if (c->combine[i].a >= c->classes || c->combine[i].b >= c->classes) {
            cls_free(c);
            return IMG_EFORMAT;
        }
    }
    c->E = (const uint16_t *)(const void *)(data + off); /* 2-byte aligned: offset is even */
    off += (size_t)c->buckets * c->dim * 2;
    c->W1 = copy_f32(data + off, (size_t)c->hidden * c->dim);
    off += 4 * (size_t)c->hidden * c->dim;
    c->b1 = copy_f32(data + off, c->hidden);
    off += 4 * (size_t)c->hidden;
    c->W2 = copy_f32(data + off, (size_t)c->classes * c->hidden);
    off += 4 * (size_t)c->classes * c->hidden;
    c->b2 = copy_f32(data + off, c->classes);
    if (!c->W1 || !c->b1 || !c->W2 || !c->b2) {
        cls_free(c);
        return IMG_ENOMEM;
    }
    *out = c;
    return IMG_OK;
}

int cls_load_builtin(classifier_t **out) {
    return cls_load(imgapi_moderation_classifier,
                    (size_t)(imgapi_moderation_classifier_end - imgapi_moderation_classifier), out);
}

int cls_classes(const classifier_t *c) {
    return (int)c->classes;
}
int cls_combines(const classifier_t *c) {
    return (int)c->ncombine;
}
void cls_combine(const classifier_t *c, int i, int *a, int *b, float *ta, float *tb,
                 const char **name) {
    *a = (int)c->combine[i].a;
    *b = (int)c->combine[i].b;
    *ta = c->combine[i].ta;
    *tb = c->combine[i].tb;
    *name = c->combine[i].name;
}
const char *cls_class_name(const classifier_t *c, int k) {
    return c->names[k];
}
float cls_threshold(const classifier_t *c, int k) {
    return c->thresholds[k];
}

/* FNV-1a 32 of prefix + a + (b ? " " + b : "") */
static uint32_t fnv(const char *prefix, const char *a, size_t alen, const char *b) {
    uint32_t h = 0x811C9DC5u;
#define FNV_BYTE(x)                                                                                \
    do {                                                                                           \
        h ^= (unsigned char)(x);                                                                   \
        h *= 0x01000193u;                                                                          \
    } while (0)
    for (const char *p = prefix; *p; p++)
        FNV_BYTE(*p);
    for (size_t i = 0; i < alen; i++)
        FNV_BYTE(a[i]);
    if (b) {
        FNV_BYTE(' ');
        for (const char *p = b; *p; p++)
            FNV_BYTE(*p);
    }
#undef FNV_BYTE
    return h;
}

static void add_row(const classifier_t *c, uint32_t h, float *acc) {
    const uint16_t *row = c->E + (size_t)(h & (c->buckets - 1)) * c->dim;
    for (uint32_t d = 0; d < c->dim; d++)
        acc[d] += f16_to_f32(row[d]);
}

/* Character n-grams (3 to 5 code points) of "<word>". */
static size_t add_char_grams(const classifier_t *c, const char *word, float *acc) {
    size_t wl = strlen(word);
    char *s = malloc(wl + 3);
    size_t *starts = malloc((wl + 3) * sizeof *starts);
    if (!s || !starts) {
        free(s);
        free(starts);
        return (size_t)-1;
    }
    s[0] = '<';
    memcpy(s + 1, word, wl);
    s[wl + 1] = '>';
    s[wl + 2] = 0;
    size_t n = 0, len = wl + 2;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) starts[n++] = i;
    starts[n] = len;
    size_t count = 0;
    for (size_t g = 3; g <= 5; g++)
        for (size_t i = 0; i + g <= n; i++) {
            add_row(c, fnv("c:", s + starts[i], starts[i + g] - starts[i], NULL), acc);
            count++;
        }
    free(s);
    free(starts);
    return count;
}

/* A word as the features read it: й as и, the way the normaliser wrote it when the shipped
 * model was trained (the rules' stemmer needs й, the model's buckets were filled without it).
 * s itself when it has no й, else a copy in buf (cap bytes) or, longer, malloc'd into *owned. */
static const char *feature_word(const char *s, char *buf, size_t cap, char **owned) {
    if (!strstr(s, "\xd0\xb9")) return s;
    size_t n = strlen(s);
    char *d = n < cap ? buf : (*owned = malloc(n + 1));
    if (!d) return NULL;
    memcpy(d, s, n + 1);
    for (char *p = d; (p = strstr(p, "\xd0\xb9")); p += 2) p[1] = (char)0xb8;
    return d;
}

int cls_score(const classifier_t *c, const words_t *w, float *probs) {
    float acc[256] = {0}, hid[1024];
    size_t count = 0;
    char b0[128], b1[128], b2[128];
    for (int i = 0; i < w->n; i++) {
        char *o0 = NULL, *o1 = NULL, *o2 = NULL; /* copies of long words with й, freed below */
        const char *wi = feature_word(w->w[i], b0, sizeof b0, &o0);
        const char *alt = w->alt[i] ? feature_word(w->alt[i], b1, sizeof b1, &o1) : NULL;
        const char *next = i + 1 < w->n ? feature_word(w->w[i + 1], b2, sizeof b2, &o2) : NULL;
        int oom = !wi || (w->alt[i] && !alt) || (i + 1 < w->n && !next);
        if (!oom) {
            add_row(c, fnv("w:", wi, strlen(wi), NULL), acc);
            count++;
            if (alt) {
                add_row(c, fnv("w:", alt, strlen(alt), NULL), acc);
                count++;
            }
            if (next) {
                add_row(c, fnv("b:", wi, strlen(wi), next), acc);
                count++;
            }
        }
        size_t g = oom ? (size_t)-1 : add_char_grams(c, wi, acc);
        free(o0);
        free(o1);
        free(o2);
        if (g == (size_t)-1) return IMG_ENOMEM;
        count += g;
    }
    if (!count) { /* an empty prompt: the training script scores feature 0's row */
        add_row(c, 0, acc);
        count = 1;
    }
    for (uint32_t d = 0; d < c->dim; d++)
        acc[d] /= (float)count;
    for (uint32_t h = 0; h < c->hidden; h++) {
        float s = c->b1[h];
        for (uint32_t d = 0; d < c->dim; d++)
            s += c->W1[(size_t)h * c->dim + d] * acc[d];
        hid[h] = s > 0 ? s : 0;
    }
    for (uint32_t k = 0; k < c->classes; k++) {
        float s = c->b2[k];
        for (uint32_t h = 0; h < c->hidden; h++)
            s += c->W2[(size_t)k * c->hidden + h] * hid[h];
        s = s < -30 ? -30 : s > 30 ? 30 : s;
        probs[k] = 1.0f / (1.0f + expf(-s));
    }
    return IMG_OK;
}
