/* test_engine_faults.c - out of memory at every allocation of a model load and of a generation:
 * each fails with IMG_ENOMEM (or succeeds where the allocation was an optional one), frees what
 * it took (the ASan run's leak check sees to that), and the model still makes the same image
 * afterwards. And the kernels' own allocations. */
#include "common/status.h"
#include "engine/engine.h"
#include "engine/kernels/conv.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/winograd.h"
#include "engine/runtime/arena.h"
#include "engine/sampling/sampler.h"
#include "tests/unit/fault_alloc.h"
#include "tests/unit/harness.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const eng_load_opts_t BUILTIN = {
    .checkpoint = "builtin:imgapi-shapes/model.safetensors",
    .tokenizer = "builtin:imgapi-shapes",
    .tiny_decoder = "builtin:imgapi-shapes/decoder.safetensors",
    .threads = 2,
};
/* The same with precision bf16 (on the portable kernels, which every CPU runs): the pair
 * repacking at load. */
static const eng_load_opts_t BUILTIN_BF16 = {
    .checkpoint = "builtin:imgapi-shapes/model.safetensors",
    .tokenizer = "builtin:imgapi-shapes",
    .tiny_decoder = "builtin:imgapi-shapes/decoder.safetensors",
    .threads = 2,
    .isa = "portable",
    .precision = "bf16",
};

/* The same with every matrix, convolution and the token table in 8 bits (weights = q8). */
static const eng_load_opts_t BUILTIN_Q8 = {
    .checkpoint = "builtin:imgapi-shapes/model.safetensors",
    .tokenizer = "builtin:imgapi-shapes",
    .tiny_decoder = "builtin:imgapi-shapes/decoder.safetensors",
    .threads = 2,
    .weights_q8 = 1,
};
/* The failure points tried out of n allocations: all when there are at most max_points (128,
 * or IMGAPI_TEST_FAULT_POINTS), else the first max/2 and max/2 more spread evenly over the rest,
 * the last one included (a load makes hundreds; each try repeats the whole load). */
static long max_points(void) {
    const char *e = getenv("IMGAPI_TEST_FAULT_POINTS");
    long p = e ? atol(e) : 128;
    return p < 2 ? 2 : p;
}

/* IMGAPI_TEST_FAULT_POINTS=0: the model-level sweeps are left to the other builds (under
 * valgrind one load of the built-in model takes tens of seconds). */
static int skip_model_sweeps(void) {
    const char *e = getenv("IMGAPI_TEST_FAULT_POINTS");
    if (!e || atol(e) != 0) return 0;
    fprintf(stderr,
            "(model-level allocation failure sweeps skipped: IMGAPI_TEST_FAULT_POINTS=0)\n");
    return 1;
}
static long points(long n) {
    return n < max_points() ? n : max_points();
}
static long nth_point(long i, long n) {
    long half = max_points() / 2;
    if (n <= max_points() || i < half) return i + 1;
    return half + 1 + (i - half) * (n - half - 1) / (max_points() - half - 1);
}

static void load_out_of_memory(const eng_load_opts_t *opts) {
    char err[256];
    eng_model_t *m = NULL;
    fault_alloc_arm(0);
    int rc = eng_load(opts, &m, err, sizeof err);
    long n = fault_alloc_disarm();
    CHECK(rc == IMG_OK && n > 10);
    eng_free(m);
    int failed = 0;
    for (long i = 0; i < points(n); i++) {
        m = NULL;
        err[0] = 0;
        fault_alloc_arm(nth_point(i, n));
        rc = eng_load(opts, &m, err, sizeof err);
        fault_alloc_disarm();
        if (rc == IMG_OK) { /* an optional allocation (a cache, a compact copy) */
            CHECK(m != NULL);
            eng_free(m);
            continue;
        }
        failed++;
        if (rc != IMG_ENOMEM || m || !err[0])
            fprintf(stderr, "load, allocation %ld of %ld refused: rc %d, '%s'\n", nth_point(i, n),
                    n, rc, err);
        CHECK_EQ_INT(rc, IMG_ENOMEM);
        CHECK(m == NULL && err[0] != 0);
    }
    CHECK(failed > points(n) / 2);
}

void test_engine_load_out_of_memory(void) {
    if (skip_model_sweeps()) return;
    load_out_of_memory(&BUILTIN);
    load_out_of_memory(&BUILTIN_BF16);
    load_out_of_memory(&BUILTIN_Q8);
}

static int gen(eng_model_t *m, img_t *out) {
    eng_params_t p = {.prompt = "a red circle",
                      .width = 64,
                      .height = 64,
                      .steps = 2,
                      .guidance = 4.f,
                      .sampler = SAMPLER_DPMPP_2M,
                      .seed = 7,
                      .previews = 1};
    memset(out, 0, sizeof *out);
    return eng_generate(m, &p, NULL, NULL, out);
}

static void generate_out_of_memory(const eng_load_opts_t *opts) {
    char err[256];
    eng_model_t *m = NULL;
    CHECK(eng_load(opts, &m, err, sizeof err) == IMG_OK);
    if (!m) return;
    img_t want, got;
    fault_alloc_arm(0);
    int rc = gen(m, &want);
    long n = fault_alloc_disarm();
    CHECK(rc == IMG_OK && n > 5);
    int failed = 0;
    for (long i = 0; i < points(n); i++) {
        fault_alloc_arm(nth_point(i, n));
        rc = gen(m, &got);
        fault_alloc_disarm();
        if (rc == IMG_OK) {
            img_free(&got);
            continue;
        }
        failed++;
        CHECK_EQ_INT(rc, IMG_ENOMEM);
        CHECK(got.pixels == NULL);
    }
    CHECK(failed > 0);
    /* nothing was lost: the same image as before the failures */
    CHECK(gen(m, &got) == IMG_OK);
    CHECK(got.pixels && want.pixels && got.width == want.width && got.height == want.height &&
          memcmp(got.pixels, want.pixels, (size_t)want.width * want.height * want.channels) == 0);
    img_free(&got);
    img_free(&want);
    eng_free(m);
}

/* (precision bf16 adds one allocation to a generation, U's pair panels in Winograd, refused in
 * test_kernels_out_of_memory: a sweep on the portable kernels took a minute under ASan) */
void test_engine_generate_out_of_memory(void) {
    if (skip_model_sweeps()) return;
    generate_out_of_memory(&BUILTIN);
}

/* Refuses conv_winograd's allocations 1 .. nallocs in turn (its one block, from the context's
 * scratch arena or its own): each fails with IMG_ENOMEM and leaves y (h x w x cout, filled with
 * 5) as it was. */
static void winograd_refusals(const kctx_t *kc, const conv2d_t *c, const float *x, int h, int w,
                              float *y, long nallocs) {
    size_t n = (size_t)h * w * c->cout;
    for (long k = 1; k <= nallocs; k++) {
        for (size_t i = 0; i < n; i++)
            y[i] = 5.f;
        fault_alloc_arm(k);
        CHECK_EQ_INT(conv_winograd(kc, c, x, h, w, 0, y, 0), IMG_ENOMEM);
        fault_alloc_disarm();
        CHECK(fault_alloc_fired() && y[0] == 5.f && y[n - 1] == 5.f);
    }
}

/* max |y - want| over max |want|. */
static double rel_max_diff(const float *y, const float *want, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)y[i] - want[i]));
        m = fmax(m, fabs((double)want[i]));
    }
    return d / m;
}

/* The kernels' own allocations: Winograd's buffers (the convolution then runs directly, with the
 * same result), the shared arena (keeps its block), a half packing (nothing kept). */
void test_kernels_out_of_memory(void) {
    pool_t *pool;
    CHECK(pool_create(2, &pool) == IMG_OK);
    kctx_t kc = {pool, ISA_PORTABLE};
    enum { CIN = 64, COUT = 64, H = 16, W = 18 };
    float *wt = malloc(sizeof(float) * COUT * CIN * 9), *b = calloc(COUT, sizeof(float));
    float *x = malloc(sizeof(float) * H * W * CIN), *y = malloc(sizeof(float) * H * W * COUT),
          *want = malloc(sizeof(float) * H * W * COUT);
    uint32_t s = 1;
    for (int i = 0; i < COUT * CIN * 9; i++)
        wt[i] = ((s = s * 1103515245u + 12345u) >> 9) / 8388608.f - 1.f;
    for (int i = 0; i < H * W * CIN; i++)
        x[i] = ((s = s * 1103515245u + 12345u) >> 9) / 8388608.f - 1.f;
    conv2d_t c;
    CHECK(conv2d_init(&c, wt, b, COUT, CIN, 3, 3, 1, 1) == IMG_OK);
    CHECK(conv_winograd_eligible(&c, H, W));
    conv2d_forward(&kc, &c, x, H, W, want, 0);
    winograd_refusals(&kc, &c, x, H, W, y, 1);
    fault_alloc_arm(1);
    conv2d_forward(&kc, &c, x, H, W, y, 0); /* Winograd refused: the direct convolution */
    fault_alloc_disarm();
    CHECK(fault_alloc_fired());
    CHECK(rel_max_diff(y, want, (size_t)H * W * COUT) <= 1e-5);
    /* precision bf16 at 32x32 (Winograd by tiles, U's pair panels in the same block): the
     * repacking refused (its panel buffer, then the pairs) keeps the weight as it was; Winograd's
     * block refused leaves y alone; the direct convolution on pair panels */
    enum { H2 = 32, W2 = 32 };
    float *x2 = malloc(sizeof(float) * H2 * W2 * CIN), *y2 = malloc(sizeof(float) * H2 * W2 * COUT),
          *want2 = malloc(sizeof(float) * H2 * W2 * COUT);
    for (int i = 0; i < H2 * W2 * CIN; i++)
        x2[i] = ((s = s * 1103515245u + 12345u) >> 9) / 8388608.f - 1.f;
    fault_alloc_arm(1);
    conv2d_forward(&kc, &c, x2, H2, W2, want2, 0); /* f32, direct */
    fault_alloc_disarm();
    for (long k = 1; k <= 2; k++) {
        fault_alloc_arm(k);
        CHECK_EQ_INT(gemm_w_to_dp(&c.w), IMG_ENOMEM);
        fault_alloc_disarm();
        CHECK(fault_alloc_fired() && !c.w.dp && c.w.data != NULL);
    }
    CHECK(gemm_w_to_dp(&c.w) == IMG_OK && c.w.dp);
    winograd_refusals(&kc, &c, x2, H2, W2, y2, 1);
    fault_alloc_arm(1);
    conv2d_forward(&kc, &c, x2, H2, W2, y2, 0); /* Winograd refused: direct, on pair panels */
    fault_alloc_disarm();
    CHECK(rel_max_diff(y2, want2, (size_t)H2 * W2 * COUT) <= 1e-2); /* bfloat16 operands */
    free(x2);
    free(y2);
    free(want2);
    conv2d_free(&c);

    arena_t a = {0};
    float *p = arena_reserve(&a, 100);
    fault_alloc_arm(1);
    CHECK(arena_reserve(&a, 1000) == NULL);
    fault_alloc_disarm();
    CHECK(p && a.base == p && a.floats == 100);
    arena_free(&a);

    uint16_t hw[8 * 16] = {0};
    const void *parts[1] = {hw};
    int rows[1] = {8};
    gemm_w_t out = {0};
    fault_alloc_arm(1);
    CHECK_EQ_INT(gemm_pack_16bit(parts, rows, 1, 16, 16, 1, 0, 0, &out), IMG_ENOMEM);
    fault_alloc_disarm();
    CHECK(out.data == NULL);

    free(wt);
    free(b);
    free(x);
    free(y);
    free(want);
    pool_free(pool);
}
