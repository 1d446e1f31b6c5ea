/* bench_gemm.c - GEMM throughput at Stable Diffusion shapes: imgapi's packed kernels against
 * OpenBLAS sgemm on the same shapes, in one run, as GFLOP/s and as a share of the machine's peak
 * FMA rate (measured here, fp32 and bf16). "imgapi" packs f32 weights; "half W" packs the same
 * weights rounded to halves, which the packing then stores as halves (an F16 checkpoint's case);
 * "bf16" (where the CPU has AVX512-BF16) repacks them as bfloat16 pairs (precision bf16: A is
 * rounded to bfloat16 too, VDPBF16PS kernels), its share against the measured bf16 peak; "amx"
 * runs the same pairs on AMX tiles where the OS grants them, against the measured AMX peak.
 * This machine's speed drifts by tens of percent within seconds (neighbours on shared cores), so
 * every timed run (repeated for at least 50 ms) sits between two peak measurements and its
 * "%peak" is against their mean; the columns are medians over the runs of those shares.
 * A, W and C come from big_alloc, as the engine's activations and packed weights do (huge
 * pages where the kernel offers them). Prints figures; never fails on a time.
 *
 * --isa avx2 (or portable) runs that level's kernels on a CPU that has a wider one, its FMA
 * peak measured at that width (the bf16 and AMX columns need avx512).
 *
 *   make bench && build/bench_gemm [--threads N] [--isa auto|avx512|avx2|portable] [--reps N]
 *                                  [--time M N K HALVES SECONDS] */
#include "common/clock.h"
#include "engine/kernels/attention.h"
#include "engine/kernels/gemm.h"
#include "engine/runtime/bigmem.h"
#include "engine/runtime/engine_ctx.h"
#include "engine/runtime/peak.h"
#include "engine/tensor/dtype.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void openblas_set_num_threads(int);

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return v[n / 2];
}

typedef struct {
    const kctx_t *kc;
    int m, n, k;
    const float *a, *w;
    const gemm_w_t *pw, *ph, *pd;
    float *c;
    const kctx_t *kc_amx; /* the same pool with AMX tiles for pair panels */
} shape_run_t;

/* One product: 0 imgapi (f32 panels), 1 imgapi (half panels), 2 OpenBLAS, 3 imgapi (bfloat16
 * pairs), 4 imgapi (bfloat16 pairs on AMX tiles). */
static void run_once(const shape_run_t *r, int way) {
    if (way == 2) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r->m, r->n, r->k, 1.f, r->a, r->k,
                    r->w, r->k, 0.f, r->c, r->n);
        return;
    }
    const gemm_w_t *w = way >= 3 ? r->pd : way == 1 ? r->ph : r->pw;
    gemm(way == 4 ? r->kc_amx : r->kc, r->m, r->a, r->k, w, NULL, r->c, r->n, 0);
}

/* Seconds per product, repeated for at least `seconds`. */
static double time_way(const shape_run_t *r, int way, double seconds) {
    int it = 0;
    double t0 = clock_mono(), dt;
    do {
        run_once(r, way);
        it++;
    } while ((dt = clock_mono() - t0) < seconds);
    return dt / it;
}

/* The inputs every product here uses: A (na values) and W (nw values), fixed patterns. */
static void fill_inputs(float *a, size_t na, float *w, size_t nw) {
    for (size_t i = 0; i < na; i++)
        a[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
    for (size_t i = 0; i < nw; i++)
        w[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
}

/* --time M N K HALVES SECONDS: only imgapi's product of that shape (f32 panels; HALVES 1: half
 * panels; 2: bfloat16 pairs; 3: bfloat16 pairs on AMX tiles) for at least SECONDS, printing its
 * GFLOP/s; what bench/ab_builds.py runs from two builds in alternation to compare them. */
static int time_one(const kctx_t *kc, const kctx_t *kc_amx, char **arg) {
    int m = atoi(arg[0]), n = atoi(arg[1]), k = atoi(arg[2]), halves = atoi(arg[3]);
    double seconds = atof(arg[4]);
    if (m <= 0 || n <= 0 || k <= 0 || halves < 0 || halves > 3 || (halves == 3 && !kc_amx->amx) ||
        seconds <= 0) {
        fprintf(stderr, "bench_gemm: bad --time M N K HALVES SECONDS (HALVES 0-2, 3 with AMX)\n");
        return 2;
    }
    float *a = big_alloc(sizeof(float) * (size_t)m * k),
          *w = big_alloc(sizeof(float) * (size_t)n * k);
    float *c = big_alloc(sizeof(float) * (size_t)m * n);
    gemm_w_t pw = {0};
    int rc = !a || !w || !c;
    if (!rc) {
        fill_inputs(a, (size_t)m * k, w, (size_t)n * k);
        for (size_t i = 0; halves == 1 && i < (size_t)n * k; i++)
            w[i] = f16_to_f32(f32_to_f16(w[i]));
        rc = gemm_pack(w, n, k, &pw) != 0 || (halves >= 2 && gemm_w_to_dp(&pw) != 0);
    }
    if (!rc) {
        shape_run_t run = {kc, m, n, k, a, w, &pw, &pw, &pw, c, kc_amx};
        int way = halves == 3 ? 4 : 0;
        run_once(&run, way); /* warm up */
        printf("gflops %.3f\n", 2.0 * m * n * k / time_way(&run, way, seconds) / 1e9);
    } else {
        fprintf(stderr, "bench_gemm: out of memory\n");
    }
    gemm_w_free(&pw);
    free(a);
    free(w);
    free(c);
    return rc;
}

int main(int argc, char **argv) {
    int threads = 0, reps = 5;
    const char *isa = "auto";
    char **time_args = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) {
            threads = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--isa")) {
            isa = argv[i + 1];
        } else if (!strcmp(argv[i], "--reps")) {
            reps = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--time") && i + 5 < argc) {
            time_args = argv + i + 1;
            i += 4;
        }
    }
    kctx_t kc;
    char err[256];
    if (kctx_create(threads, isa, NULL, &kc, err, sizeof err)) {
        fprintf(stderr, "bench_gemm: %s\n", err);
        return 1;
    }
    kctx_t kc_amx = kc; /* the same pool; pair panels on AMX tiles where the OS grants them */
    kc_amx.amx = kc.isa == ISA_AVX512 && cpu_amx_enable();
    if (time_args) {
        int rc = time_one(&kc, &kc_amx, time_args);
        kctx_destroy(&kc);
        return rc;
    }
    threads = pool_threads(kc.pool);
    openblas_set_num_threads(threads);
    __builtin_cpu_init();
    double peak = peak_flops(kc.pool, threads, PEAK_FP32, kc.isa);
    double peak_bf16 = peak_flops(kc.pool, threads, PEAK_BF16, kc.isa);
    double peak_amx = peak_flops(kc.pool, threads, PEAK_AMX, kc.isa);
    printf("threads %d, kernels %s\n", threads, cpu_isa_name(kc.isa));
    double peak_int8 = peak_flops(kc.pool, threads, PEAK_INT8, kc.isa);
    printf("measured peak: fp32 FMA %.1f GFLOP/s, bf16 dot %.1f GFLOP/s, AMX bf16 %.1f GFLOP/s\n",
           peak / 1e9, peak_bf16 / 1e9, peak_amx / 1e9);
    /* the ceiling of any int8 kernel here, against the f32 kernels' */
    if (peak_int8 > 0)
        printf("measured peak: int8 multiply-add (%s) %.1f GOP/s = %.2fx the fp32 FMA peak\n",
               peak_int8_name(), peak_int8 / 1e9, peak > 0 ? peak_int8 / peak : 0);
    /* bf16 pairs where a kernel runs them fast (elsewhere portable C: skipped) */
    int ways = kc_amx.amx ? 5 : kc.isa == ISA_AVX512 && cpu_has_avx512_bf16() ? 4 : 3;
    printf("%-34s %6s %6s %6s | %9s %6s | %9s %6s | %9s %6s | %6s | %9s %6s | %9s %6s\n",
           "shape (where)", "M", "N", "K", "imgapi", "%peak", "half W", "%peak", "openblas",
           "%peak", "ratio", "bf16", "%bf16pk", "amx", "%amxpk");
    static const struct {
        const char *what;
        int m, n, k;
    } S[] = {
        {"CLIP-L qkv, 77 tokens", 77, 2304, 768},
        {"CLIP-H mlp fc1", 77, 4096, 1024},
        {"SD1 attn proj 64x64", 4096, 320, 320},
        {"SD1 GEGLU proj 64x64", 4096, 2560, 320},
        {"SD1 ff out 64x64", 4096, 320, 1280},
        {"SD1 conv3x3 320ch 64x64", 4096, 320, 2880},
        {"SD1 conv3x3 640ch 32x32", 1024, 640, 5760},
        {"SD1 conv3x3 1280ch 16x16", 256, 1280, 11520},
        {"VAE conv3x3 512ch 64x64", 4096, 512, 4608},
        {"VAE conv3x3 256ch 256x256", 65536, 256, 2304},
    };
    double sum_ratio = 0, p_lo = peak, p_hi = peak;
    int nshapes = sizeof S / sizeof S[0];
    for (int s = 0; s < nshapes; s++) {
        int m = S[s].m, n = S[s].n, k = S[s].k;
        float *a = big_alloc(sizeof(float) * (size_t)m * k),
              *w = big_alloc(sizeof(float) * (size_t)n * k);
        float *c = big_alloc(sizeof(float) * (size_t)m * n);
        fill_inputs(a, (size_t)m * k, w, (size_t)n * k);
        gemm_w_t pw, ph;
        gemm_pack(w, n, k, &pw);
        float *wh = malloc(sizeof(float) * (size_t)n * k);
        for (size_t i = 0; i < (size_t)n * k; i++)
            wh[i] = f16_to_f32(f32_to_f16(w[i]));
        gemm_pack(wh, n, k, &ph);
        free(wh);
        gemm_w_t pd = {0};
        if (ways > 3 && (gemm_pack(w, n, k, &pd) || gemm_w_to_dp(&pd))) ways = 3;
        double flops = 2.0 * m * n * k;
        shape_run_t run = {&kc, m, n, k, a, w, &pw, &ph, &pd, c, &kc_amx};
        double gfs[5][32], share[5][32];
        int r_eff = reps > 32 ? 32 : reps;
        for (int way = 0; way < ways; way++)
            run_once(&run, way); /* warm up */
        double p_before = peak_flops(kc.pool, threads, PEAK_FP32, kc.isa);
        for (int r = 0; r < r_eff; r++)
            for (int way = 0; way < ways; way++) {
                /* bf16 pairs: against the peak of what runs them, measured around that run */
                peak_kind_t kind = way == 4 ? PEAK_AMX : way == 3 ? PEAK_BF16 : PEAK_FP32;
                double pb = way >= 3 ? peak_flops(kc.pool, threads, kind, kc.isa) : p_before;
                double t = time_way(&run, way, 0.05),
                       p_after = peak_flops(kc.pool, threads, kind, kc.isa);
                gfs[way][r] = flops / t / 1e9;
                share[way][r] = 100 * flops / t / ((pb + p_after) / 2);
                if (way >= 3) continue;
                p_lo = p_after < p_lo ? p_after : p_lo;
                p_hi = p_after > p_hi ? p_after : p_hi;
                p_before = p_after;
            }
        double go = median(gfs[0], r_eff), gh = median(gfs[1], r_eff), gb = median(gfs[2], r_eff);
        printf("%-34s %6d %6d %6d | %9.1f %5.0f%% | %9.1f %5.0f%% | %9.1f %5.0f%% | %6.2f",
               S[s].what, m, n, k, go, median(share[0], r_eff), gh, median(share[1], r_eff), gb,
               median(share[2], r_eff), go / gb);
        for (int way = 3; way < 5; way++)
            if (way < ways)
                printf(" | %9.1f %5.0f%%", median(gfs[way], r_eff), median(share[way], r_eff));
            else
                printf(" | %9s %6s", "-", "-");
        printf("\n");
        sum_ratio += go / gb;
        gemm_w_free(&pw);
        gemm_w_free(&ph);
        gemm_w_free(&pd);
        free(a);
        free(w);
        free(c);
    }
    printf("mean speed ratio imgapi/openblas: %.2f (medians of %d runs; GFLOP/s = 2MNK / time;\n"
           "%%peak against the peak measured around each run, which ranged %.1f-%.1f GFLOP/s)\n",
           sum_ratio / nshapes, reps, p_lo / 1e9, p_hi / 1e9);

    /* attention (no N x N buffer) at the UNet's and the VAE's token counts: what attention()
     * picks (blocked GEMMs from 256 keys) and the fused kernel alone, side by side */
    static const struct {
        const char *what;
        int nq, nk, heads, dh;
    } A[] = {
        {"SD1 self-attn 64x64 latent", 4096, 4096, 8, 40},
        {"SD2 self-attn 64x64 latent", 4096, 4096, 5, 64},
        {"SD2 cross-attn 64x64 latent", 4096, 77, 5, 64},
        {"VAE mid attn 64x64 latent", 4096, 4096, 1, 512},
        {"SD2 self-attn 128x128 latent", 16384, 16384, 5, 64},
    };
    printf("%-34s %6s %6s %6s | %9s %6s | %9s %6s | %6s\n", "attention (where)", "tokens", "keys",
           "heads", "GFLOP/s", "%peak", "fused", "%peak", "x fused");
    for (size_t s = 0; s < sizeof A / sizeof A[0]; s++) {
        int ld = A[s].heads * A[s].dh;
        size_t nq = (size_t)A[s].nq, nk = (size_t)A[s].nk;
        float *q = big_alloc(sizeof(float) * nq * ld), *k = big_alloc(sizeof(float) * nk * ld);
        float *v = big_alloc(sizeof(float) * nk * ld), *o = big_alloc(sizeof(float) * nq * ld);
        for (size_t i = 0; i < nq * ld; i++)
            q[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
        for (size_t i = 0; i < nk * ld; i++)
            k[i] = v[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
        double flops = 4.0 * nq * nk * ld, g[2], sh[2];
        int r_eff = A[s].nq > 8192 ? 1 : (reps > 32 ? 32 : reps);
        for (int way = 0; way < 2; way++) {
            double t[32], share[32], p_before = peak_flops(kc.pool, threads, PEAK_FP32, kc.isa);
            for (int r = 0; r < r_eff; r++) {
                double t0 = clock_mono();
                if (way == 0)
                    attention(&kc, q, ld, k, ld, v, ld, A[s].nq, A[s].nk, A[s].heads, A[s].dh, 0, o,
                              ld);
                else
                    attention_fused(&kc, q, ld, k, ld, v, ld, A[s].nq, A[s].nk, A[s].heads, A[s].dh,
                                    0, o, ld);
                t[r] = clock_mono() - t0;
                double p_after = peak_flops(kc.pool, threads, PEAK_FP32, kc.isa);
                share[r] = 100 * flops / t[r] / ((p_before + p_after) / 2);
                p_before = p_after;
            }
            g[way] = flops / median(t, r_eff) / 1e9;
            sh[way] = median(share, r_eff);
        }
        printf("%-34s %6d %6d %6d | %9.1f %5.0f%% | %9.1f %5.0f%% | %6.2f\n", A[s].what, A[s].nq,
               A[s].nk, A[s].heads, g[0], sh[0], g[1], sh[1], g[0] / g[1]);
        free(q);
        free(k);
        free(v);
        free(o);
    }
    kctx_destroy(&kc);
    return 0;
}
