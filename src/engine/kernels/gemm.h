/* gemm.h - C = A · W^T (+ bias) with W pre-packed, the product every layer reduces to.
 *
 * W is a weight matrix [n, k] as nn.Linear stores it; packing copies it once (at model load)
 * into panels of 16 output columns, [ceil(n/16)][k][16], zero-padded, 64-byte aligned. The
 * micro-kernels (AVX-512 12x16 and 12x32, AVX2 6x16, portable 4x16) stream those panels; the
 * AVX-512 driver runs two panels per call wherever both have all 16 columns (a broadcast of A
 * then feeds two FMAs: 1.07-1.28x at SD shapes on a 2-core AVX-512 EPYC), a last short row tile
 * on a kernel of its own row count, and pair panels two per VDPBF16PS call as well.
 *
 * Panels are stored in IEEE half precision when every value of W is exactly a half (weights
 * that came from an F16 checkpoint), else in bfloat16 when every value is exactly one (a BF16
 * checkpoint): half the memory, bit-identical results.
 * The driver splits k into equal slices of at most GEMM_KC and copies A in blocks of up to 96
 * rows x one slice into a buffer on the task's stack, so the micro-kernel reads compact rows
 * whatever A's stride, and A itself need not exist (gemm_ex: convolutions gather their im2col
 * rows straight into that buffer). On AVX2, a block of 8
 * panels or more packs A once more, as micro-panels (six rows interleaved by k), which the
 * AVX2 kernels then read as one stream; gemm_ex then splits the work by a model of each task's
 * cost, so that A is packed once for as many panels as the threads' balance allows. The AVX2
 * and AVX-512 kernels read half panels as they are and widen them in registers; otherwise 16-bit
 * panels are widened one slice (slice x 16) at a time into another buffer, which every row tile
 * of the block then reuses.
 *
 * Precision bf16 (gemm_w_to_dp): the panels hold bfloat16 in k pairs, [ceil(n/16)][P][16][2]
 * with P = gemm_dp_pairs(k) (ceil(k/2) rounded up to 16, zero-padded: AMX reads 16 pairs at a
 * time), and A is rounded to bfloat16 as it is packed; the dot-product kernels add each pair's
 * two exact products to f32 accumulators (AMX's TDPBF16PS where the OS grants the tiles,
 * AVX512-BF16's VDPBF16PS, or the portable kernel that does VDPBF16PS's arithmetic). Not
 * bit-identical to f32: see the README's precision section.
 *
 * 8-bit panels (gemm_pack_q8, gemm_q8.c): int8 values in the same [ceil(n/16)][k][16] order and
 * a half-precision scale per 32 values of k and column, Q8_0's quantization along the panels' k:
 * what a GGUF Q8_0 matrix is held as (its own values exactly), and any matrix with a model's
 * `weights = q8`. A slice is widened to floats for the f32 kernels like other 16-bit panels:
 * 1.06 bytes a weight in memory instead of 2. */
#ifndef IMGAPI_ENGINE_KERNELS_GEMM_H
#define IMGAPI_ENGINE_KERNELS_GEMM_H
#include "engine/kernels/kctx.h"
#include <stddef.h>
#include <stdint.h>

#define GEMM_NR 16
#define GEMM_KC 384 /* the longest k slice */

typedef struct {
    int n, k;
    int npanels;
    int half;   /* 1: data holds 16-bit values (uint16_t), else floats */
    int bf16;   /* with half: bfloat16 (a float's upper 16 bits), else IEEE halves */
    int dp;     /* bfloat16 in k pairs for the dot-product kernels (half and bf16 are 0) */
    int q8;     /* 8-bit values with a half scale per 32 of k and column (gemm_q8.c; the others 0) */
    void *data; /* owned (gemm_w_free) */
} gemm_w_t;

/* Widens n values of w's panel data from element off into dst (a copy for f32 panels). */
void gemm_w_widen(const gemm_w_t *w, isa_t isa, size_t off, size_t n, float *dst);

/* 8-bit panels (q8) from rows of floats: column col's value kk is rows[col * k + (kk % inner) *
 * inner_stride + (kk / inner) * outer_stride] (the gather of gemm_pack_16bit). Owned by out. */
int gemm_pack_q8(const float *rows, int n, int k, int inner, size_t inner_stride, size_t outer_stride,
                 gemm_w_t *out);
/* The same from 16-bit parts (IEEE halves, or bfloat16 when bf16), stacked and gathered as
 * gemm_pack_16bit's, one row at a time (no f32 copy of the matrix). */
int gemm_pack_q8_16bit(const void *const *parts, const int *part_n, int nparts, int k, int inner,
                       size_t inner_stride, size_t outer_stride, int bf16, gemm_w_t *out);
/* Bytes 8-bit panels of n x k take, and where their scales begin within w->data. */
size_t gemm_q8_bytes(int n, int k);
size_t gemm_q8_scale_offset(const gemm_w_t *w);
/* gemm_w_widen for 8-bit panels (off and n multiples of 16). */
void gemm_q8_widen(const gemm_w_t *w, isa_t isa, size_t off, size_t n, float *dst);

/* From row-major w[n][k]. */
int gemm_pack(const float *w, int n, int k, gemm_w_t *out);
/* From row-major wt[k][n] (a matrix used as x @ P). */
int gemm_pack_t(const float *wt, int k, int n, gemm_w_t *out);
void gemm_w_free(gemm_w_t *w);
/* Floats the panels of an n x k matrix take (for gemm_pack_into). */
size_t gemm_pack_floats(int n, int k);
/* Packs element (col, kk) = src[col * col_stride + kk * k_stride] as f32 panels into dst
 * (gemm_pack_floats(n, k) floats, 64-byte aligned, owned by the caller: never gemm_w_free
 * *out). For activations used as the W of a product (attention's K and V). */
void gemm_pack_into(float *dst, const float *src, int n, int k, size_t col_stride, size_t k_stride,
                    gemm_w_t *out);
/* Packs 16-bit data (IEEE halves, or bfloat16 when bf16) as 16-bit panels without widening
 * it: W is the rows of nparts source tensors stacked (a fused q/k/v projection), part p holding
 * part_n[p] rows of k values each (row r of a part at parts[p] + r * k, 16-bit values, any
 * alignment); value kk of a row sits at (kk % inner) * inner_stride + (kk / inner) *
 * outer_stride within it (a plain matrix: inner = k, inner_stride = 1; a convolution
 * [cout][cin][kh][kw] read in tap-major order: inner = cin, inner_stride = kh * kw,
 * outer_stride = 1). What a checkpoint stored in F16 or BF16 loads through: one pass, one
 * allocation (owned by out). */
int gemm_pack_16bit(const void *const *parts, const int *part_n, int nparts, int k, int inner,
                    size_t inner_stride, size_t outer_stride, int bf16, gemm_w_t *out);
/* Repacks w's panels (any kind) as bfloat16 k pairs, rounding to nearest even: the layout the
 * dot-product kernels read (precision bf16). A no-op when w->dp already. On failure w is
 * unchanged. */
int gemm_w_to_dp(gemm_w_t *w);
/* Pairs per panel of the pair layout: ceil(k/2) rounded up to a multiple of 16. */
size_t gemm_dp_pairs(int k);
/* Converts f32 panels [npanels][k][16] to the pair layout [npanels][gemm_dp_pairs(k)][16][2] in
 * dst (bfloat16, rounded to nearest even; pairs past k zero). */
void gemm_panels_to_dp(const float *src, int npanels, int k, uint16_t *dst);
/* The 16 values of row kk of panel p, widened to floats, whatever the layout. */
void gemm_w_row(const gemm_w_t *w, isa_t isa, int p, int kk, float *dst);
/* Bytes the packed panels take. */
size_t gemm_w_bytes(const gemm_w_t *w);

/* c[i*ldc + j] (+)= sum_k a[i*lda + k] * W[j][k] + bias[j], for i < m, j < w->n.
 * accumulate: add to c instead of overwriting. bias may be NULL. */
void gemm(const kctx_t *kc, int m, const float *a, int lda, const gemm_w_t *w, const float *bias,
          float *c, int ldc, int accumulate);

/* Writes rows [row0, row0 + rows) x columns [k0, k0 + kc) of an A that is never stored whole
 * (a convolution's im2col matrix) into dst as rows of kc floats: dst[i * kc + kk]. */
typedef void (*gemm_pack_a_fn)(const void *ctx, int row0, int rows, int k0, int kc, float *dst);

/* gemm with A produced block by block by pack_a(a_ctx, ...), on the pool's threads. */
void gemm_ex(const kctx_t *kc, int m, gemm_pack_a_fn pack_a, const void *a_ctx, const gemm_w_t *w,
             const float *bias, float *c, int ldc, int accumulate);

/* The same on the calling thread only, without counting FLOPs: for use inside a pool task. */
void gemm_serial(const kctx_t *kc, int m, const float *a, int lda, const gemm_w_t *w,
                 const float *bias, float *c, int ldc, int accumulate);

/* gemm_serial with A already rounded to bfloat16 (rows lda values apart, lda and the rows' start
 * even, as the dot-product kernels read pairs) and w pair panels (w->dp; otherwise nothing is
 * done): what a caller that produces A itself can write at half the bytes, skipping the rounding
 * pass (the Winograd input transform with precision bf16). */
void gemm_serial_bf16(const kctx_t *kc, int m, const uint16_t *a, int lda, const gemm_w_t *w,
                      const float *bias, float *c, int ldc, int accumulate);

/* Micro-kernel signature: a full MR x 16 tile over kc steps of k. b: packed panel slice
 * (kc x 16). load_c: start from c, else from init16 (16 values per column). */
typedef void (*gemm_ukr_fn)(int kc, const float *a, int lda, const float *b, float *c, int ldc,
                            int load_c, const float *init16);
void gemm_ukr_avx2(int kc, const float *a, int lda, const float *b, float *c, int ldc, int load_c,
                   const float *init16);
void gemm_ukr_avx512(int kc, const float *a, int lda, const float *b, float *c, int ldc, int load_c,
                     const float *init16);
/* The same with b a panel slice of IEEE halves (16-byte aligned), widened in registers. */
typedef void (*gemm_ukr_f16_fn)(int kc, const float *a, int lda, const uint16_t *b, float *c,
                                int ldc, int load_c, const float *init16);
void gemm_ukr_avx2_f16(int kc, const float *a, int lda, const uint16_t *b, float *c, int ldc,
                       int load_c, const float *init16);
void gemm_ukr_avx512_f16(int kc, const float *a, int lda, const uint16_t *b, float *c, int ldc,
                         int load_c, const float *init16);
/* Two panels at once: a full MR x 32 tile, columns 0-15 from slice b0, 16-31 from slice b1;
 * init32: 32 values per row. */
typedef void (*gemm_ukr2_fn)(int kc, const float *a, int lda, const float *b0, const float *b1,
                             float *c, int ldc, int load_c, const float *init32);
typedef void (*gemm_ukr2_f16_fn)(int kc, const float *a, int lda, const uint16_t *b0,
                                 const uint16_t *b1, float *c, int ldc, int load_c,
                                 const float *init32);
void gemm_ukr_avx512_x2(int kc, const float *a, int lda, const float *b0, const float *b1, float *c,
                        int ldc, int load_c, const float *init32);
void gemm_ukr_avx512_x2_f16(int kc, const float *a, int lda, const uint16_t *b0, const uint16_t *b1,
                            float *c, int ldc, int load_c, const float *init32);
/* The two-panel kernel for a tile of `rows` rows (1 to GEMM_MR_AVX512; the full count gives the
 * two above): only those rows of A and C are read and written. NULL for other counts. */
gemm_ukr2_fn gemm_ukr_avx512_x2_rows(int rows);
gemm_ukr2_f16_fn gemm_ukr_avx512_x2_f16_rows(int rows);
/* The AVX2 kernels again with A as a micro-panel, a[k * GEMM_MR_AVX2 + i] for row i (what
 * gemm_pack_a_avx2 writes): one stream of A instead of six rows apart, which measured 10-20%
 * faster in the kernel with A, B and C at SD sizes (2-core AVX2 VM), where the packing pays. */
void gemm_ukr_avx2_mp(int kc, const float *a, const float *b, float *c, int ldc, int load_c,
                      const float *init16);
void gemm_ukr_avx2_mp_f16(int kc, const float *a, const uint16_t *b, float *c, int ldc, int load_c,
                          const float *init16);
/* Packs rows (at most GEMM_MR_AVX2, row i at src + i * ld) x kc values of A into the micro-panel
 * dst[k * GEMM_MR_AVX2 + i], zero rows below rows. Writes up to two floats past
 * dst + kc * GEMM_MR_AVX2 (the room must exist; the next micro-panel is packed over them). */
void gemm_pack_a_avx2(const float *src, size_t ld, int rows, int kc, float *dst);
/* The dot-product kernels: kp pairs of k; a: rows of bfloat16 (lda elements apart, pairs at even
 * offsets); b: the panel's pair slice (kp x 32 bfloat16, 64-byte aligned). The AMX kernel takes
 * kp a multiple of 16 and needs gemm_amx_begin's tile configuration loaded on its thread. */
typedef void (*gemm_ukr_dp_fn)(int kp, const uint16_t *a, int lda, const uint16_t *b, float *c,
                               int ldc, int load_c, const float *init16);
void gemm_ukr_avx512_bf16(int kp, const uint16_t *a, int lda, const uint16_t *b, float *c, int ldc,
                          int load_c, const float *init16);
void gemm_ukr_amx_bf16(int kp, const uint16_t *a, int lda, const uint16_t *b, float *c, int ldc,
                       int load_c, const float *init16);
/* VDPBF16PS over two panels' pair slices at once (a full 12 x 32 tile; init32: 32 values). */
typedef void (*gemm_ukr2_dp_fn)(int kp, const uint16_t *a, int lda, const uint16_t *b0,
                                const uint16_t *b1, float *c, int ldc, int load_c,
                                const float *init32);
void gemm_ukr_avx512_bf16_x2(int kp, const uint16_t *a, int lda, const uint16_t *b0,
                             const uint16_t *b1, float *c, int ldc, int load_c,
                             const float *init32);
/* The kernel that multiplies pair panels in context kc (AMX tiles where kc->amx, VDPBF16PS where
 * the CPU has it on AVX-512, else the portable C kernel): what gemm runs for them, and what the
 * engine reports as running a bf16 model's products. */
typedef enum { GEMM_DP_PORTABLE, GEMM_DP_AVX512_BF16, GEMM_DP_AMX } gemm_dp_kernel_t;
gemm_dp_kernel_t gemm_dp_kernel(const kctx_t *kc);
/* Loads the AMX tile configuration on the calling thread (all eight tiles 16 rows x 64 bytes:
 * the kernel uses tmm0, 1, 4, 5, 6) / releases the tiles. */
void gemm_amx_begin(void);
void gemm_amx_end(void);
/* Rounds rows x kc floats (rows lds apart) to bfloat16 rows ld apart, zeroing each row from kc
 * to ld; the same bits as f32_to_bf16. */
void gemm_a_to_bf16_avx512(const float *src, size_t lds, int rows, int kc, uint16_t *dst, int ld);
#define GEMM_MR_AMX 32 /* two 16-row tiles */
#define GEMM_MR_AVX512 12
#define GEMM_MR_AVX2 6
#define GEMM_MR_PORTABLE 4

#endif
