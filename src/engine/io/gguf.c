/* gguf.c - GGUF files as safetensors-like files (gguf.h). */
#include "engine/io/gguf.h"
#include "engine/io/gguf_quant.h"
#include "common/status.h"
#include "engine/kernels/half.h"
#include "engine/tensor/dtype.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ggml's type numbers (ggml.h), those read here */
enum { G_F32 = 0, G_F16 = 1, G_Q4_0 = 2, G_Q4_1 = 3, G_Q5_0 = 6, G_Q5_1 = 7, G_Q8_0 = 8, G_Q2_K = 10, G_Q3_K = 11,
       G_Q4_K = 12, G_Q5_K = 13, G_Q6_K = 14, G_I8 = 24, G_I16 = 25, G_I32 = 26, G_I64 = 27, G_F64 = 28, G_BF16 = 30 };
#define QK_K 256 /* values per super-block of the K quants */

/* The safetensors type of a GGUF type read in place (F32, F16, BF16, F64, integers); -1 else. */
static int plain_type(uint32_t t, size_t *size) {
    static const struct {
        uint32_t g;
        st_dtype_t s;
        size_t size;
    } T[] = {{G_F32, ST_F32, 4}, {G_F16, ST_F16, 2}, {G_BF16, ST_BF16, 2}, {G_F64, ST_F64, 8},
             {G_I8, ST_I8, 1},   {G_I16, ST_I16, 2}, {G_I32, ST_I32, 4},   {G_I64, ST_I64, 8}};
    for (size_t k = 0; k < sizeof T / sizeof T[0]; k++)
        if (T[k].g == t) {
            *size = T[k].size;
            return (int)T[k].s;
        }
    return -1;
}
#define QK 32 /* values per block of the simple block types */

typedef struct {
    const uint8_t *p;
    size_t len, off;
    int bad; /* a read went past the end */
} rd_t;

static const uint8_t *take(rd_t *r, size_t n) {
    if (r->bad || n > r->len - r->off) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *q = r->p + r->off;
    r->off += n;
    return q;
}

static uint64_t u64(rd_t *r) {
    const uint8_t *q = take(r, 8);
    uint64_t v = 0;
    for (int i = 7; q && i >= 0; i--) v = v << 8 | q[i];
    return v;
}

static uint32_t u32(rd_t *r) {
    const uint8_t *q = take(r, 4);
    return q ? (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24 : 0;
}

/* A gguf_string: its bytes (not NUL-terminated) and length. */
static const char *str(rd_t *r, uint64_t *n) {
    *n = u64(r);
    return (const char *)take(r, (size_t)*n);
}

/* Skips a metadata value of type t (arrays: depth-limited). */
static void skip_value(rd_t *r, uint32_t t, int depth) {
    static const size_t SIZE[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    uint64_t n;
    if (t == 8) {
        str(r, &n);
    } else if (t == 9 && depth < 2) {
        uint32_t et = u32(r);
        uint64_t count = u64(r);
        if (et > 12 || count > r->len) r->bad = 1;
        for (uint64_t i = 0; !r->bad && i < count; i++) skip_value(r, et, depth + 1);
    } else if (t <= 12 && SIZE[t]) {
        take(r, SIZE[t]);
    } else {
        r->bad = 1;
    }
}

/* Bytes of a block of type t (0: not a block type read here). */
static size_t block_bytes(uint32_t t) {
    switch (t) {
    case G_Q4_0: return 2 + QK / 2;
    case G_Q4_1: return 4 + QK / 2;
    case G_Q5_0: return 2 + 4 + QK / 2;
    case G_Q5_1: return 4 + 4 + QK / 2;
    case G_Q8_0: return 2 + QK;
    case G_Q2_K: return QK_K / 16 + QK_K / 4 + 4;          /* scales, qs, d, dmin */
    case G_Q3_K: return QK_K / 8 + QK_K / 4 + 12 + 2;      /* hmask, qs, scales, d */
    case G_Q4_K: return 4 + 12 + QK_K / 2;                 /* d, dmin, scales, qs */
    case G_Q5_K: return 4 + 12 + QK_K / 8 + QK_K / 2;      /* d, dmin, scales, qh, qs */
    case G_Q6_K: return QK_K / 2 + QK_K / 4 + QK_K / 16 + 2; /* ql, qh, scales, d */
    default: return 0;
    }
}

/* Values per block of type t. */
static size_t block_values(uint32_t t) { return t >= G_Q2_K && t <= G_Q6_K ? QK_K : QK; }

/* The ST_ dtype of a block type t, and back (ST_DTYPE_COUNT / 0: none). */
static const struct {
    uint32_t g;
    st_dtype_t s;
} BLOCK_TYPES[] = {{G_Q8_0, ST_Q8_0}, {G_Q4_0, ST_Q4_0}, {G_Q4_1, ST_Q4_1}, {G_Q5_0, ST_Q5_0},
                   {G_Q5_1, ST_Q5_1}, {G_Q2_K, ST_Q2_K}, {G_Q3_K, ST_Q3_K}, {G_Q4_K, ST_Q4_K},
                   {G_Q5_K, ST_Q5_K}, {G_Q6_K, ST_Q6_K}};

static st_dtype_t st_block_type(uint32_t g) {
    for (size_t i = 0; i < sizeof BLOCK_TYPES / sizeof BLOCK_TYPES[0]; i++)
        if (BLOCK_TYPES[i].g == g) return BLOCK_TYPES[i].s;
    return ST_DTYPE_COUNT;
}

static uint32_t g_block_type(st_dtype_t s) {
    for (size_t i = 0; i < sizeof BLOCK_TYPES / sizeof BLOCK_TYPES[0]; i++)
        if (BLOCK_TYPES[i].s == s) return BLOCK_TYPES[i].g;
    return 0;
}

static float half_at(const uint8_t *p) { return f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

/* The 6-bit scale and min j (0..7) of a Q4_K / Q5_K super-block's 12 scale bytes. */
static void scale_min(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0f) | (q[j - 4] >> 6) << 4;
        *m = (q[j + 4] >> 4) | (q[j] >> 6) << 4;
    }
}

/* A K-quant super-block's QK_K values. */
static void dequant_k(uint32_t t, const uint8_t *b, float *y) {
    switch (t) {
    case G_Q2_K: { /* 16 groups of 16: scale (low nibble) and min (high) per group, 2-bit values */
        const uint8_t *sc = b, *q = b + 16;
        float d = half_at(b + 80), dmin = half_at(b + 82);
        for (int n = 0; n < 2; n++)
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 32; l++) {
                    int is = 8 * n + 2 * k + l / 16, v = (q[32 * n + l] >> (2 * k)) & 3;
                    y[128 * n + 32 * k + l] = d * (float)(sc[is] & 0x0f) * (float)v - dmin * (float)(sc[is] >> 4);
                }
        break;
    }
    case G_Q3_K: { /* 2-bit values, a high bit in hmask (clear: minus 4), 6-bit signed scales */
        const uint8_t *hm = b, *q = b + 32, *s = b + 96;
        float d = half_at(b + 108);
        for (int is = 0; is < 16; is++) {
            int us = is < 4    ? (s[is] & 0x0f) | (s[is + 8] & 3) << 4
                     : is < 8  ? (s[is] & 0x0f) | ((s[is + 4] >> 2) & 3) << 4
                     : is < 12 ? (s[is - 8] >> 4) | ((s[is] >> 4) & 3) << 4
                               : (s[is - 8] >> 4) | ((s[is - 4] >> 6) & 3) << 4;
            int n = is / 8, k = (is % 8) / 2, half = is % 2;
            float dl = d * (float)(us - 32);
            for (int l = 16 * half; l < 16 * half + 16; l++) {
                int v = ((q[32 * n + l] >> (2 * k)) & 3) - ((hm[l] >> (4 * n + k)) & 1 ? 0 : 4);
                y[128 * n + 32 * k + l] = dl * (float)v;
            }
        }
        break;
    }
    case G_Q4_K:
    case G_Q5_K: { /* 8 groups of 32: 6-bit scale and min each; Q5_K's fifth bits in qh */
        int five = t == G_Q5_K;
        float d = half_at(b), dmin = half_at(b + 2);
        const uint8_t *sc = b + 4, *qh = b + 16, *qs = b + 16 + (five ? 32 : 0);
        for (int j = 0; j < 4; j++) {
            int s1, m1, s2, m2;
            scale_min(2 * j, sc, &s1, &m1);
            scale_min(2 * j + 1, sc, &s2, &m2);
            for (int l = 0; l < 32; l++) {
                int lo = qs[32 * j + l] & 0x0f, hi = qs[32 * j + l] >> 4;
                if (five) {
                    lo += (qh[l] >> (2 * j)) & 1 ? 16 : 0;
                    hi += (qh[l] >> (2 * j + 1)) & 1 ? 16 : 0;
                }
                y[64 * j + l] = d * (float)s1 * (float)lo - dmin * (float)m1;
                y[64 * j + 32 + l] = d * (float)s2 * (float)hi - dmin * (float)m2;
            }
        }
        break;
    }
    case G_Q6_K: { /* 6-bit values (low 4 in ql, high 2 in qh) minus 32, 8-bit scales per 16 */
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = half_at(b + 208);
        for (int n = 0; n < 2; n++)
            for (int l = 0; l < 32; l++) {
                int is = 8 * n + l / 16;
                const uint8_t *L = ql + 64 * n, h = qh[32 * n + l];
                int q1 = ((L[l] & 0x0f) | ((h >> 0) & 3) << 4) - 32, q2 = ((L[l + 32] & 0x0f) | ((h >> 2) & 3) << 4) - 32;
                int q3 = ((L[l] >> 4) | ((h >> 4) & 3) << 4) - 32, q4 = ((L[l + 32] >> 4) | ((h >> 6) & 3) << 4) - 32;
                y[128 * n + l] = d * (float)sc[is] * (float)q1;
                y[128 * n + l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[128 * n + l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[128 * n + l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        break;
    }
    }
}

/* One block's values (ggml-common.h's layouts, ggml-quants.c's dequantization). */
static void dequant_block(uint32_t t, const uint8_t *b, float *y) {
    if (t >= G_Q2_K && t <= G_Q6_K) {
        dequant_k(t, b, y);
        return;
    }
    float d = half_at(b);
    switch (t) {
    case G_Q8_0:
        for (int j = 0; j < QK; j++) y[j] = d * (float)(int8_t)b[2 + j];
        break;
    case G_Q4_0: /* low nibbles are values 0..15, high nibbles 16..31, offset 8 */
        for (int j = 0; j < QK / 2; j++) {
            y[j] = d * (float)((b[2 + j] & 0x0f) - 8);
            y[j + QK / 2] = d * (float)((b[2 + j] >> 4) - 8);
        }
        break;
    case G_Q4_1: {
        float m = half_at(b + 2);
        for (int j = 0; j < QK / 2; j++) {
            y[j] = d * (float)(b[4 + j] & 0x0f) + m;
            y[j + QK / 2] = d * (float)(b[4 + j] >> 4) + m;
        }
        break;
    }
    case G_Q5_0:
    case G_Q5_1: { /* the fifth bits of the 32 values in one 32-bit word */
        int one = t == G_Q5_1;
        float m = one ? half_at(b + 2) : 0;
        const uint8_t *qh = b + (one ? 4 : 2), *qs = qh + 4;
        uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
        for (int j = 0; j < QK / 2; j++) {
            int x0 = (qs[j] & 0x0f) | (int)(((h >> j) << 4) & 0x10);
            int x1 = (qs[j] >> 4) | (int)((h >> (j + 12)) & 0x10);
            y[j] = one ? d * (float)x0 + m : d * (float)(x0 - 16);
            y[j + QK / 2] = one ? d * (float)x1 + m : d * (float)(x1 - 16);
        }
        break;
    }
    }
}

size_t gguf_block_bytes(st_dtype_t t, int64_t numel) {
    uint32_t g = g_block_type(t);
    size_t bv = block_values(g), bb = block_bytes(g);
    return g && numel >= 0 && numel % (int64_t)bv == 0 ? (size_t)numel / bv * bb : 0;
}

int gguf_block_to_f32(st_dtype_t t, const void *src, size_t n, float *out) {
    uint32_t g = g_block_type(t);
    size_t bv = block_values(g), bb = block_bytes(g);
    if (!g || n % bv) return IMG_EINVAL;
    for (size_t b = 0; b < n / bv; b++) dequant_block(g, (const uint8_t *)src + b * bb, out + b * bv);
    return IMG_OK;
}

#define FAIL(code, ...) (snprintf(err, errlen, __VA_ARGS__), rc = (code))

int gguf_parse(const void *buf, size_t len, st_file_t **out, char *err, size_t errlen) {
    *out = NULL;
    rd_t r = {buf, len, 4, 0};
    int rc = IMG_OK;
    if (len < 24 || memcmp(buf, "GGUF", 4)) return FAIL(IMG_EFORMAT, "not a GGUF file");
    uint32_t version = u32(&r);
    uint64_t nt = u64(&r), nkv = u64(&r);
    if (version < 2 || version > 3) return FAIL(IMG_EUNSUPPORTED, "GGUF version %u (2 and 3 are read)", version);
    if (nt > len / 16 || nkv > len / 12) return FAIL(IMG_EFORMAT, "GGUF counts larger than the file");
    st_compose_t *c = NULL;
    if (st_compose_new(&c)) return FAIL(IMG_ENOMEM, "out of memory");
    uint64_t align = 32;
    for (uint64_t i = 0; !rc && i < nkv; i++) {
        uint64_t kl, vl;
        const char *k = str(&r, &kl);
        uint32_t t = u32(&r);
        if (r.bad || kl > 1024) {
            FAIL(IMG_EFORMAT, "GGUF metadata %llu is cut short", (unsigned long long)i);
            break;
        }
        if (kl == 17 && !memcmp(k, "general.alignment", 17) && t == 4) {
            align = u32(&r);
        } else if (t == 8) { /* string values are kept as metadata (a config, for instance) */
            const char *v = str(&r, &vl);
            char *ks = v ? strndup(k, (size_t)kl) : NULL, *vs = ks ? strndup(v, (size_t)vl) : NULL;
            if (v && (!vs || st_compose_set_metadata(c, ks, vs))) FAIL(IMG_ENOMEM, "out of memory");
            free(ks);
            free(vs);
        } else {
            skip_value(&r, t, 0);
        }
        if (!rc && r.bad) FAIL(IMG_EFORMAT, "GGUF metadata %llu is cut short or malformed", (unsigned long long)i);
    }
    if (!rc && (align == 0 || (align & (align - 1)) || align > (1u << 20)))
        FAIL(IMG_EFORMAT, "GGUF alignment %llu is not a power of two", (unsigned long long)align);
    /* tensor infos: read once to find where the data starts, then again to add them */
    size_t infos = r.off, data = 0;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        if (pass == 1) { /* the data section starts at the first aligned offset after the infos */
            data = (size_t)((r.off + align - 1) / align * align);
            if (data > len) FAIL(IMG_EFORMAT, "GGUF data section outside the file");
        }
        r.off = infos;
        for (uint64_t i = 0; !rc && i < nt; i++) {
            uint64_t nl;
            const char *name = str(&r, &nl);
            uint32_t nd = u32(&r);
            if (r.bad || nl == 0 || nl > 512 || nd < 1 || nd > ST_MAX_DIMS) {
                FAIL(IMG_EFORMAT, "GGUF tensor info %llu is malformed", (unsigned long long)i);
                break;
            }
            int64_t shape[ST_MAX_DIMS];
            uint64_t numel = 1;
            for (uint32_t d = 0; d < nd; d++) { /* innermost first: reversed into row-major */
                uint64_t v = u64(&r);
                if (v == 0 || v > (1ull << 40) || numel > (1ull << 40) / v) r.bad = 1;
                else numel *= v;
                shape[nd - 1 - d] = (int64_t)v;
            }
            uint32_t type = u32(&r);
            uint64_t off = u64(&r);
            if (r.bad) {
                FAIL(IMG_EFORMAT, "GGUF tensor '%.*s' has a malformed shape", (int)(nl > 100 ? 100 : nl), name);
                break;
            }
            if (pass == 0) continue;
            size_t bb = block_bytes(type), es = 0;
            int plain = plain_type(type, &es);
            size_t bv = block_values(type);
            uint64_t bytes = plain >= 0 ? es * numel : bb && numel % bv == 0 ? numel / bv * bb : 0;
            char nm[520];
            snprintf(nm, sizeof nm, "%.*s", (int)nl, name);
            if (!bytes) {
                FAIL(IMG_EUNSUPPORTED,
                     "GGUF tensor '%.100s': type %u is not read (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, "
                     "Q2_K to Q6_K are; the IQ types are not)",
                     nm, type);
                break;
            }
            if (off > len || bytes > len - data || off > len - data - bytes) {
                FAIL(IMG_EFORMAT, "GGUF tensor '%.100s': data lies outside the file (truncated?)", nm);
                break;
            }
            const uint8_t *src = (const uint8_t *)buf + data + off;
            /* every type in place: the block types as their ST_ dtypes */
            rc = st_compose_add(c, nm, plain >= 0 ? (st_dtype_t)plain : st_block_type(type), (int)nd, shape, src, NULL);
        }
    }
    if (rc) {
        st_compose_free(c);
        return rc;
    }
    return st_compose_finish(c, out, err, errlen);
}

/* ---- writer ---- */

typedef struct {
    FILE *fp;
    int failed;
} wr_t;

static void wbytes(wr_t *w, const void *p, size_t n) {
    if (!w->failed && n && fwrite(p, 1, n, w->fp) != n) w->failed = 1;
}
static void w32(wr_t *w, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    wbytes(w, b, 4);
}
static void w64(wr_t *w, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    wbytes(w, b, 8);
}
static void wstr(wr_t *w, const char *s) {
    w64(w, strlen(s));
    wbytes(w, s, strlen(s));
}

/* The GGUF type a tensor is written in, and its bytes. */
static uint32_t out_type(const st_tensor_t *t, const char *type, uint64_t *bytes) {
    int is_float = t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16 || t->dtype == ST_F64 ||
                   ST_IS_BLOCK(t->dtype);
    uint64_t n = (uint64_t)t->numel;
    if (!is_float) { /* integers: as they are, where GGUF has the type */
        *bytes = t->nbytes;
        return t->dtype == ST_I8 ? G_I8 : t->dtype == ST_I16 ? G_I16 : t->dtype == ST_I32 ? G_I32 : t->dtype == ST_I64 ? G_I64 : 999;
    }
    /* q4_k: Q4_K for matrices whose rows are a multiple of 256 values, else Q8_0 where they are
     * of 32 (as ggml can hold them), else halves */
    if (!strcmp(type, "q4_k") && t->ndim == 2 && t->shape[1] % QK_K == 0) {
        *bytes = n / QK_K * block_bytes(G_Q4_K);
        return G_Q4_K;
    }
    if ((!strcmp(type, "q8_0") || !strcmp(type, "q4_k")) && t->ndim == 2 && t->shape[1] % QK == 0) {
        *bytes = n / QK * block_bytes(G_Q8_0);
        return G_Q8_0;
    }
    if (!strcmp(type, "f32")) {
        *bytes = 4 * n;
        return G_F32;
    }
    *bytes = 2 * n;
    return !strcmp(type, "bf16") ? G_BF16 : G_F16;
}

int gguf_write(const st_file_t *f, const char *type, const char *path, char *err, size_t errlen) {
    if (strcmp(type, "f32") && strcmp(type, "f16") && strcmp(type, "bf16") && strcmp(type, "q8_0") &&
        strcmp(type, "q4_k")) {
        snprintf(err, errlen, "unknown type '%.32s' (f32, f16, bf16, q8_0, q4_k)", type);
        return IMG_EINVAL;
    }
    size_t n = st_count(f);
    for (size_t i = 0; i < n; i++) {
        uint64_t b;
        if (out_type(st_get(f, i), type, &b) == 999) {
            snprintf(err, errlen, "tensor %.200s: GGUF has no %s type", st_get(f, i)->name, st_dtype_name(st_get(f, i)->dtype));
            return IMG_EUNSUPPORTED;
        }
    }
    wr_t w = {fopen(path, "wb"), 0};
    if (!w.fp) {
        snprintf(err, errlen, "cannot write %s", path);
        return IMG_EIO;
    }
    static const char *const KEEP[] = {"config", "imgapi.native"};
    uint64_t nkv = 1;
    for (size_t k = 0; k < 2; k++) nkv += st_metadata(f, KEEP[k]) != NULL;
    wbytes(&w, "GGUF", 4);
    w32(&w, 3);
    w64(&w, n);
    w64(&w, nkv);
    wstr(&w, "general.alignment");
    w32(&w, 4);
    w32(&w, 32);
    for (size_t k = 0; k < 2; k++)
        if (st_metadata(f, KEEP[k])) {
            wstr(&w, KEEP[k]);
            w32(&w, 8);
            wstr(&w, st_metadata(f, KEEP[k]));
        }
    uint64_t off = 0, pos = 4 + 4 + 8 + 8;
    for (size_t i = 0; i < n; i++) { /* infos: dims innermost first, offsets aligned */
        const st_tensor_t *t = st_get(f, i);
        uint64_t bytes;
        uint32_t gt = out_type(t, type, &bytes);
        wstr(&w, t->name);
        int nd = t->ndim ? t->ndim : 1;
        w32(&w, (uint32_t)nd);
        for (int d = nd - 1; d >= 0; d--) w64(&w, t->ndim ? (uint64_t)t->shape[d] : 1);
        w32(&w, gt);
        w64(&w, off);
        off += (bytes + 31) / 32 * 32;
    }
    pos = (uint64_t)ftell(w.fp);
    static const uint8_t ZERO[32] = {0};
    wbytes(&w, ZERO, (size_t)((32 - pos % 32) % 32));
    float *x = NULL;
    uint8_t *enc = NULL; /* one tensor in its written form */
    isa_t isa = cpu_best_isa();
    int rc = IMG_OK;
    for (size_t i = 0; i < n && !rc && !w.failed; i++) {
        const st_tensor_t *t = st_get(f, i);
        uint64_t bytes;
        uint32_t gt = out_type(t, type, &bytes);
        if (gt >= G_I8 && gt <= G_I64) {
            wbytes(&w, t->data, t->nbytes);
        } else {
            size_t nv = (size_t)(t->numel ? t->numel : 1);
            float *p = realloc(x, sizeof(float) * nv);
            if (p) x = p;
            uint8_t *q = p ? realloc(enc, (size_t)bytes + 1) : NULL;
            if (q) enc = q;
            if (!p || !q || st_to_f32(t, x, (size_t)t->numel)) {
                rc = p && q ? IMG_EFORMAT : IMG_ENOMEM;
                break;
            }
            if (gt == G_F32) {
                memcpy(enc, x, (size_t)bytes);
            } else if (gt == G_F16) {
                half_from_float(isa, x, (uint16_t *)enc, (size_t)t->numel);
            } else if (gt == G_BF16) {
                for (int64_t k = 0; k < t->numel; k++) ((uint16_t *)enc)[k] = f32_to_bf16(x[k]);
            } else if (gt == G_Q4_K) {
                gguf_quant_q4_k(x, (size_t)t->numel, enc);
            } else {
                gguf_quant_q8_0(x, (size_t)t->numel, enc);
            }
            wbytes(&w, enc, (size_t)bytes);
        }
        wbytes(&w, ZERO, (size_t)((32 - bytes % 32) % 32));
    }
    free(enc);
    free(x);
    if (fclose(w.fp) && !rc) w.failed = 1;
    if (!rc && w.failed) rc = IMG_EIO;
    if (rc) {
        snprintf(err, errlen, rc == IMG_EIO ? "cannot write %s" : rc == IMG_ENOMEM ? "out of memory writing %s"
                                                                                   : "cannot read a tensor for %s",
                 path);
        remove(path);
    }
    return rc;
}
