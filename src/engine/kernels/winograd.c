/* winograd.c - 3x3 stride-1 convolutions as Winograd F(2x2, 3x3) (see winograd.h).
 *
 * Y = A^T [ (G g G^T) . (B^T d B) ] A per 2x2 output tile, with
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 *   A^T = [1 1 1 0; 0 1 -1 -1].
 * The sixteen products of the bracket are sixteen GEMMs [tiles x cin] x [cin x cout] with the
 * transformed weights U_e packed as ordinary f32 panels, so they run on the same micro-kernels.
 * U is computed per call from the layer's packed weights (half or f32): caching it would cost
 * 16/9 of the weights in f32, i.e. 3.6x the memory of F16 weights; the transform is a few
 * percent of the layer's work at the sizes it is used for. Transforms are vectorised over
 * channels (8 at a time, the layer's channel counts being multiples of 8; 16 on AVX-512 where
 * they are multiples of 16). With precision bf16 (the layer's weights packed as bfloat16 pairs)
 * U is rounded into pair panels as well, and the sixteen GEMMs run on the dot-product kernels. */
#include "engine/kernels/winograd.h"
#include "common/status.h"
#include "engine/kernels/half.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The vector helpers are always inlined: no vector crosses an ABI boundary, so GCC's note about
 * vector returns does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

/* Output tiles per task (V, M of a 512-channel layer: 4.5 MiB per thread): a multiple of every
 * micro-kernel's rows (4, 6, 12), so no GEMM ends in a padded edge tile. 72 instead of 64 made
 * the 512-, 256- and 128-channel decoder convolutions 6-7% faster on 2 AVX2 threads. */
#define TILES 72
#define GROUP_PANELS 4 /* output panels per task when the layer is split by columns */

/* Tile tasks when U (16 x cin x cout floats) fits 32 MiB, rebuilt per call and kept in L3 while
 * every task reads it; otherwise (deep, narrow images: 16x16 with 1280 channels) column tasks,
 * each building U for its 64 output channels and running all tiles through them. */
static int by_tiles(const conv2d_t *c, int h, int w) {
    return (long)h * w >= 32 * 32 && (long)c->cin * c->cout <= 512 * 1024;
}

int conv_winograd_eligible(const conv2d_t *c, int h, int w) {
    return c->kh == 3 && c->kw == 3 && c->stride == 1 && c->pad == 1 && c->cin % 8 == 0 &&
           c->cout % 8 == 0 && c->cin >= 64 && c->cout >= 64 && (long)h * w >= 16 * 16;
}

typedef struct {
    const conv2d_t *c;
    const kctx_t *kc;
    float *u;       /* 16 x [npanels][cin][16]: the transformed weights as GEMM panels */
    uint16_t *ud;   /* precision bf16: U as pair panels, udvals values per e apart */
    size_t ufloats; /* per e */
    size_t udvals;  /* per e: npanels * gemm_dp_pairs(cin) * 32 */
    gemm_w_t uw[16];
    const float *x;
    int h, w, up; /* h, w: the image convolved (x itself is h>>up x w>>up) */
    int tw, ntiles;
    float *y;
    int accumulate;
    float *work; /* per thread: V [16][TILES][cin], M [16][TILES][cout] (tile tasks), or U for
                    GROUP_PANELS panels (column tasks), then with bf16 its pair panels */
    size_t work_floats;
    float *V, *M; /* column tasks: [16][ntiles][cin], [16][ntiles][cout], shared */
} wino_job_t;

/* Input channels whose taps transform_weights widens at once (9 x 64 x 16 floats: 36 KiB). */
#define WEIGHT_CHUNK 64

/* U_e = G g G^T for the 16 columns of panel p, written as panel slot of u (u + e * ufloats per
 * e): per input channel, the 9 taps' rows of 16 (in the packed [cout][tap-major cin] panel,
 * 16-bit or f32) are combined. A tap's rows for consecutive channels are consecutive, so they are
 * widened WEIGHT_CHUNK channels per call (one call per row cost as much as the transform). */
static void transform_weights(const wino_job_t *j, int p, float *u, size_t ufloats, int slot) {
    const conv2d_t *c = j->c;
    const gemm_w_t *w = &c->w;
    float g[9][WEIGHT_CHUNK][GEMM_NR];
    for (int c0 = 0; c0 < c->cin; c0 += WEIGHT_CHUNK) {
        int nc = c->cin - c0 < WEIGHT_CHUNK ? c->cin - c0 : WEIGHT_CHUNK;
        for (int tap = 0; tap < 9; tap++) {
            int kk = tap * c->cin + c0;
            if (w->dp) /* pair panels interleave two rows: one row at a time */
                for (int i = 0; i < nc; i++)
                    gemm_w_row(w, j->kc->isa, p, kk + i, g[tap][i]);
            else
                gemm_w_widen(w, j->kc->isa, ((size_t)p * w->k + kk) * GEMM_NR, (size_t)nc * GEMM_NR,
                             g[tap][0]);
        }
        for (int i = 0; i < nc; i++) {
            int ci = c0 + i;
            float t[4][3][GEMM_NR];
            for (int k = 0; k < 3; k++)
                for (int l = 0; l < GEMM_NR; l++) {
                    /* rows ky = 0, 1, 2 */
                    float g0 = g[k][i][l], g1 = g[3 + k][i][l], g2 = g[6 + k][i][l];
                    t[0][k][l] = g0;
                    t[1][k][l] = 0.5f * (g0 + g1 + g2);
                    t[2][k][l] = 0.5f * (g0 - g1 + g2);
                    t[3][k][l] = g2;
                }
            for (int r = 0; r < 4; r++) {
                float *u0 = u + (size_t)(r * 4) * ufloats + ((size_t)slot * c->cin + ci) * GEMM_NR;
                for (int l = 0; l < GEMM_NR; l++) {
                    float a = t[r][0][l], b = t[r][1][l], d = t[r][2][l];
                    u0[l] = a;
                    u0[ufloats + l] = 0.5f * (a + b + d);
                    u0[2 * ufloats + l] = 0.5f * (a - b + d);
                    u0[3 * ufloats + l] = d;
                }
            }
        }
    }
}

static void weights_task(void *ctx, int p, int thread) {
    (void)thread;
    const wino_job_t *j = ctx;
    transform_weights(j, p, j->u, j->ufloats, p);
    size_t at = (size_t)p * j->c->cin * GEMM_NR,
           atd = (size_t)p * gemm_dp_pairs(j->c->cin) * 2 * GEMM_NR;
    for (int e = 0; e < 16 && j->ud; e++) /* panel p of each U_e */
        gemm_panels_to_dp(j->u + e * j->ufloats + at, 1, j->c->cin, j->ud + e * j->udvals + atd);
}

/* The transforms are additions only, so every width gives the same bits. Compiled per
 * instruction set, the channel vectors are single ymm (AVX2: the transforms of a 128-channel
 * 512x512 convolution took a third of its time as pairs of SSE operations) or zmm operations. */
#pragma GCC push_options
#pragma GCC target("avx512f,avx2")
#define WT_VW 16
#define WT_NAME(x) x##_avx512
#include "engine/kernels/winograd_body.h"
#undef WT_VW
#undef WT_NAME
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2")
#define WT_VW 8
#define WT_NAME(x) x##_avx2
#include "engine/kernels/winograd_body.h"
#undef WT_VW
#undef WT_NAME
#pragma GCC pop_options

#define WT_VW 8
#define WT_NAME(x) x##_portable
#include "engine/kernels/winograd_body.h"
#undef WT_VW
#undef WT_NAME

/* AVX-512 takes 16 channels a step where the channels (input, or the output range) are a
 * multiple of 16: every SD layer. */
static void input_transform(const wino_job_t *j, int t0, int nt, float *V, int vstride) {
    if (j->kc->isa == ISA_AVX512 && j->c->cin % 16 == 0)
        input_transform_avx512(j, t0, nt, V, vstride);
    else if (j->kc->isa != ISA_PORTABLE)
        input_transform_avx2(j, t0, nt, V, vstride);
    else
        input_transform_portable(j, t0, nt, V, vstride);
}

static void output_transform(const wino_job_t *j, int t0, int nt, const float *M, int mstride,
                             int o0, int o1) {
    if (j->kc->isa == ISA_AVX512 && (o1 - o0) % 16 == 0)
        output_transform_avx512(j, t0, nt, M, mstride, o0, o1);
    else if (j->kc->isa != ISA_PORTABLE)
        output_transform_avx2(j, t0, nt, M, mstride, o0, o1);
    else
        output_transform_portable(j, t0, nt, M, mstride, o0, o1);
}

/* One task: TILES tiles through the whole pipeline, its V and M staying in the thread's cache. */
static void tiles_task(void *ctx, int task, int thread) {
    const wino_job_t *j = ctx;
    int cin = j->c->cin, cout = j->c->cout;
    int t0 = task * TILES, nt = j->ntiles - t0 < TILES ? j->ntiles - t0 : TILES;
    float *V = j->work + (size_t)thread * j->work_floats, *M = V + (size_t)16 * TILES * cin;
    input_transform(j, t0, nt, V, TILES);
    for (int e = 0; e < 16; e++)
        gemm_serial(j->kc, nt, V + (size_t)e * TILES * cin, cin, &j->uw[e], NULL,
                    M + (size_t)e * TILES * cout, cout, 0);
    output_transform(j, t0, nt, M, TILES, 0, cout);
}

/* Column tasks, first pass: the input transform of TILES tiles into the shared V. */
static void input_task(void *ctx, int task, int thread) {
    (void)thread;
    const wino_job_t *j = ctx;
    int t0 = task * TILES, nt = j->ntiles - t0 < TILES ? j->ntiles - t0 : TILES;
    input_transform(j, t0, nt, j->V + (size_t)t0 * j->c->cin, j->ntiles);
}

/* Column tasks, second pass: U for GROUP_PANELS panels into the thread's buffer, all tiles
 * through their sixteen GEMMs, then the output transform of those channels. */
static void columns_task(void *ctx, int task, int thread) {
    const wino_job_t *j = ctx;
    const conv2d_t *c = j->c;
    int npanels = (c->cout + GEMM_NR - 1) / GEMM_NR;
    int p0 = task * GROUP_PANELS, np = npanels - p0 < GROUP_PANELS ? npanels - p0 : GROUP_PANELS;
    int col0 = p0 * GEMM_NR, ncols = c->cout - col0 < np * GEMM_NR ? c->cout - col0 : np * GEMM_NR;
    float *u = j->work + (size_t)thread * j->work_floats;
    size_t ufloats = (size_t)GROUP_PANELS * c->cin * GEMM_NR;
    uint16_t *ud = c->w.dp ? (uint16_t *)(u + 16 * ufloats) : NULL; /* U's pair panels */
    size_t udvals = (size_t)GROUP_PANELS * gemm_dp_pairs(c->cin) * 2 * GEMM_NR;
    for (int p = 0; p < np; p++)
        transform_weights(j, p0 + p, u, ufloats, p);
    for (int e = 0; e < 16 && ud; e++)
        gemm_panels_to_dp(u + (size_t)e * ufloats, np, c->cin, ud + (size_t)e * udvals);
    for (int e = 0; e < 16; e++) {
        gemm_w_t ue = {.n = ncols,
                       .k = c->cin,
                       .npanels = np,
                       .dp = ud != NULL,
                       .data = ud ? (void *)(ud + (size_t)e * udvals)
                                  : (void *)(u + (size_t)e * ufloats)};
        gemm_serial(j->kc, j->ntiles, j->V + (size_t)e * j->ntiles * c->cin, c->cin, &ue, NULL,
                    j->M + (size_t)e * j->ntiles * c->cout + col0, c->cout, 0);
    }
    output_transform(j, 0, j->ntiles, j->M, j->ntiles, col0, col0 + ncols);
}

int conv_winograd(const kctx_t *kc, const conv2d_t *c, const float *x, int h, int w, int up,
                  float *y, int accumulate) {
    wino_job_t j = {
        .c = c, .kc = kc, .x = x, .h = h, .w = w, .up = up, .y = y, .accumulate = accumulate};
    int npanels = (c->cout + GEMM_NR - 1) / GEMM_NR;
    j.tw = (w + 1) / 2;
    j.ntiles = ((h + 1) / 2) * j.tw;
    int threads = pool_threads(kc->pool);
    int tiles = by_tiles(c, h, w);
    if (tiles) {
        j.ufloats = (size_t)npanels * c->cin * GEMM_NR;
        j.udvals = (size_t)npanels * gemm_dp_pairs(c->cin) * 2 * GEMM_NR;
        j.work_floats = (size_t)16 * TILES * (c->cin + c->cout);
    } else { /* U, and with bf16 its pair panels (16-bit values) after it */
        j.work_floats = (size_t)16 * GROUP_PANELS * c->cin * GEMM_NR;
        if (c->w.dp) j.work_floats += (size_t)16 * GROUP_PANELS * gemm_dp_pairs(c->cin) * GEMM_NR;
    }
    /* owned here, freed below: U (tile tasks) or V and M (column tasks), per-thread work, and
     * U's pair panels (tile tasks with bf16) */
    float *shared = NULL, *work = NULL;
    uint16_t *ud = NULL;
    size_t shared_floats = tiles ? 16 * j.ufloats : (size_t)16 * j.ntiles * (c->cin + c->cout);
    if (posix_memalign((void **)&shared, 64, sizeof(float) * shared_floats) ||
        posix_memalign((void **)&work, 64, sizeof(float) * j.work_floats * (size_t)threads) ||
        (tiles && c->w.dp && posix_memalign((void **)&ud, 64, sizeof(uint16_t) * 16 * j.udvals))) {
        free(shared);
        free(work);
        return IMG_ENOMEM;
    }
    j.work = work;
    if (tiles) {
        j.u = shared;
        j.ud = ud;
        for (int e = 0; e < 16; e++)
            j.uw[e] = (gemm_w_t){.n = c->cout,
                                 .k = c->cin,
                                 .npanels = npanels,
                                 .dp = ud != NULL,
                                 .data = ud ? (void *)(ud + (size_t)e * j.udvals)
                                            : (void *)(j.u + (size_t)e * j.ufloats)};
        pool_run(kc->pool, npanels, weights_task, &j);
        pool_run(kc->pool, (j.ntiles + TILES - 1) / TILES, tiles_task, &j);
    } else {
        j.V = shared;
        j.M = shared + (size_t)16 * j.ntiles * c->cin;
        pool_run(kc->pool, (j.ntiles + TILES - 1) / TILES, input_task, &j);
        pool_run(kc->pool, (npanels + GROUP_PANELS - 1) / GROUP_PANELS, columns_task, &j);
    }
    if (kc->flops) /* the multiply-adds done: 16 products per tile and channel pair, not 36 */
        __atomic_fetch_add(kc->flops, 2ull * 16 * (unsigned long long)j.ntiles * c->cin * c->cout,
                           __ATOMIC_RELAXED);
    free(shared);
    free(work);
    free(ud);
    return IMG_OK;
}
