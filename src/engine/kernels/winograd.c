/* winograd.c - 3x3 stride-1 convolutions as Winograd F(2x2, 3x3) or F(4x4, 3x3) (winograd.h).
 *
 * Y = A^T [ (G g G^T) . (B^T d B) ] A per m x m output tile (m = 2 or 4; the input tile d is
 * n x n, n = m + 2), with, for F(2x2, 3x3),
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 *   A^T = [1 1 1 0; 0 1 -1 -1],
 * and for F(4x4, 3x3) (interpolation points 0, 1, -1, 2, -2 and infinity)
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
 *          0 4 0 -5 0 1],
 *   G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
 * The n*n products of the bracket are n*n GEMMs [tiles x cin] x [cin x cout] with the
 * transformed weights U_e packed as ordinary f32 panels, so they run on the same micro-kernels:
 * 16 products per 4 outputs (F(2x2)) or 36 per 16 (F(4x4)) instead of 9 per output.
 * U is computed per call from the layer's packed weights (half or f32): caching it would cost
 * n*n/9 of the weights in f32, i.e. 3.6x (F(2x2)) or 8x (F(4x4)) the memory of F16 weights; the
 * transform is a few percent of the layer's work at the sizes it is used for. Transforms are
 * vectorised over channels (8 at a time, the layer's channel counts being multiples of 8; 16 on
 * AVX-512 where they are multiples of 16). With precision bf16 (the layer's weights packed as
 * bfloat16 pairs) U is rounded into pair panels as well, and the GEMMs run on the dot-product
 * kernels. */
#include "engine/kernels/winograd.h"
#include "common/status.h"
#include "engine/kernels/half.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The vector helpers are always inlined: no vector crosses an ABI boundary, so GCC's note about
 * vector returns does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

/* Output tiles per task (V, M of a 512-channel layer: 4.5 MiB per thread with F(2x2), 10 MiB
 * with F(4x4)): a multiple of every micro-kernel's rows (4, 6, 12), so no GEMM ends in a padded
 * edge tile. 72 instead of 64 made the 512-, 256- and 128-channel decoder convolutions 6-7%
 * faster on 2 AVX2 threads; with F(4x4), 24 to 144 measured within the machine's noise (5-10%)
 * of each other on AVX-512. */
#define TILES 72
#define GROUP_PANELS 4 /* output panels per task when the layer is split by columns */
#define MAX_NE 36      /* products per tile: F(4x4, 3x3) */

/* G of F(2x2, 3x3) and F(4x4, 3x3): U = G g G^T. */
static const float G2[4][3] = {{1, 0, 0}, {.5f, .5f, .5f}, {.5f, -.5f, .5f}, {0, 0, 1}};
static const float G4[6][3] = {{1.f / 4, 0, 0},
                               {-1.f / 6, -1.f / 6, -1.f / 6},
                               {-1.f / 6, 1.f / 6, -1.f / 6},
                               {1.f / 24, 1.f / 12, 1.f / 6},
                               {1.f / 24, -1.f / 12, 1.f / 6},
                               {0, 0, 1}};

/* The output tile side for c on an h x w image: F(4x4) (2.25 products per output instead of 4)
 * in f32 on images of 64x64 and more, where it measured 27-33% faster than F(2x2) on every SD
 * layer (320 to 512 channels at 64x64 to 128 channels at 512x512, 2 AVX-512 threads). F(2x2)
 * below: at 32x32 F(4x4) has 64 tiles for U's n*n/9 times the weights to transform, and was
 * 16-30% slower; and with bf16 weights, whose rounding the larger coefficients of F(4x4)
 * amplify (the VAE's image error went from 2.4e-2 to 6.6e-2 of its range). */
static int tile_side(const conv2d_t *c, int h, int w) {
    return !c->w.dp && (long)h * w >= 64 * 64 ? 4 : 2;
}

/* Tile tasks when U (n*n x cin x cout floats) fits 40 MiB (F(2x2) up to 512 x 1024 channels,
 * F(4x4) up to 512 x 512), rebuilt per call and read by every task; otherwise (deep, narrow images:
 * 24x24 with 1280 channels) column tasks, each building U for its 64 output channels and running
 * all tiles through them. */
static int by_tiles(const conv2d_t *c, int h, int w, int ne) {
    return (long)h * w >= 32 * 32 && (long)ne * c->cin * c->cout <= 10L << 20;
}

/* Above 16x16 only: at 16x16 the per-call weight transform outweighs the products saved, and the
 * direct convolution measured 15-40% faster (320 to 2560 channels, 2 AVX-512 threads); at 20x20
 * Winograd was 3-10% faster, at 24x24 20-28%. */
int conv_winograd_eligible(const conv2d_t *c, int h, int w) {
    return c->kh == 3 && c->kw == 3 && c->stride == 1 && c->pad == 1 && c->cin % 8 == 0 &&
           c->cout % 8 == 0 && c->cin >= 64 && c->cout >= 64 && (long)h * w > 16 * 16;
}

typedef struct {
    const conv2d_t *c;
    const kctx_t *kc;
    float *u;       /* ne x [npanels][cin][16]: the transformed weights as GEMM panels */
    uint16_t *ud;   /* precision bf16: U as pair panels, udvals values per e apart */
    size_t ufloats; /* per e */
    size_t udvals;  /* per e: npanels * gemm_dp_pairs(cin) * 32 */
    gemm_w_t uw[MAX_NE];
    const float *x;
    int h, w, up; /* h, w: the image convolved (x itself is h>>up x w>>up) */
    int m, n, ne; /* output tile side (2 or 4), input tile side m + 2, products n * n */
    int tw, ntiles;
    float *y;
    int accumulate;
    float *work; /* per thread: V [ne][TILES][cin], M [ne][TILES][cout] (tile tasks), or U for
                    GROUP_PANELS panels (column tasks), then with bf16 its pair panels */
    size_t work_floats;
    float *V, *M; /* column tasks: [ne][ntiles][cin], [ne][ntiles][cout], shared */
} wino_job_t;

/* n floats rounded up to a whole number of 64-byte lines. */
static size_t round16(size_t n) {
    return (n + 15) & ~(size_t)15;
}

/* Input channels whose taps transform_weights widens at once (9 x 64 x 16 floats: 36 KiB). */
#define WEIGHT_CHUNK 64

static void weights_combine(const wino_job_t *j, const float (*G)[3],
                            const float (*g)[WEIGHT_CHUNK][GEMM_NR], int nc, float *u,
                            size_t ufloats, size_t at);

/* U_e = G g G^T for the 16 columns of panel p, written as panel slot of u (u + e * ufloats per
 * e): per input channel, the 9 taps' rows of 16 (in the packed [cout][tap-major cin] panel,
 * 16-bit or f32) are combined. A tap's rows for consecutive channels are consecutive, so they are
 * widened WEIGHT_CHUNK channels per call (one call per row cost as much as the transform). */
static void transform_weights(const wino_job_t *j, int p, float *u, size_t ufloats, int slot) {
    const conv2d_t *c = j->c;
    const gemm_w_t *w = &c->w;
    const float(*G)[3] = j->m == 4 ? G4 : G2;
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
        weights_combine(j, G, (const float(*)[WEIGHT_CHUNK][GEMM_NR])g, nc, u, ufloats,
                        ((size_t)slot * c->cin + c0) * GEMM_NR);
    }
}

static void weights_task(void *ctx, int p, int thread) {
    (void)thread;
    const wino_job_t *j = ctx;
    transform_weights(j, p, j->u, j->ufloats, p);
    size_t at = (size_t)p * j->c->cin * GEMM_NR,
           atd = (size_t)p * gemm_dp_pairs(j->c->cin) * 2 * GEMM_NR;
    for (int e = 0; e < j->ne && j->ud; e++) /* panel p of each U_e */
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

/* The weight transform's arithmetic in vectors of the machine's width (the scalar loop,
 * compiled for the baseline instruction set, was 4% of the VAE encoder's time). */
static void weights_combine(const wino_job_t *j, const float (*G)[3],
                            const float (*g)[WEIGHT_CHUNK][GEMM_NR], int nc, float *u,
                            size_t ufloats, size_t at) {
    if (j->kc->isa == ISA_AVX512)
        weights_combine_avx512(G, j->n, g, nc, u, ufloats, at);
    else if (j->kc->isa != ISA_PORTABLE)
        weights_combine_avx2(G, j->n, g, nc, u, ufloats, at);
    else
        weights_combine_portable(G, j->n, g, nc, u, ufloats, at);
}

/* AVX-512 takes 16 channels a step where the channels (input, or the output range) are a
 * multiple of 16: every SD layer. */
static void input_transform(const wino_job_t *j, int t0, int nt, float *V, size_t es, size_t ts) {
    int four = j->m == 4;
    if (j->kc->isa == ISA_AVX512 && j->c->cin % 16 == 0)
        (four ? input_transform4_avx512 : input_transform_avx512)(j, t0, nt, V, es, ts);
    else if (j->kc->isa != ISA_PORTABLE)
        (four ? input_transform4_avx2 : input_transform_avx2)(j, t0, nt, V, es, ts);
    else
        (four ? input_transform4_portable : input_transform_portable)(j, t0, nt, V, es, ts);
}

static void input_transform_bf16(const wino_job_t *j, int t0, int nt, uint16_t *V, size_t es,
                                 size_t ts) {
    if (j->kc->isa == ISA_AVX512 && j->c->cin % 16 == 0)
        input_transform_bf16_avx512(j, t0, nt, V, es, ts);
    else if (j->kc->isa != ISA_PORTABLE)
        input_transform_bf16_avx2(j, t0, nt, V, es, ts);
    else
        input_transform_bf16_portable(j, t0, nt, V, es, ts);
}

static void output_transform(const wino_job_t *j, int t0, int nt, const float *M, size_t es,
                             size_t ts, int o0, int o1) {
    int four = j->m == 4;
    if (j->kc->isa == ISA_AVX512 && (o1 - o0) % 16 == 0)
        (four ? output_transform4_avx512 : output_transform_avx512)(j, t0, nt, M, es, ts, o0, o1);
    else if (j->kc->isa != ISA_PORTABLE)
        (four ? output_transform4_avx2 : output_transform_avx2)(j, t0, nt, M, es, ts, o0, o1);
    else
        (four ? output_transform4_portable : output_transform_portable)(j, t0, nt, M, es, ts, o0,
                                                                        o1);
}

/* One task: TILES tiles through the whole pipeline, its V and M staying in the thread's cache. */
static void tiles_task(void *ctx, int task, int thread) {
    const wino_job_t *j = ctx;
    int cin = j->c->cin, cout = j->c->cout;
    int t0 = task * TILES, nt = j->ntiles - t0 < TILES ? j->ntiles - t0 : TILES;
    float *V = j->work + (size_t)thread * j->work_floats, *M = V + (size_t)j->ne * TILES * cin;
    /* tile-major: a tile's n*n transformed vectors lie together ([t][e][c]), so the transforms
     * write and read one block per tile instead of n*n streams; the GEMMs take every e's rows
     * at a stride of n*n rows */
    size_t vts = (size_t)j->ne * cin, mts = (size_t)j->ne * cout;
    if (j->ud) { /* precision bf16: V written as bfloat16, which the GEMMs read in place */
        uint16_t *V16 = (uint16_t *)V;
        input_transform_bf16(j, t0, nt, V16, cin, vts);
        for (int e = 0; e < j->ne; e++)
            gemm_serial_bf16(j->kc, nt, V16 + (size_t)e * cin, (int)vts, &j->uw[e], NULL,
                             M + (size_t)e * cout, (int)mts, 0);
    } else {
        input_transform(j, t0, nt, V, cin, vts);
        for (int e = 0; e < j->ne; e++)
            gemm_serial(j->kc, nt, V + (size_t)e * cin, (int)vts, &j->uw[e], NULL,
                        M + (size_t)e * cout, (int)mts, 0);
    }
    output_transform(j, t0, nt, M, cout, mts, 0, cout);
}

/* Column tasks, first pass: the input transform of TILES tiles into the shared V. */
static void input_task(void *ctx, int task, int thread) {
    (void)thread;
    const wino_job_t *j = ctx;
    int t0 = task * TILES, nt = j->ntiles - t0 < TILES ? j->ntiles - t0 : TILES;
    input_transform(j, t0, nt, j->V + (size_t)t0 * j->c->cin, (size_t)j->ntiles * j->c->cin,
                    j->c->cin);
}

/* Column tasks, second pass: U for GROUP_PANELS panels into the thread's buffer, all tiles
 * through their GEMMs, then the output transform of those channels. */
static void columns_task(void *ctx, int task, int thread) {
    const wino_job_t *j = ctx;
    const conv2d_t *c = j->c;
    int npanels = (c->cout + GEMM_NR - 1) / GEMM_NR;
    int p0 = task * GROUP_PANELS, np = npanels - p0 < GROUP_PANELS ? npanels - p0 : GROUP_PANELS;
    int col0 = p0 * GEMM_NR, ncols = c->cout - col0 < np * GEMM_NR ? c->cout - col0 : np * GEMM_NR;
    float *u = j->work + (size_t)thread * j->work_floats;
    size_t ufloats = (size_t)GROUP_PANELS * c->cin * GEMM_NR;
    uint16_t *ud = c->w.dp ? (uint16_t *)(u + j->ne * ufloats) : NULL; /* U's pair panels */
    size_t udvals = (size_t)GROUP_PANELS * gemm_dp_pairs(c->cin) * 2 * GEMM_NR;
    for (int p = 0; p < np; p++)
        transform_weights(j, p0 + p, u, ufloats, p);
    for (int e = 0; e < j->ne && ud; e++)
        gemm_panels_to_dp(u + (size_t)e * ufloats, np, c->cin, ud + (size_t)e * udvals);
    for (int e = 0; e < j->ne; e++) {
        gemm_w_t ue = {.n = ncols,
                       .k = c->cin,
                       .npanels = np,
                       .dp = ud != NULL,
                       .data = ud ? (void *)(ud + (size_t)e * udvals)
                                  : (void *)(u + (size_t)e * ufloats)};
        gemm_serial(j->kc, j->ntiles, j->V + (size_t)e * j->ntiles * c->cin, c->cin, &ue, NULL,
                    j->M + (size_t)e * j->ntiles * c->cout + col0, c->cout, 0);
    }
    output_transform(j, 0, j->ntiles, j->M, (size_t)j->ntiles * c->cout, c->cout, col0,
                     col0 + ncols);
}

int conv_winograd(const kctx_t *kc, const conv2d_t *c, const float *x, int h, int w, int up,
                  float *y, int accumulate) {
    wino_job_t j = {
        .c = c, .kc = kc, .x = x, .h = h, .w = w, .up = up, .y = y, .accumulate = accumulate};
    int npanels = (c->cout + GEMM_NR - 1) / GEMM_NR;
    j.m = tile_side(c, h, w);
    j.n = j.m + 2;
    j.ne = j.n * j.n;
    j.tw = (w + j.m - 1) / j.m;
    j.ntiles = ((h + j.m - 1) / j.m) * j.tw;
    int threads = pool_threads(kc->pool);
    int tiles = by_tiles(c, h, w, j.ne);
    if (tiles) {
        j.ufloats = (size_t)npanels * c->cin * GEMM_NR;
        j.udvals = (size_t)npanels * gemm_dp_pairs(c->cin) * 2 * GEMM_NR;
        j.work_floats = (size_t)j.ne * TILES * (c->cin + c->cout);
    } else { /* U, and with bf16 its pair panels (16-bit values) after it */
        j.work_floats = (size_t)j.ne * GROUP_PANELS * c->cin * GEMM_NR;
        if (c->w.dp) j.work_floats += (size_t)j.ne * GROUP_PANELS * gemm_dp_pairs(c->cin) * GEMM_NR;
    }
    /* U (tile tasks) or V and M (column tasks), per-thread work, and U's pair panels (tile
     * tasks with bf16): borrowed from the context's scratch where it has one, else owned here
     * and freed below */
    size_t shared_floats =
        tiles ? (size_t)j.ne * j.ufloats : (size_t)j.ne * j.ntiles * (c->cin + c->cout);
    size_t ud_floats = tiles && c->w.dp ? ((size_t)j.ne * j.udvals + 1) / 2 : 0;
    size_t work_at = round16(shared_floats), ud_at = work_at + round16(j.work_floats * threads);
    float *block = NULL, *own = NULL;
    if (kc->scratch)
        block = arena_reserve(kc->scratch, ud_at + ud_floats);
    else if (posix_memalign((void **)&own, 64, sizeof(float) * (ud_at + ud_floats)))
        own = NULL;
    if (!block) block = own;
    if (!block) return IMG_ENOMEM;
    float *shared = block, *work = block + work_at;
    uint16_t *ud = ud_floats ? (uint16_t *)(block + ud_at) : NULL;
    j.work = work;
    if (tiles) {
        j.u = shared;
        j.ud = ud;
        for (int e = 0; e < j.ne; e++)
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
        j.M = shared + (size_t)j.ne * j.ntiles * c->cin;
        pool_run(kc->pool, (j.ntiles + TILES - 1) / TILES, input_task, &j);
        pool_run(kc->pool, (npanels + GROUP_PANELS - 1) / GROUP_PANELS, columns_task, &j);
    }
    if (kc->flops) /* the multiply-adds done: n*n products per tile and channel pair */
        __atomic_fetch_add(kc->flops, 2ull * j.ne * (unsigned long long)j.ntiles * c->cin * c->cout,
                           __ATOMIC_RELAXED);
    free(own);
    return IMG_OK;
}
