/* gguf.c - GGUF files as safetensors-like files (gguf.h). */
#include "engine/io/gguf.h"
#include "common/status.h"
#include "engine/tensor/dtype.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ggml's type numbers (ggml.h), those read here */
enum { G_F32 = 0, G_F16 = 1, G_Q4_0 = 2, G_Q4_1 = 3, G_Q5_0 = 6, G_Q5_1 = 7, G_Q8_0 = 8, G_BF16 = 30 };
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
    default: return 0;
    }
}

static float half_at(const uint8_t *p) { return f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

/* One block's QK values (ggml-common.h's layouts, ggml-quants.c's dequantization). */
static void dequant_block(uint32_t t, const uint8_t *b, float *y) {
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
            size_t bb = block_bytes(type);
            uint64_t bytes = type == G_F32 ? 4 * numel : type == G_F16 || type == G_BF16 ? 2 * numel
                             : bb && numel % QK == 0 ? numel / QK * bb : 0;
            char nm[520];
            snprintf(nm, sizeof nm, "%.*s", (int)nl, name);
            if (!bytes) {
                FAIL(IMG_EUNSUPPORTED, "GGUF tensor '%.100s': type %u is not read (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 are)",
                     nm, type);
                break;
            }
            if (off > len || bytes > len - data || off > len - data - bytes) {
                FAIL(IMG_EFORMAT, "GGUF tensor '%.100s': data lies outside the file (truncated?)", nm);
                break;
            }
            const uint8_t *src = (const uint8_t *)buf + data + off;
            if (!bb) {
                rc = st_compose_add(c, nm, type == G_F32 ? ST_F32 : type == G_F16 ? ST_F16 : ST_BF16, (int)nd, shape,
                                    src, NULL);
                continue;
            }
            uint16_t *h = malloc(sizeof *h * (size_t)numel); /* owned by the composed file */
            if (!h) {
                FAIL(IMG_ENOMEM, "out of memory");
                break;
            }
            float y[QK];
            for (uint64_t b = 0; b < numel / QK; b++) {
                dequant_block(type, src + b * bb, y);
                for (int j = 0; j < QK; j++) h[b * QK + (uint64_t)j] = f32_to_f16(y[j]);
            }
            rc = st_compose_add(c, nm, ST_F16, (int)nd, shape, NULL, h);
        }
    }
    if (rc) {
        st_compose_free(c);
        return rc;
    }
    return st_compose_finish(c, out, err, errlen);
}
