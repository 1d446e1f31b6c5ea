/* gemm.c - weight packing, the blocked GEMM driver and the portable micro-kernel. */
#include "engine/kernels/gemm.h"
#include "common/status.h"
#include "engine/kernels/half.h"
#include "engine/runtime/bigmem.h"
#include "engine/tensor/dtype.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* n floats, 64-byte aligned (large ones on huge pages); owned by the caller. */
static float *alloc_aligned(size_t n) {
    return big_alloc(n * sizeof(float));
}

size_t gemm_pack_floats(int n, int k) {
    return (size_t)((n + GEMM_NR - 1) / GEMM_NR) * (size_t)k * GEMM_NR;
}

void gemm_pack_into(float *dst, const float *src, int n, int k, size_t col_stride,
                    size_t k_stride, gemm_w_t *out) {
    out->n = n;
    out->k = k;
    out->npanels = (n + GEMM_NR - 1) / GEMM_NR;
    out->half = 0;
    out->bf16 = 0;
    out->dp = 0;
    out->q8 = 0;
    out->data = dst;
    for (int p = 0; p < out->npanels; p++) {
        float *panel = dst + (size_t)p * k * GEMM_NR;
        int cols = n - p * GEMM_NR < GEMM_NR ? n - p * GEMM_NR : GEMM_NR;
        if (cols < GEMM_NR) memset(panel, 0, sizeof(float) * (size_t)k * GEMM_NR);
        for (int j = 0; j < cols; j++) {
            const float *col = src + (size_t)(p * GEMM_NR + j) * col_stride;
            for (int kk = 0; kk < k; kk++)
                panel[(size_t)kk * GEMM_NR + j] = col[(size_t)kk * k_stride];
        }
    }
}

/* Packs element (col, kk) = src[col * col_stride + kk * k_stride] into 16-column panels, as
 * halves when that is exact. */
static int pack_strided(const float *src, int n, int k, size_t col_stride, size_t k_stride, gemm_w_t *out) {
    size_t total = gemm_pack_floats(n, k);
    float *f = alloc_aligned(total); /* owned by out, or freed below for the half copy */
    if (!f) return IMG_ENOMEM;
    gemm_pack_into(f, src, n, k, col_stride, k_stride, out);
    void *h = NULL;
    if (!(h = big_alloc(total * sizeof(uint16_t)))) return IMG_OK; /* stays f32 */
    int bf16 = 0;
    if (half_from_float_exact(f, h, total) || (bf16 = bf16_from_float_exact(f, h, total))) {
        free(f);
        out->data = h;
        out->half = 1;
        out->bf16 = bf16;
    } else {
        free(h);
    }
    return IMG_OK;
}

int gemm_pack_16bit(const void *const *parts, const int *part_n, int nparts, int k, int inner,
                    size_t inner_stride, size_t outer_stride, int bf16, gemm_w_t *out) {
    int n = 0;
    for (int p = 0; p < nparts; p++) n += part_n[p];
    if (inner <= 0 || k % inner) return IMG_EINVAL;
    size_t total = gemm_pack_floats(n, k);
    uint16_t *dst = NULL; /* owned by out */
    if (!(dst = big_alloc(total * sizeof(uint16_t)))) return IMG_ENOMEM;
    *out = (gemm_w_t){
        .n = n, .k = k, .npanels = (n + GEMM_NR - 1) / GEMM_NR, .half = 1, .bf16 = bf16, .data = dst};
    if (n % GEMM_NR) /* the last panel's missing columns */
        memset(dst + (size_t)(out->npanels - 1) * k * GEMM_NR, 0, sizeof(uint16_t) * (size_t)k * GEMM_NR);
    int col = 0, taps = k / inner;
    for (int p = 0; p < nparts; p++)
        for (int r = 0; r < part_n[p]; r++, col++) {
            const unsigned char *row = (const unsigned char *)parts[p] + (size_t)r * k * 2;
            uint16_t *d = dst + (size_t)(col / GEMM_NR) * k * GEMM_NR + col % GEMM_NR;
            for (int t = 0; t < taps; t++)
                for (int i = 0; i < inner; i++, d += GEMM_NR)
                    memcpy(d, row + 2 * ((size_t)i * inner_stride + (size_t)t * outer_stride), 2);
        }
    return IMG_OK;
}

int gemm_pack(const float *w, int n, int k, gemm_w_t *out) { return pack_strided(w, n, k, (size_t)k, 1, out); }

int gemm_pack_t(const float *wt, int k, int n, gemm_w_t *out) { return pack_strided(wt, n, k, 1, (size_t)n, out); }

void gemm_w_free(gemm_w_t *w) {
    free(w->data);
    w->data = NULL;
}

void gemm_w_widen(const gemm_w_t *w, isa_t isa, size_t off, size_t n, float *dst) {
    if (w->q8)
        gemm_q8_widen(w, isa, off, n, dst);
    else if (!w->half)
        memcpy(dst, (const float *)w->data + off, sizeof(float) * n);
    else if (w->bf16)
        bf16_to_float(isa, (const uint16_t *)w->data + off, dst, n);
    else
        half_to_float(isa, (const uint16_t *)w->data + off, dst, n);
}

size_t gemm_dp_pairs(int k) {
    return (size_t)((k + 1) / 2 + 15) & ~(size_t)15;
}

size_t gemm_w_bytes(const gemm_w_t *w) {
    if (w->dp) return (size_t)w->npanels * gemm_dp_pairs(w->k) * 2 * GEMM_NR * sizeof(uint16_t);
    if (w->q8) return gemm_q8_bytes(w->n, w->k);
    return (size_t)w->npanels * (size_t)w->k * GEMM_NR * (w->half ? sizeof(uint16_t) : sizeof(float));
}

void gemm_panels_to_dp(const float *src, int npanels, int k, uint16_t *dst) {
    int kp = (int)gemm_dp_pairs(k), full = k / 2; /* pairs with both values in k */
    for (int p = 0; p < npanels; p++) {
        const float *s = src + (size_t)p * k * GEMM_NR;
        uint16_t *d = dst + (size_t)p * kp * 2 * GEMM_NR;
        for (int q = 0; q < full; q++) { /* branch-free: the compiler vectorises it */
            const float *r0 = s + (size_t)2 * q * GEMM_NR, *r1 = r0 + GEMM_NR;
            uint16_t *dq = d + (size_t)q * 2 * GEMM_NR;
            for (int j = 0; j < GEMM_NR; j++) {
                dq[2 * j] = f32_to_bf16(r0[j]);
                dq[2 * j + 1] = f32_to_bf16(r1[j]);
            }
        }
        for (int q = full; q < kp; q++) /* an odd k's last value, then zero pairs */
            for (int j = 0; j < GEMM_NR; j++) {
                d[(size_t)q * 2 * GEMM_NR + 2 * j] =
                    2 * q < k ? f32_to_bf16(s[(size_t)2 * q * GEMM_NR + j]) : 0;
                d[(size_t)q * 2 * GEMM_NR + 2 * j + 1] = 0;
            }
    }
}

int gemm_w_to_dp(gemm_w_t *w) {
    if (w->dp) return IMG_OK;
    size_t total =
        gemm_w_bytes(&(gemm_w_t){.npanels = w->npanels, .k = w->k, .dp = 1}) / sizeof(uint16_t);
    uint16_t *d = NULL;                                   /* owned by w once converted */
    float *panel = alloc_aligned((size_t)w->k * GEMM_NR); /* one panel widened; freed here */
    if (!panel || !(d = big_alloc(total * sizeof(uint16_t)))) {
        free(panel);
        return IMG_ENOMEM;
    }
    size_t pstride = gemm_dp_pairs(w->k) * 2 * GEMM_NR;
    isa_t isa = cpu_best_isa(); /* widening is exact on every level */
    for (int p = 0; p < w->npanels; p++) {
        gemm_w_widen(w, isa, (size_t)p * w->k * GEMM_NR, (size_t)w->k * GEMM_NR, panel);
        gemm_panels_to_dp(panel, 1, w->k, d + (size_t)p * pstride);
    }
    free(panel);
    free(w->data);
    w->data = d;
    w->half = w->bf16 = w->q8 = 0;
    w->dp = 1;
    return IMG_OK;
}

void gemm_w_row(const gemm_w_t *w, isa_t isa, int p, int kk, float *dst) {
    if (w->dp) {
        const uint16_t *s = (const uint16_t *)w->data +
                            ((size_t)p * gemm_dp_pairs(w->k) + (size_t)(kk / 2)) * 2 * GEMM_NR +
                            (kk & 1);
        for (int j = 0; j < GEMM_NR; j++)
            dst[j] = bf16_to_f32(s[2 * j]);
        return;
    }
    gemm_w_widen(w, isa, ((size_t)p * w->k + kk) * GEMM_NR, GEMM_NR, dst);
}

static void ukr_portable(int kc, const float *a, int lda, const float *b, float *c, int ldc,
                         int load_c, const float *init16) {
    float acc[GEMM_MR_PORTABLE][GEMM_NR];
    for (int i = 0; i < GEMM_MR_PORTABLE; i++)
        for (int j = 0; j < GEMM_NR; j++) acc[i][j] = load_c ? c[(size_t)i * ldc + j] : init16[j];
    for (int kk = 0; kk < kc; kk++) {
        const float *bk = b + (size_t)kk * GEMM_NR;
        for (int i = 0; i < GEMM_MR_PORTABLE; i++) {
            float av = a[(size_t)i * lda + kk];
            for (int j = 0; j < GEMM_NR; j++) acc[i][j] += av * bk[j];
        }
    }
    for (int i = 0; i < GEMM_MR_PORTABLE; i++)
        for (int j = 0; j < GEMM_NR; j++) c[(size_t)i * ldc + j] = acc[i][j];
}

/* The dot-product kernel's arithmetic in plain C (any CPU; precision bf16 with isa portable):
 * per pair, the odd product then the even one added to the f32 accumulator, as VDPBF16PS
 * orders them (the products of two bfloat16 are exact in f32). */
static void ukr_dp_portable(int kp, const uint16_t *a, int lda, const uint16_t *b, float *c,
                            int ldc, int load_c, const float *init16) {
    float acc[GEMM_MR_PORTABLE][GEMM_NR];
    for (int i = 0; i < GEMM_MR_PORTABLE; i++)
        for (int j = 0; j < GEMM_NR; j++)
            acc[i][j] = load_c ? c[(size_t)i * ldc + j] : init16[j];
    for (int q = 0; q < kp; q++) {
        const uint16_t *bq = b + (size_t)q * 2 * GEMM_NR;
        for (int i = 0; i < GEMM_MR_PORTABLE; i++) {
            float a0 = bf16_to_f32(a[(size_t)i * lda + 2 * q]),
                  a1 = bf16_to_f32(a[(size_t)i * lda + 2 * q + 1]);
            for (int j = 0; j < GEMM_NR; j++) {
                acc[i][j] += a1 * bf16_to_f32(bq[2 * j + 1]);
                acc[i][j] += a0 * bf16_to_f32(bq[2 * j]);
            }
        }
    }
    for (int i = 0; i < GEMM_MR_PORTABLE; i++)
        for (int j = 0; j < GEMM_NR; j++)
            c[(size_t)i * ldc + j] = acc[i][j];
}

gemm_dp_kernel_t gemm_dp_kernel(const kctx_t *kc) {
    if (kc->isa != ISA_AVX512) return GEMM_DP_PORTABLE;
    if (kc->amx) return GEMM_DP_AMX;
    return cpu_has_avx512_bf16() ? GEMM_DP_AVX512_BF16 : GEMM_DP_PORTABLE;
}

static void a_to_bf16_portable(const float *src, size_t lds, int rows, int kc, uint16_t *dst,
                               int ld) {
    for (int i = 0; i < rows; i++) {
        for (int e = 0; e < kc; e++)
            dst[(size_t)i * ld + e] = f32_to_bf16(src[(size_t)i * lds + e]);
        for (int e = kc; e < ld; e++)
            dst[(size_t)i * ld + e] = 0;
    }
}

typedef struct {
    gemm_ukr_fn ukr;
    /* the dot-product kernels run this product: pair panels (w->dp), or 8-bit panels with
     * precision bf16, each slice widened and rounded to pairs as it is used */
    int dp;
    gemm_ukr_dp_fn ukr_dp; /* for pair panels (dp) */
    /* with ukr_dp: rows of kc floats lds apart, rounded into rows of ld values */
    void (*a_to_bf16)(const float *src, size_t lds, int rows, int kc, uint16_t *dst, int ld);
    int amx;   /* ukr_dp runs on AMX tiles: each block loads their configuration */
    gemm_ukr_f16_fn ukr_f16; /* for half panels, when the ISA has one; else they are widened */
    /* A as micro-panels (AVX2), for blocks of at least GEMM_MP_PANELS panels: the packer, and
     * the kernels for f32 panels and half panels */
    void (*pack_mp)(const float *src, size_t ld, int rows, int kc, float *dst);
    void (*ukr_mp)(int kc, const float *a, const float *b, float *c, int ldc, int load_c,
                   const float *init16);
    void (*ukr_mp_f16)(int kc, const float *a, const uint16_t *b, float *c, int ldc, int load_c,
                       const float *init16);
    /* two panels per call (AVX-512), for f32 panels and half panels, by the tile's row count
     * (NULL where there is none); half panels read as they are need both ukr_f16 and these */
    gemm_ukr2_fn (*ukr2_rows)(int rows);
    gemm_ukr2_f16_fn (*ukr2_f16_rows)(int rows);
    gemm_ukr2_dp_fn ukr2_dp; /* two pair panels per call (VDPBF16PS), full tiles */
    isa_t isa;
    int mr;
    int kc; /* k per slice: see slice_len */
    int m;
    gemm_pack_a_fn pack_a;
    const void *a_ctx;
    /* or A already rounded to bfloat16 (gemm_serial_bf16: pair panels only), rows lda16 apart */
    const uint16_t *a16;
    int lda16;
    const gemm_w_t *w;
    const float *bias;
    float *c;
    int ldc;
    int accumulate;
    int mtiles_per_task, panels_per_task;
    int mtasks, ntasks;
} gemm_job_t;

typedef struct {
    const float *a;
    int lda;
} plain_a_t;

static void pack_plain(const void *ctx, int row0, int rows, int k0, int kc, float *dst) {
    const plain_a_t *p = ctx;
    for (int i = 0; i < rows; i++)
        memcpy(dst + (size_t)i * kc, p->a + (size_t)(row0 + i) * p->lda + k0, sizeof(float) * (size_t)kc);
}

/* Rows of A per block: 16 AVX2 tiles, 8 AVX-512 tiles, 24 portable tiles (A, C and the task's
 * half panels stay in L2: a 192-row block measured 20% slower in the micro-kernel loop). */
#define GEMM_MB 96
/* Fewest panels a block needs for packing A as micro-panels to pay: the packing costs about one
 * kernel call per row tile, the faster kernel saves about a tenth of each. Attention's P.V has
 * 3-4 panels: packed, bench_gemm's self-attention rows read 8-13% lower in two runs. */
#define GEMM_MP_PANELS 8
/* The most bytes of 8-bit panels a task converts to pairs up front (gemm_task). */
#define PAIR_CACHE_MAX ((size_t)16 << 20)

/* Whether a block of `panels` panels packs A as micro-panels (else A is read as rows). */
static int packs_mp(const gemm_job_t *g, int panels) {
    return g->pack_mp && !g->dp && panels >= GEMM_MP_PANELS;
}

/* One panel's k slice as a kernel reads it: floats (bp: the panels themselves, or widened into
 * buf), IEEE halves widened in registers (hp), or bfloat16 pairs (dpb). */
typedef struct {
    const float *bp;
    const uint16_t *hp, *dpb;
} bslice_t;

/* A task's 8-bit panels p0.. converted to pairs once for all its rows (pair_cache), or none. */
typedef struct {
    const uint16_t *data;
    int p0;
} pair_cache_t;

static bslice_t panel_slice(const gemm_job_t *g, int p, int k0, int kc, int mp, float *buf,
                            uint16_t *pbuf, const pair_cache_t *pc) {
    const gemm_w_t *w = g->w;
    size_t off = ((size_t)p * w->k + k0) * GEMM_NR;
    bslice_t s = {0};
    if (w->dp) {
        s.dpb = (const uint16_t *)w->data +
                ((size_t)p * gemm_dp_pairs(w->k) + (size_t)k0 / 2) * 2 * GEMM_NR;
    } else if (g->dp && pc->data) { /* 8-bit panels converted for the task */
        s.dpb = pc->data + ((size_t)(p - pc->p0) * gemm_dp_pairs(w->k) + (size_t)k0 / 2) * 2 * GEMM_NR;
    } else if (g->dp) { /* 8-bit panels on the dot-product kernels: this slice as pairs */
        gemm_w_widen(w, g->isa, off, (size_t)kc * GEMM_NR, buf);
        gemm_panels_to_dp(buf, 1, kc, pbuf);
        s.dpb = pbuf;
    } else if (w->half && !w->bf16 && (mp ? g->ukr_mp_f16 != NULL : g->ukr_f16 != NULL)) {
        s.hp = (const uint16_t *)w->data + off;
    } else if (w->half || w->q8) {
        gemm_w_widen(w, g->isa, off, (size_t)kc * GEMM_NR, buf);
        s.bp = buf;
    } else {
        s.bp = (const float *)w->data + off;
    }
    return s;
}

/* What the tiles of one block's k slice share. */
typedef struct {
    int k0, kc;
    int row_lo;    /* the block's first row (amp's first) */
    int packed_lo; /* the first row in apack and abf */
    int ld16;      /* abf's row length */
    int kp;        /* pairs per dot-product kernel call: ld16 / 2 */
    /* A in bfloat16 read in place by full row tiles (gemm_serial_bf16), lda_direct apart */
    const uint16_t *abf_direct;
    int lda_direct;
    int load_c, add_bias;
    int mp;                  /* A as micro-panels (amp) */
    const plain_a_t *direct; /* full tiles read a stored A in place */
    const float *apack, *amp;
    const uint16_t *abf;
} slice_t;

/* Row tile row0's A for the row-layout kernels: in place, or in the packed block. */
static const float *tile_a(const gemm_job_t *g, const slice_t *s, int row0, int rows, int *lda) {
    if (s->direct && rows == g->mr) {
        *lda = s->direct->lda;
        return s->direct->a + (size_t)row0 * s->direct->lda + s->k0;
    }
    *lda = s->kc;
    return s->apack + (size_t)(row0 - s->packed_lo) * s->kc;
}

/* Row tile row0's A in bfloat16 for the dot-product kernels: in place (a full tile of an A
 * given in bfloat16), or in the rounded block. */
static const uint16_t *tile_a16(const slice_t *s, int row0, int full, int *ld) {
    if (s->abf_direct && full) {
        *ld = s->lda_direct;
        return s->abf_direct + (size_t)row0 * s->lda_direct;
    }
    *ld = s->ld16;
    return s->abf + (size_t)(row0 - s->packed_lo) * s->ld16;
}

/* The next row tile's C rows (cols floats from cp's column), for writing: they lie a row of C
 * apart (pages apart), where no hardware prefetcher follows, and a large C is not in any cache
 * on the first slice (5-8% at k = 320 with 42 MB of C). */
static void prefetch_next_c(const gemm_job_t *g, const float *cp, int row0, int cols) {
    for (int i = g->mr; i < 2 * g->mr && row0 + i < g->m; i++)
        for (int j = 0; j < cols; j += GEMM_NR)
            __builtin_prefetch(cp + (size_t)i * g->ldc + j, 1, 3);
}

/* Adds the bias values init[0..cols) to rows of C written in place (accumulating products take
 * the bias on their first slice, after the kernel). */
static void add_bias_rows(const gemm_job_t *g, float *cp, int rows, int cols, const float *init) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            cp[(size_t)i * g->ldc + j] += init[j];
}

/* Row tile mt x panel p of the slice (more: another tile follows): a full tile in place in C, an
 * edge tile through a small buffer. init: the panel's 16 bias values (or zeros). */
static void tile_one(const gemm_job_t *g, const slice_t *s, const bslice_t *b, int p, int mt,
                     int more, const float *init) {
    float cbuf[GEMM_MR_AMX * GEMM_NR] __attribute__((aligned(64)));
    int row0 = mt * g->mr, col0 = p * GEMM_NR;
    int rows = g->m - row0 < g->mr ? g->m - row0 : g->mr;
    int ncols = g->w->n - col0 < GEMM_NR ? g->w->n - col0 : GEMM_NR;
    float *cp = g->c + (size_t)row0 * g->ldc + col0;
    int full = rows == g->mr && ncols == GEMM_NR;
    float *dst = cp;
    int ldd = g->ldc;
    if (full) {
        if (more) prefetch_next_c(g, cp, row0, GEMM_NR);
    } else {
        memset(cbuf, 0, sizeof cbuf);
        if (s->load_c)
            for (int i = 0; i < rows; i++)
                memcpy(cbuf + i * GEMM_NR, cp + (size_t)i * g->ldc, sizeof(float) * (size_t)ncols);
        dst = cbuf;
        ldd = GEMM_NR;
    }
    int alda;
    if (b->dpb) {
        int ld;
        const uint16_t *ap = tile_a16(s, row0, rows == g->mr, &ld);
        g->ukr_dp(s->kp, ap, ld, b->dpb, dst, ldd, s->load_c, init);
    } else if (s->mp) {
        const float *ap = s->amp + (size_t)(row0 - s->row_lo) * s->kc;
        if (b->hp)
            g->ukr_mp_f16(s->kc, ap, b->hp, dst, ldd, s->load_c, init);
        else
            g->ukr_mp(s->kc, ap, b->bp, dst, ldd, s->load_c, init);
    } else if (b->hp) {
        const float *ap = tile_a(g, s, row0, rows, &alda);
        g->ukr_f16(s->kc, ap, alda, b->hp, dst, ldd, s->load_c, init);
    } else {
        const float *ap = tile_a(g, s, row0, rows, &alda);
        g->ukr(s->kc, ap, alda, b->bp, dst, ldd, s->load_c, init);
    }
    if (full) {
        if (s->add_bias) add_bias_rows(g, cp, rows, ncols, init);
        return;
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < ncols; j++)
            cp[(size_t)i * g->ldc + j] = cbuf[i * GEMM_NR + j] + (s->add_bias ? init[j] : 0.f);
}

/* tile_pair's f32 and half panels (a last short tile on the kernel of its row count). */
static void tile_pair_f32(const gemm_job_t *g, const slice_t *s, const bslice_t *b, int row0,
                          int rows, float *cp, const float *init32) {
    int alda;
    const float *ap = tile_a(g, s, row0, rows, &alda);
    if (b[0].hp)
        g->ukr2_f16_rows(rows)(s->kc, ap, alda, b[0].hp, b[1].hp, cp, g->ldc, s->load_c, init32);
    else
        g->ukr2_rows(rows)(s->kc, ap, alda, b[0].bp, b[1].bp, cp, g->ldc, s->load_c, init32);
}

/* Row tile mt x panels p and p + 1 by a two-panel kernel, in place in C; 0 (nothing done)
 * unless both panels have all 16 columns and a kernel takes the tile's rows (pair panels: full
 * tiles only). init32: both panels' bias values. */
static int tile_pair(const gemm_job_t *g, const slice_t *s, const bslice_t *b, int p, int mt,
                     int more, const float *init32) {
    int row0 = mt * g->mr, col0 = p * GEMM_NR;
    int rows = g->m - row0 < g->mr ? g->m - row0 : g->mr;
    if (col0 + 2 * GEMM_NR > g->w->n || (b[0].dpb && rows < g->mr)) return 0;
    float *cp = g->c + (size_t)row0 * g->ldc + col0;
    if (more) prefetch_next_c(g, cp, row0, 2 * GEMM_NR);
    if (b[0].dpb) {
        int ld;
        const uint16_t *ap = tile_a16(s, row0, 1, &ld);
        g->ukr2_dp(s->kp, ap, ld, b[0].dpb, b[1].dpb, cp, g->ldc, s->load_c, init32);
    } else
        tile_pair_f32(g, s, b, row0, rows, cp, init32);
    if (s->add_bias) add_bias_rows(g, cp, rows, 2 * GEMM_NR, init32);
    return 1;
}

/* One block of at most GEMM_MB rows (whole tiles from row tile mt0) x panels [p0, p1), the whole
 * k range: per slice of g->kc, the block's rows of A are packed once and every panel's widened
 * slice is multiplied with them (two panels per kernel call where the ISA has such a kernel).
 * With micro-panel kernels (AVX2) A is packed as micro-panels, from a stored matrix directly;
 * otherwise as contiguous rows of kc, zero rows below m, and a stored matrix (gemm, gemm_serial)
 * is read in place (copying rows measured slower than the strided reads it saves): only a last
 * partial tile goes through the buffer. */
static void gemm_block(const gemm_job_t *g, int mt0, int mt1, int p0, int p1, const pair_cache_t *pc) {
    const gemm_w_t *w = g->w;
    float apack[GEMM_MB * GEMM_KC] __attribute__((aligned(64))); /* 144 KiB: the A block */
    /* two widened 16-bit panel slices, and 8-bit ones as pairs for the dot-product kernels */
    float bbuf[2][GEMM_KC * GEMM_NR] __attribute__((aligned(64)));
    uint16_t pbuf[2][GEMM_KC * GEMM_NR] __attribute__((aligned(64)));
    uint16_t abf[GEMM_MB * GEMM_KC] __attribute__((aligned(64))); /* pair panels: A in bfloat16 */
    /* micro-panels (and the packer's two floats past the last) */
    float amp[GEMM_MB * GEMM_KC + 8] __attribute__((aligned(64)));
    float init[2 * GEMM_NR];
    int row_lo = mt0 * g->mr;
    int row_hi = mt1 * g->mr < g->m ? mt1 * g->mr : g->m;
    int mp = packs_mp(g, p1 - p0);
    const plain_a_t *plain = g->pack_a == pack_plain ? g->a_ctx : NULL;
    /* pair panels need A rounded to bfloat16, so it is always packed */
    const plain_a_t *direct = plain && !g->dp && !mp ? plain : NULL;
    int pairs = g->dp ? g->ukr2_dp != NULL : g->ukr2_rows && !mp;
    if (g->amx) gemm_amx_begin();
    for (int k0 = 0; k0 < w->k; k0 += g->kc) {
        slice_t s = {.k0 = k0,
                     .kc = w->k - k0 < g->kc ? w->k - k0 : g->kc,
                     .row_lo = row_lo,
                     .load_c = k0 > 0 || g->accumulate,
                     .add_bias = k0 == 0 && g->accumulate && g->bias,
                     .mp = mp,
                     .direct = direct,
                     .apack = apack,
                     .amp = amp,
                     .abf = abf};
        int kc = s.kc;
        s.packed_lo = direct ? (mt1 - 1) * g->mr : row_lo; /* direct: the last tile only */
        int kstep = g->amx ? 32 : 2; /* abf's rows: whole pairs; AMX: whole 16-pair steps */
        s.ld16 = (kc + kstep - 1) / kstep * kstep; /* zero-padded */
        s.kp = s.ld16 / 2;
        if (g->a16) {
            /* A given in bfloat16: full tiles read it in place where the slice needs no zero
             * padding; the last tile (and every tile otherwise) is copied, zero-padded */
            int in_place = kc % kstep == 0;
            s.packed_lo = in_place ? (mt1 - 1) * g->mr : row_lo;
            if (in_place) {
                s.abf_direct = g->a16 + k0;
                s.lda_direct = g->lda16;
            }
            for (int r = s.packed_lo; r < mt1 * g->mr; r++) {
                uint16_t *d = abf + (size_t)(r - s.packed_lo) * s.ld16;
                int have = r < row_hi ? kc : 0;
                if (have) memcpy(d, g->a16 + (size_t)r * g->lda16 + k0, sizeof *d * (size_t)kc);
                memset(d + have, 0, sizeof *d * (size_t)(s.ld16 - have));
            }
        } else if (mp) {
            const float *src = apack;
            size_t ld = (size_t)kc;
            if (plain) {
                src = plain->a + (size_t)row_lo * plain->lda + k0;
                ld = (size_t)plain->lda;
            } else {
                g->pack_a(g->a_ctx, row_lo, row_hi - row_lo, k0, kc, apack);
            }
            for (int r = row_lo; r < row_hi; r += g->mr)
                g->pack_mp(src + (size_t)(r - row_lo) * ld, ld,
                           row_hi - r < g->mr ? row_hi - r : g->mr, kc,
                           amp + (size_t)(r - row_lo) * kc);
        } else if (g->dp && plain) {
            /* pair panels: A's rows are rounded to bfloat16 straight from the stored matrix
             * (below), not copied first */
        } else if (!direct || mt1 * g->mr > row_hi) {
            g->pack_a(g->a_ctx, s.packed_lo, row_hi - s.packed_lo, k0, kc, apack);
            if (mt1 * g->mr > row_hi) /* the last tile's missing rows */
                memset(apack + (size_t)(row_hi - s.packed_lo) * kc, 0,
                       sizeof(float) * (size_t)(mt1 * g->mr - row_hi) * kc);
        }
        if (g->a16) {
            /* rounded by the caller */
        } else if (g->dp && plain) {
            int rows = row_hi - s.packed_lo;
            g->a_to_bf16(plain->a + (size_t)s.packed_lo * plain->lda + k0, (size_t)plain->lda, rows,
                         kc, abf, s.ld16);
            memset(abf + (size_t)rows * s.ld16, 0,
                   sizeof(uint16_t) * (size_t)(mt1 * g->mr - row_hi) * s.ld16);
        } else if (g->dp) {
            g->a_to_bf16(apack, (size_t)kc, mt1 * g->mr - s.packed_lo, kc, abf, s.ld16);
        }
        for (int p = p0; p < p1;) {
            int two = pairs && p + 1 < p1;
            bslice_t b[2] = {panel_slice(g, p, k0, kc, mp, bbuf[0], pbuf[0], pc),
                             two ? panel_slice(g, p + 1, k0, kc, mp, bbuf[1], pbuf[1], pc) : (bslice_t){0}};
            for (int j = 0; j < 2 * GEMM_NR; j++) {
                int col = p * GEMM_NR + j;
                init[j] = g->bias && col < w->n && (two || j < GEMM_NR) ? g->bias[col] : 0.f;
            }
            for (int mt = mt0; mt < mt1; mt++) {
                int more = mt + 1 < mt1;
                if (two && tile_pair(g, &s, b, p, mt, more, init)) continue;
                tile_one(g, &s, &b[0], p, mt, more, init);
                if (two) tile_one(g, &s, &b[1], p + 1, mt, more, init + GEMM_NR);
            }
            p += two ? 2 : 1;
        }
    }
    if (g->amx) gemm_amx_end();
}

/* One task: a block of row tiles x a block of panels, in row blocks of at most GEMM_MB rows. */
static void gemm_task(void *ctx, int task, int thread) {
    (void)thread;
    const gemm_job_t *g = ctx;
    int mt0 = (task / g->ntasks) * g->mtiles_per_task;
    int p0 = (task % g->ntasks) * g->panels_per_task;
    int mtiles = (g->m + g->mr - 1) / g->mr;
    int mt1 = mt0 + g->mtiles_per_task < mtiles ? mt0 + g->mtiles_per_task : mtiles;
    int p1 = p0 + g->panels_per_task < g->w->npanels ? p0 + g->panels_per_task : g->w->npanels;
    int block_tiles = GEMM_MB / g->mr;
    /* 8-bit panels on the dot-product kernels: converted to pairs once for all the task's rows
     * when that fits PAIR_CACHE_MAX (else each block converts its slices as it goes) */
    uint16_t *cache = NULL; /* freed here */
    size_t pp = gemm_dp_pairs(g->w->k) * 2 * GEMM_NR;
    if (g->dp && g->w->q8 && mt1 - mt0 > block_tiles && pp * (size_t)(p1 - p0) * sizeof *cache <= PAIR_CACHE_MAX) {
        float *tmp = malloc(sizeof(float) * (size_t)g->w->k * GEMM_NR); /* one panel widened; freed here */
        cache = tmp ? big_alloc(pp * (size_t)(p1 - p0) * sizeof *cache) : NULL; /* 64-byte aligned */
        for (int p = p0; cache && p < p1; p++) {
            gemm_w_widen(g->w, g->isa, (size_t)p * g->w->k * GEMM_NR, (size_t)g->w->k * GEMM_NR, tmp);
            gemm_panels_to_dp(tmp, 1, g->w->k, cache + (size_t)(p - p0) * pp);
        }
        free(tmp);
    }
    pair_cache_t pc = {cache, p0};
    for (int mt = mt0; mt < mt1; mt += block_tiles)
        gemm_block(g, mt, mt + block_tiles < mt1 ? mt + block_tiles : mt1, p0, p1, &pc);
    free(cache);
}

/* The k range in equal slices of at most max (rounded up to 8): a B slice and an A tile stay in
 * L1 through a micro-kernel call, and no short last slice reloads every C tile for a few k
 * (k = 320 in one slice, not 256 + 64: 4-6 points of the fp32 peak at SD's 320-channel
 * shapes on 2 AVX2 threads, measured against 256-wide slices in alternation). */
static int slice_len(int k, int max, int step) {
    if (k <= 0) return max;
    int slices = (k + max - 1) / max;
    int len = ((k + slices - 1) / slices + step - 1) / step * step;
    return len < max ? len : max;
}

/* Fills the job's fields shared by gemm_ex and gemm_serial; 0 when there is nothing to multiply
 * (k == 0: C = bias, or unchanged, written here). */
static int gemm_setup(const kctx_t *kc, int m, gemm_pack_a_fn pack_a, const void *a_ctx,
                      const gemm_w_t *w, const float *bias, float *c, int ldc, int accumulate,
                      gemm_job_t *g) {
    *g = (gemm_job_t){.m = m, .pack_a = pack_a, .a_ctx = a_ctx, .w = w, .bias = bias, .c = c,
                      .ldc = ldc, .accumulate = accumulate, .isa = kc->isa};
    switch (kc->isa) {
    case ISA_AVX512:
        g->ukr = gemm_ukr_avx512;
        g->ukr_f16 = gemm_ukr_avx512_f16;
        g->ukr2_rows = gemm_ukr_avx512_x2_rows;
        g->ukr2_f16_rows = gemm_ukr_avx512_x2_f16_rows;
        g->mr = GEMM_MR_AVX512;
        break;
    case ISA_AVX2:
        /* halves widened in registers: 2-8% faster than through the widened slice buffer on 2
         * threads at SD shapes (B takes half the cache and no buffer pass) */
        g->ukr = gemm_ukr_avx2;
        g->ukr_f16 = gemm_ukr_avx2_f16;
        g->pack_mp = gemm_pack_a_avx2;
        g->ukr_mp = gemm_ukr_avx2_mp;
        g->ukr_mp_f16 = gemm_ukr_avx2_mp_f16;
        g->mr = GEMM_MR_AVX2;
        break;
    default: g->ukr = ukr_portable; g->mr = GEMM_MR_PORTABLE; break;
    }
    g->dp = w->dp || (w->q8 && kc->bf16);
    if (g->dp) { /* AMX tiles, or VDPBF16PS where the CPU has it, else its arithmetic in C */
        gemm_dp_kernel_t dk = gemm_dp_kernel(kc);
        int fast = dk != GEMM_DP_PORTABLE; /* AVX-512 rounds A (AMX implies AVX512-BF16) */
        g->amx = dk == GEMM_DP_AMX;
        g->ukr_dp = g->amx ? gemm_ukr_amx_bf16 : fast ? gemm_ukr_avx512_bf16 : ukr_dp_portable;
        g->ukr2_dp = dk == GEMM_DP_AVX512_BF16 ? gemm_ukr_avx512_bf16_x2 : NULL;
        g->a_to_bf16 = fast ? gemm_a_to_bf16_avx512 : a_to_bf16_portable;
        g->mr = g->amx ? GEMM_MR_AMX : fast ? GEMM_MR_AVX512 : GEMM_MR_PORTABLE;
    }
    /* One slice length for every kernel. AVX-512 had 256 while it ran one panel per call; with
     * two, 384 measured 1.00-1.09x on the SD shapes (2-core AVX-512 EPYC, 48 KiB L1, f32 and half
     * panels) and within the noise on a Xeon (0.95-1.12), though two f32 slices of 384 fill a
     * 48 KiB L1 by themselves: the fewer passes over C weigh more than B's trips to L2. */
    g->kc = slice_len(w->k, GEMM_KC, g->amx ? 32 : 8);
    if (w->k == 0) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < w->n; j++)
                c[(size_t)i * ldc + j] = (accumulate ? c[(size_t)i * ldc + j] : 0.f) + (bias ? bias[j] : 0.f);
        return 0;
    }
    return 1;
}

/* What a task costs besides its products, in micro-kernel calls (a row tile x a panel over the
 * whole k): packing a row tile of A as a micro-panel, once per task, and a panel's first pass
 * over B in each block, which waits on memory. Both about one call (perf, 2-core AVX2 VM:
 * packing took 11% of a task of 8 panels). */
#define SPLIT_PACK_COST 1.0
#define SPLIT_B_COST 1.0
#define SPLIT_ROW_KERNEL 1.1 /* a call of the row-layout kernel, for blocks too narrow to pack */
#define SPLIT_MAX_THREADS 64

/* When the pool's threads would finish tasks of mt_per row tiles x p_per panels, taken in order,
 * each by the first thread free (as pool_run hands them out). */
static double split_makespan(const gemm_job_t *g, int mtiles, int npanels, int mt_per, int p_per,
                             int threads) {
    double busy[SPLIT_MAX_THREADS] = {0};
    int mtasks = (mtiles + mt_per - 1) / mt_per, ntasks = (npanels + p_per - 1) / p_per;
    for (int t = 0; t < mtasks * ntasks; t++) {
        int r = mtiles - t / ntasks * mt_per, p = npanels - t % ntasks * p_per;
        r = r < mt_per ? r : mt_per;
        p = p < p_per ? p : p_per;
        int j = 0;
        for (int i = 1; i < threads; i++)
            if (busy[i] < busy[j]) j = i;
        busy[j] += packs_mp(g, p) ? (double)r * p + SPLIT_PACK_COST * r + SPLIT_B_COST * p
                                  : SPLIT_ROW_KERNEL * r * p + SPLIT_B_COST * p;
    }
    double end = 0;
    for (int i = 0; i < threads; i++)
        end = busy[i] > end ? busy[i] : end;
    return end;
}

/* The split of the micro-panel kernels' work into tasks: whole blocks of rows x as many panels
 * as keep the threads evenly busy, by the modelled finishing time. A task packs its A once for
 * all its panels, so the fewer panel groups the less packing: one block of all 20 panels of a
 * 320-wide layer against 8 panels per task (A packed two and a half times as often). */
static void split_modelled(gemm_job_t *g, int mtiles, int npanels, int threads) {
    threads = threads < SPLIT_MAX_THREADS ? threads : SPLIT_MAX_THREADS;
    int max_tasks = 16 * threads > 64 ? 16 * threads : 64;
    double best = -1;
    for (int mt_per = GEMM_MB / g->mr; mt_per >= 1; mt_per /= 2)
        for (int p_per = npanels;; p_per = (p_per + 1) / 2) {
            int tasks = ((mtiles + mt_per - 1) / mt_per) * ((npanels + p_per - 1) / p_per);
            if (tasks > max_tasks && best >= 0) break;
            double t = split_makespan(g, mtiles, npanels, mt_per, p_per, threads);
            if (best < 0 || t < best * 0.995) {
                best = t;
                g->mtiles_per_task = mt_per;
                g->panels_per_task = p_per;
            }
            if (p_per == 1) break;
        }
    g->mtasks = (mtiles + g->mtiles_per_task - 1) / g->mtiles_per_task;
    g->ntasks = (npanels + g->panels_per_task - 1) / g->panels_per_task;
}

void gemm_serial(const kctx_t *kc, int m, const float *a, int lda, const gemm_w_t *w,
                 const float *bias, float *c, int ldc, int accumulate) {
    gemm_job_t g;
    plain_a_t src = {a, lda};
    if (m <= 0 || w->n <= 0 || !gemm_setup(kc, m, pack_plain, &src, w, bias, c, ldc, accumulate, &g))
        return;
    g.mtiles_per_task = (m + g.mr - 1) / g.mr;
    g.panels_per_task = w->npanels;
    g.mtasks = g.ntasks = 1;
    gemm_task(&g, 0, 0);
}

void gemm_serial_bf16(const kctx_t *kc, int m, const uint16_t *a, int lda, const gemm_w_t *w,
                      const float *bias, float *c, int ldc, int accumulate) {
    gemm_job_t g;
    if (m <= 0 || w->n <= 0 || !w->dp ||
        !gemm_setup(kc, m, NULL, NULL, w, bias, c, ldc, accumulate, &g))
        return;
    g.a16 = a;
    g.lda16 = lda;
    g.mtiles_per_task = (m + g.mr - 1) / g.mr;
    g.panels_per_task = w->npanels;
    g.mtasks = g.ntasks = 1;
    gemm_task(&g, 0, 0);
}

void gemm_ex(const kctx_t *kc, int m, gemm_pack_a_fn pack_a, const void *a_ctx, const gemm_w_t *w,
             const float *bias, float *c, int ldc, int accumulate) {
    if (m <= 0 || w->n <= 0) return;
    if (kc->flops) __atomic_fetch_add(kc->flops, 2ull * (unsigned)m * (unsigned)w->n * (unsigned)w->k, __ATOMIC_RELAXED);
    gemm_job_t g;
    if (!gemm_setup(kc, m, pack_a, a_ctx, w, bias, c, ldc, accumulate, &g)) return;
    int mtiles = (m + g.mr - 1) / g.mr;
    int threads = pool_threads(kc->pool);
    if (g.pack_mp && !g.dp) {
        split_modelled(&g, mtiles, w->npanels, threads);
    } else if (g.dp && w->q8) {
        /* 8-bit panels on the dot-product kernels: every row of A in one task, so that a task
         * converts its panels to pairs once (gemm_task), and enough panel groups for the
         * threads; A is rounded once per group */
        g.mtiles_per_task = mtiles;
        g.panels_per_task = (w->npanels + 4 * threads - 1) / (4 * threads);
        g.panels_per_task += g.panels_per_task & 1; /* pairs of panels per kernel call */
        g.mtasks = 1;
        g.ntasks = (w->npanels + g.panels_per_task - 1) / g.panels_per_task;
    } else {
        /* Blocks of GEMM_MB rows x 128 columns (AMX: up to 1024, so that each block's A,
         * gathered and rounded to bfloat16 once per slice, serves more tile products:
         * 1.25-1.59x on four SD shapes, Xeon, 2 threads); enough tasks for every thread. */
        g.mtiles_per_task = GEMM_MB / g.mr;
        g.panels_per_task = g.amx ? 64 : 8;
        g.mtasks = (mtiles + g.mtiles_per_task - 1) / g.mtiles_per_task;
        g.ntasks = (w->npanels + g.panels_per_task - 1) / g.panels_per_task;
        int min_panels = g.ukr2_rows ? 2 : 1; /* a panel pair per kernel call where there is one */
        while (g.mtasks * g.ntasks < 4 * threads &&
               (g.mtiles_per_task > 1 || g.panels_per_task > min_panels)) {
            if (g.mtiles_per_task > 1)
                g.mtiles_per_task = (g.mtiles_per_task + 1) / 2;
            else
                g.panels_per_task = (g.panels_per_task + 1) / 2;
            g.mtasks = (mtiles + g.mtiles_per_task - 1) / g.mtiles_per_task;
            g.ntasks = (w->npanels + g.panels_per_task - 1) / g.panels_per_task;
        }
    }
    pool_run(kc->pool, g.mtasks * g.ntasks, gemm_task, &g);
}

void gemm(const kctx_t *kc, int m, const float *a, int lda, const gemm_w_t *w, const float *bias,
          float *c, int ldc, int accumulate) {
    plain_a_t src = {a, lda};
    gemm_ex(kc, m, pack_plain, &src, w, bias, c, ldc, accumulate);
}
