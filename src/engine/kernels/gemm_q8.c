/* gemm_q8.c - 8-bit weight panels (gemm.h): packing with one half-precision scale per 32
 * values of k and column, and widening a slice back to floats for the micro-kernels.
 *
 * Layout of w->data (one allocation, owned by w): the values, int8 [npanels][k][16] like the
 * other panels, then from byte gemm_q8_scale_offset(w) the scales, IEEE halves
 * [npanels][ceil(k/32)][16]: value (kk, j) of panel p is q * scale[p][kk / 32][j].
 *
 * The quantization is Q8_0's (ggml-common.h's block_q8_0, read for the format only): d =
 * max|x| / 127 over the 32 values, stored as a half, q = round(x * (1 / d)). A GGUF Q8_0
 * matrix packed from its dequantized values gets back its own q and d exactly, since its blocks
 * run along k as the panels' do and its largest |q| is 127: max|x| = 127 d, d = 127 d / 127, and
 * x * (1 / d) is q within an ulp, which rounds to q. */
#include "common/status.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/half.h"
#include "engine/runtime/bigmem.h"
#include "engine/tensor/dtype.h"
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define QB 32 /* values of k per scale */

static size_t blocks(int k) {
    return (size_t)(k + QB - 1) / QB;
}

size_t gemm_q8_scale_offset(const gemm_w_t *w) {
    return ((size_t)w->npanels * (size_t)w->k * GEMM_NR + 63) & ~(size_t)63;
}

size_t gemm_q8_bytes(int n, int k) {
    gemm_w_t w = {.n = n, .k = k, .npanels = (n + GEMM_NR - 1) / GEMM_NR};
    return gemm_q8_scale_offset(&w) + (size_t)w.npanels * blocks(k) * GEMM_NR * sizeof(uint16_t);
}

/* Where a packing writes: n x k 8-bit panels being filled, one panel's values in packed order
 * (v: [k][16] floats) and, for 16-bit sources, its source rows widened (src: [16][k]). */
typedef struct {
    gemm_w_t *w;
    int8_t *q;
    uint16_t *sc;
    float *v, *src;
} q8_pack_t;

static int pack_begin(int n, int k, int inner, int widen, gemm_w_t *out, q8_pack_t *pk) {
    if (n <= 0 || k <= 0 || inner <= 0 || k % inner) return IMG_EINVAL;
    size_t bytes = gemm_q8_bytes(n, k);
    unsigned char *data = big_alloc(bytes); /* owned by out */
    /* freed by pack_end */
    float *v = malloc(sizeof(float) * (size_t)k * GEMM_NR),
          *src = widen ? malloc(sizeof(float) * (size_t)k * GEMM_NR) : NULL;
    if (!data || !v || (widen && !src)) {
        free(data);
        free(v);
        free(src);
        return IMG_ENOMEM;
    }
    memset(data, 0, bytes); /* the last panel's missing columns: q 0, scale 0 */
    *out =
        (gemm_w_t){.n = n, .k = k, .npanels = (n + GEMM_NR - 1) / GEMM_NR, .q8 = 1, .data = data};
    *pk = (q8_pack_t){out, (int8_t *)data, (uint16_t *)(data + gemm_q8_scale_offset(out)), v, src};
    return IMG_OK;
}

static void pack_end(q8_pack_t *pk) {
    free(pk->v);
    free(pk->src);
}

/* Panel p from the source rows of its cols columns (k floats each): gathered tap by tap into
 * packed order, then quantized a block of 32 rows at a time, the 16 columns side by side. */
static void pack_panel(q8_pack_t *pk, int p, const float *const *rows, int cols, int inner,
                       size_t inner_stride, size_t outer_stride) {
    int k = pk->w->k;
    float *v = pk->v;
    if (cols < GEMM_NR) memset(v, 0, sizeof(float) * (size_t)k * GEMM_NR);
    for (int j = 0; j < cols; j++)
        for (int t = 0, kk = 0; t < k / inner; t++) {
            const float *r = rows[j] + (size_t)t * outer_stride;
            for (int i = 0; i < inner; i++, kk++)
                v[(size_t)kk * GEMM_NR + j] = r[(size_t)i * inner_stride];
        }
    /* rounding to nearest even by adding and taking away 1.5 * 2^23 (|x| <= 127.5 here):
     * plain arithmetic, so the loops vectorise without SSE4.1's ROUNDPS */
    const float magic = 12582912.0f;
    for (int k0 = 0; k0 < k; k0 += QB) {
        int len = k - k0 < QB ? k - k0 : QB;
        float amax[GEMM_NR] = {0}, id[GEMM_NR];
        const float *vb = v + (size_t)k0 * GEMM_NR;
        for (int i = 0; i < len; i++)
            for (int j = 0; j < GEMM_NR; j++) {
                float a = vb[i * GEMM_NR + j] < 0 ? -vb[i * GEMM_NR + j] : vb[i * GEMM_NR + j];
                amax[j] = a > amax[j] ? a : amax[j];
            }
        uint16_t *sc = pk->sc + ((size_t)p * blocks(k) + (size_t)k0 / QB) * GEMM_NR;
        for (int j = 0; j < GEMM_NR; j++) {
            sc[j] = f32_to_f16(amax[j] / 127);
            float d = f16_to_f32(sc[j]);
            id[j] = d > 0 ? 1 / d : 0;
        }
        int8_t *qd = pk->q + ((size_t)p * k + (size_t)k0) * GEMM_NR;
        for (int i = 0; i < len; i++)
            for (int j = 0; j < GEMM_NR; j++) {
                float r = (vb[i * GEMM_NR + j] * id[j] + magic) - magic;
                qd[i * GEMM_NR + j] = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
            }
    }
}

int gemm_pack_q8(const float *rows, int n, int k, int inner, size_t inner_stride,
                 size_t outer_stride, gemm_w_t *out) {
    q8_pack_t pk;
    int rc = pack_begin(n, k, inner, 0, out, &pk);
    for (int p = 0; !rc && p < out->npanels; p++) {
        const float *r[GEMM_NR];
        int cols = n - p * GEMM_NR < GEMM_NR ? n - p * GEMM_NR : GEMM_NR;
        for (int j = 0; j < cols; j++)
            r[j] = rows + (size_t)(p * GEMM_NR + j) * k;
        pack_panel(&pk, p, r, cols, inner, inner_stride, outer_stride);
    }
    if (!rc) pack_end(&pk);
    return rc;
}

int gemm_pack_q8_16bit(const void *const *parts, const int *part_n, int nparts, int k, int inner,
                       size_t inner_stride, size_t outer_stride, int bf16, gemm_w_t *out) {
    int n = 0;
    for (int p = 0; p < nparts; p++)
        n += part_n[p];
    q8_pack_t pk;
    int rc = pack_begin(n, k, inner, 1, out, &pk);
    uint16_t *h = rc ? NULL : malloc(sizeof *h * (size_t)k); /* a row, aligned; freed here */
    if (!rc && !h) {
        pack_end(&pk);
        gemm_w_free(out);
        return IMG_ENOMEM;
    }
    isa_t isa = cpu_best_isa();
    const float *r[GEMM_NR];
    int cols = 0, part = 0, pr = 0; /* the next source row: row pr of part `part` */
    for (int col = 0; !rc && col < n; col++) {
        while (pr == part_n[part])
            part++, pr = 0;
        memcpy(h, (const unsigned char *)parts[part] + (size_t)pr++ * k * 2, sizeof *h * (size_t)k);
        float *row = pk.src + (size_t)cols * k;
        if (bf16)
            bf16_to_float(isa, h, row, (size_t)k);
        else
            half_to_float(isa, h, row, (size_t)k);
        r[cols++] = row;
        if (cols == GEMM_NR || col == n - 1) {
            pack_panel(&pk, col / GEMM_NR, r, cols, inner, inner_stride, outer_stride);
            cols = 0;
        }
    }
    if (!rc) pack_end(&pk);
    free(h);
    return rc;
}

/* Rows [kk0, kk0 + rows) of panel p widened; every row within one scale block. */
static void widen_portable(const int8_t *q, const uint16_t *s16, int rows, float *dst) {
    float s[GEMM_NR];
    for (int j = 0; j < GEMM_NR; j++)
        s[j] = f16_to_f32(s16[j]);
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < GEMM_NR; j++)
            dst[r * GEMM_NR + j] = (float)q[r * GEMM_NR + j] * s[j];
}

__attribute__((target("avx2,f16c"))) static void widen_avx2(const int8_t *q, const uint16_t *s16,
                                                            int rows, float *dst) {
    __m256 s0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)s16));
    __m256 s1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s16 + 8)));
    for (int r = 0; r < rows; r++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(q + r * GEMM_NR));
        __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
        __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(v, 8)));
        _mm256_storeu_ps(dst + r * GEMM_NR, _mm256_mul_ps(lo, s0));
        _mm256_storeu_ps(dst + r * GEMM_NR + 8, _mm256_mul_ps(hi, s1));
    }
}

__attribute__((target("avx512f"))) static void widen_avx512(const int8_t *q, const uint16_t *s16,
                                                            int rows, float *dst) {
    __m512 s = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)s16));
    for (int r = 0; r < rows; r++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(q + r * GEMM_NR));
        _mm512_storeu_ps(dst + r * GEMM_NR,
                         _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v)), s));
    }
}

void gemm_q8_widen(const gemm_w_t *w, isa_t isa, size_t off, size_t n, float *dst) {
    const int8_t *q = (const int8_t *)w->data;
    const uint16_t *sc =
        (const uint16_t *)((const unsigned char *)w->data + gemm_q8_scale_offset(w));
    size_t row = off / GEMM_NR, end = row + n / GEMM_NR; /* rows of the panel layout */
    while (row < end) {
        int p = (int)(row / (size_t)w->k), kk = (int)(row % (size_t)w->k);
        int stop = (kk / QB + 1) * QB; /* the scale block's end, the panel's, or the range's */
        if (stop > w->k) stop = w->k;
        int rows = (size_t)(stop - kk) < end - row ? stop - kk : (int)(end - row);
        const uint16_t *s16 = sc + ((size_t)p * blocks(w->k) + (size_t)kk / QB) * GEMM_NR;
        if (isa == ISA_AVX512)
            widen_avx512(q + row * GEMM_NR, s16, rows, dst);
        else if (isa == ISA_AVX2)
            widen_avx2(q + row * GEMM_NR, s16, rows, dst);
        else
            widen_portable(q + row * GEMM_NR, s16, rows, dst);
        dst += (size_t)rows * GEMM_NR;
        row += (size_t)rows;
    }
}
