/* test_lean_blocks.c - the strip-wise convolution (conv_rows) and the VAE's lean ResNet blocks
 * against the whole-image operators they replace, with strips that do not divide the image (a
 * short last strip) and in place. */
#include "common/status.h"
#include "engine/kernels/conv_rows.h"
#include "engine/kernels/ops_mt.h"
#include "engine/models/resblock_lean.h"
#include "engine/runtime/threadpool.h"
#include "tests/unit/harness.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t lean_rng = 0x9E3779B97F4A7C15ULL;
static float lrand(void) { /* xorshift, uniform in [-1, 1) */
    lean_rng ^= lean_rng << 13;
    lean_rng ^= lean_rng >> 7;
    lean_rng ^= lean_rng << 17;
    return (float)((lean_rng >> 11) * (1.0 / 9007199254740992.0)) * 2.f - 1.f;
}
static float *lbuf(size_t n, float scale) { /* owned by the caller */
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; p && i < n; i++)
        p[i] = lrand() * scale;
    return p;
}
static double rel(const float *a, const float *b, size_t n) {
    double d = 0, m = 1e-30;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return d / m;
}

static int conv3(conv2d_t *c, int cin, int cout, int k) {
    float *w = lbuf((size_t)cout * cin * k * k, 1.f / sqrtf((float)(cin * k * k))),
          *b = lbuf((size_t)cout, 0.1f);
    int rc = w && b ? conv2d_init(c, w, b, cout, cin, k, k, 1, k == 3 ? 1 : 0) : IMG_ENOMEM;
    free(w);
    free(b);
    return rc;
}

static void gnorm_rand(gnorm_t *g, int c) {
    g->c = c;
    g->eps = 1e-6f;
    g->g = lbuf((size_t)c, 0.5f);
    g->b = lbuf((size_t)c, 0.2f);
    for (int i = 0; g->g && i < c; i++)
        g->g[i] += 1.f;
}

void test_conv_rows_matches_whole_image(void) {
    pool_t *pool;
    CHECK(pool_create(2, &pool) == IMG_OK);
    kctx_t kc = {pool, ISA_PORTABLE};
    kc.isa = cpu_best_isa();
    static const int cases[][5] = {/* cin cout h w rows */
                                   {64, 64, 13, 24, 5},
                                   {64, 32, 21, 20, 4},
                                   {32, 32, 9, 7, 9},
                                   {64, 64, 40, 40, 16}};
    for (size_t cs = 0; cs < sizeof cases / sizeof cases[0]; cs++) {
        int cin = cases[cs][0], cout = cases[cs][1], h = cases[cs][2], w = cases[cs][3],
            rows = cases[cs][4];
        size_t hw = (size_t)h * w;
        conv2d_t c;
        CHECK(conv3(&c, cin, cout, 3) == IMG_OK);
        float *x = lbuf(hw * cin, 3.f), *g = lbuf((size_t)cin, 1.f), *b = lbuf((size_t)cin, 1.f);
        float *nx = malloc(sizeof(float) * hw * cin), *ref = malloc(sizeof(float) * hw * cout);
        float *y = lbuf(hw * cout, 1.f), *acc = malloc(sizeof(float) * hw * cout);
        float *scratch = malloc(sizeof(float) * conv_rows_scratch(&c, w, rows));
        float *inplace = malloc(sizeof(float) * hw * cin);
        /* the reference: the whole image normalised, then convolved */
        mt_groupnorm(&kc, x, (int)hw, cin, 32, g, b, 1e-6f, 1, nx);
        conv2d_forward(&kc, &c, nx, h, w, ref, 0);
        gn_affine_t nrm;
        CHECK(mt_groupnorm_affine(&kc, x, (int)hw, cin, 32, g, b, 1e-6f, 1, &nrm) == IMG_OK);
        memcpy(acc, y, sizeof(float) * hw * cout); /* y's random values, added to */
        float *before = malloc(sizeof(float) * hw * cout);
        memcpy(before, y, sizeof(float) * hw * cout);
        conv_rows(&kc, &c, x, h, w, &nrm, y, 0, scratch, rows);
        CHECK(rel(y, ref, hw * cout) < 2e-5);
        conv_rows(&kc, &c, x, h, w, &nrm, acc, 1, scratch, rows);
        for (size_t i = 0; i < hw * cout; i++)
            acc[i] -= before[i];
        CHECK(rel(acc, ref, hw * cout) < 2e-5);
        free(before);
        /* in place: the output over the input's own memory */
        memcpy(inplace, x, sizeof(float) * hw * cin);
        conv_rows(&kc, &c, inplace, h, w, &nrm, inplace, 0, scratch, rows);
        CHECK(rel(inplace, ref, hw * cout) < 2e-5);
        /* no norm: the plain convolution */
        conv2d_forward(&kc, &c, x, h, w, ref, 0);
        conv_rows(&kc, &c, x, h, w, NULL, y, 0, scratch, rows);
        CHECK(rel(y, ref, hw * cout) < 2e-5);
        free(x);
        free(g);
        free(b);
        free(nx);
        free(ref);
        free(y);
        free(acc);
        free(scratch);
        free(inplace);
        conv2d_free(&c);
    }
    CHECK(conv_rows_pick(512, 512, 256, 256, (size_t)8 << 20) == 30);
    CHECK(conv_rows_pick(10, 512, 256, 256, (size_t)8 << 20) == 10);
    CHECK(conv_rows_pick(100, 4096, 512, 512, 1000) == 8);
    pool_free(pool);
}

/* A VAE ResnetBlock of random weights: cin -> cout, with a 1x1 skip when they differ. */
static int block_rand(resblock_t *r, int cin, int cout) {
    memset(r, 0, sizeof *r);
    r->cin = cin;
    r->cout = cout;
    gnorm_rand(&r->n1, cin);
    gnorm_rand(&r->n2, cout);
    r->has_skip = cin != cout;
    int rc = conv3(&r->conv1, cin, cout, 3);
    if (!rc) rc = conv3(&r->conv2, cout, cout, 3);
    if (!rc && r->has_skip) rc = conv3(&r->skip, cin, cout, 1);
    return rc;
}

void test_lean_resblocks_match_resblock_forward(void) {
    pool_t *pool;
    CHECK(pool_create(2, &pool) == IMG_OK);
    kctx_t kc = {pool, ISA_PORTABLE};
    kc.isa = cpu_best_isa();
    static const int cases[][5] = {/* cin cout h w rows */
                                   {64, 32, 13, 16, 4},
                                   {64, 32, 12, 10, 4},
                                   {128, 64, 9, 17, 9},
                                   {64, 64, 13, 16, 5},
                                   {32, 32, 20, 20, 8}};
    for (size_t cs = 0; cs < sizeof cases / sizeof cases[0]; cs++) {
        int cin = cases[cs][0], cout = cases[cs][1], h = cases[cs][2], w = cases[cs][3],
            rows = cases[cs][4];
        size_t hw = (size_t)h * w;
        resblock_t r;
        CHECK(block_rand(&r, cin, cout) == IMG_OK);
        CHECK(resblock_lean_ok(&r));
        float *x = lbuf(hw * cin, 2.f), *ref = malloc(sizeof(float) * hw * cout);
        float *scratch = malloc(sizeof(float) * resblock_scratch(&r, h, w));
        resblock_forward(&kc, &r, x, h, w, NULL, ref, scratch);
        free(scratch);
        float *mem = malloc(sizeof(float) * hw * cin), *mid = malloc(sizeof(float) * hw * cout);
        float *lean = malloc(sizeof(float) * resblock_lean_scratch(&r, w, rows));
        memcpy(mem, x, sizeof(float) * hw * cin);
        float *out = resblock_lean_forward(&kc, &r, mem, h, w, mid, lean, rows);
        CHECK(out == (r.has_skip ? mem + hw * cout : mem));
        CHECK(out && rel(out, ref, hw * cout) < 2e-5);
        free(x);
        free(ref);
        free(mem);
        free(mid);
        free(lean);
        resblock_free(&r);
    }
    resblock_t r; /* channels that neither stay nor halve, or a time embedding: not lean */
    CHECK(block_rand(&r, 64, 48) == IMG_OK);
    CHECK(!resblock_lean_ok(&r));
    resblock_free(&r);
    pool_free(pool);
}
