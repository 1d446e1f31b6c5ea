/* cmd_bench.c - `imgapi bench`: where a generation's time goes, stage by stage (tokenize, text
 * encoder, each UNet step, decoder, resize, encode), as seconds, GFLOP/s and a share of the
 * machine's measured peak, with peak memory; and, given a stable-diffusion.cpp binary, the same
 * figures from it on the same checkpoint and settings in the same run, with the ratios.
 * It prints figures; it never fails on a time. */
#include "api/params.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "common/clock.h"
#include "common/status.h"
#include "engine/backend.h"
#include "engine/engine.h"
#include "engine/runtime/engine_ctx.h"
#include "engine/runtime/peak.h"
#include "engine/sampling/sampler.h"
#include "image/image.h"
#include <regex.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n ? v[n / 2] : 0;
}

typedef struct {
    double text, encode, step, decode, total, rss_mb;
    int ok;
} sdcpp_t;

static double match_seconds(const char *log, const char *pattern) {
    regex_t re;
    regmatch_t m[2];
    double v = -1;
    if (regcomp(&re, pattern, REG_EXTENDED)) return -1;
    const char *p = log;
    while (regexec(&re, p, 2, m, 0) == 0) { /* the last occurrence */
        v = atof(p + m[1].rm_so);
        p += m[0].rm_eo;
    }
    regfree(&re);
    return v;
}

#define SDCPP_OUT "/tmp/imgapi-sdcpp-out.png"
#define SDCPP_EDIT_OUT "/tmp/imgapi-sdcpp-edit.png"

/* Runs stable-diffusion.cpp once with equivalent settings; parses its stage times. strength > 0:
 * image to image from its last generation (SDCPP_OUT), as `imgapi bench --edit` runs. */
static sdcpp_t run_sdcpp(const char *bin, const char *ckpt, const char *prompt, int w, int h, int steps,
                         float cfg, const char *sampler, const char *scheduler, int threads, unsigned seed,
                         float strength) {
    sdcpp_t r = {0};
    char ws[16], hs[16], ss[16], cs[16], ts[16], sd[16], st[16], logpath[] = "/tmp/imgapi-sdcpp-XXXXXX";
    snprintf(st, sizeof st, "%.3f", strength);
    snprintf(ws, sizeof ws, "%d", w);
    snprintf(hs, sizeof hs, "%d", h);
    snprintf(ss, sizeof ss, "%d", steps);
    snprintf(cs, sizeof cs, "%.1f", cfg);
    snprintf(ts, sizeof ts, "%d", threads);
    snprintf(sd, sizeof sd, "%u", seed);
    int fd = mkstemp(logpath);
    if (fd < 0) return r;
    /* an image to image ends "-i SDCPP_OUT --strength S"; the list ends at the first NULL */
    const char *argv[] = {bin, "-m", ckpt, "-p", prompt, "-W", ws, "-H", hs, "--steps", ss, "--cfg-scale", cs,
                          "--sampling-method", sampler, "--scheduler", scheduler, "-t", ts, "-s", sd,
                          "-o", strength > 0 ? SDCPP_EDIT_OUT : SDCPP_OUT, "-v",
                          strength > 0 ? "-i" : NULL, SDCPP_OUT, "--strength", st, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    posix_spawn_file_actions_adddup2(&fa, fd, 2);
    pid_t pid;
    double t0 = clock_mono();
    if (posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        close(fd);
        unlink(logpath);
        return r;
    }
    /* The child's own high-water mark (VmHWM of its post-exec address space): ru_maxrss would
     * include ours, since the spawned child shares our memory until it execs. */
    int status;
    char proc[64], line[256];
    snprintf(proc, sizeof proc, "/proc/%d/status", (int)pid);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        FILE *f = fopen(proc, "r");
        while (f && fgets(line, sizeof line, f))
            if (!strncmp(line, "VmHWM:", 6)) {
                double kb = atof(line + 6);
                if (kb / 1024.0 > r.rss_mb) r.rss_mb = kb / 1024.0;
            }
        if (f) fclose(f);
        usleep(50000);
    }
    r.total = clock_mono() - t0;
    posix_spawn_file_actions_destroy(&fa);
    off_t len = lseek(fd, 0, SEEK_END);
    char *log = malloc((size_t)len + 1);
    if (log && pread(fd, log, (size_t)len, 0) == len) {
        log[len] = 0;
        r.text = match_seconds(log, "get_learned_condition completed, taking ([0-9.]+)s");
        double sampling = match_seconds(log, "sampling completed, taking ([0-9.]+)s");
        r.decode = match_seconds(log, "decode_first_stage completed, taking ([0-9.]+)s");
        r.encode = match_seconds(log, "encode_first_stage completed, taking ([0-9.]+)s");
        /* an image to image runs the last steps of the schedule (its log: "target t_enc is N
         * steps", and it runs N + 1 of them): sampling time per step run */
        double t_enc = match_seconds(log, "target t_enc is ([0-9]+) steps");
        int ran = strength > 0 && t_enc >= 0 ? (int)t_enc + 1 : steps;
        r.step = sampling >= 0 ? sampling / (ran > 0 ? ran : 1) : -1;
        r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && r.step >= 0 && (strength <= 0 || r.encode >= 0);
        if (!r.ok) fprintf(stderr, "imgapi: stable-diffusion.cpp failed; its log:\n%.2000s\n", log);
    }
    free(log);
    close(fd);
    unlink(logpath);
    return r;
}

/* eng_load's progress as a bar on a terminal, redrawn when the whole percent changes. */
typedef struct {
    double t0; /* clock_mono at the start of the load */
    int shown; /* percent drawn last, -1 none */
} load_bar_t;

static void load_progress(void *user, double fraction) {
    load_bar_t *b = user;
    int pct = (int)(fraction * 100 + 0.5);
    if (pct == b->shown) return;
    b->shown = pct;
    progress_bar("imgapi: loading the model", fraction, clock_mono() - b->t0);
}

/* The options of `imgapi bench`, in the order of their enum. */
enum { B_MODEL, B_SIZE, B_QUALITY, B_RUNS, B_PROMPT, B_VS_SDCPP, B_SEED, B_EDIT, B_NOPTS };
static const cli_opt_t BENCH_OPTS[B_NOPTS] = {
    {"model", 0, "ID", NULL, NULL, "default_model", "the model timed"},
    {"size", 0, "S", NULL, NULL, NULL, "the requested size (default 1024x1024)"},
    {"quality", 0, "Q", NULL, NULL, NULL, "low, medium or high (default low)"},
    {"runs", 0, "N", NULL, NULL, NULL, "runs per stage; medians are reported (default 3)"},
    {"prompt", 0, "P", NULL, NULL, NULL, "the prompt"},
    {"vs-sdcpp", 0, "PATH", NULL, NULL, NULL, "also time stable-diffusion.cpp's sd-cli on the same file"},
    {"seed", 0, "N", NULL, NULL, NULL, "the seed (default 42)"},
    {"edit", 0, "S", NULL, NULL, NULL, "also time image to image from the generated image at strength S"},
};
const cli_opts_t CLI_BENCH_OPTS = {BENCH_OPTS, B_NOPTS};

int cmd_bench(int argc, char **argv, const cli_env_t *env) {
    (void)env;
    config_t cfg;
    config_defaults(&cfg);
    const char *v[B_NOPTS];
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, &CLI_BENCH_OPTS, NULL, &cfg, v, pos, &npos, 0);
    if (rc) return rc;
    const config_model_t *all[CONFIG_MAX_MODELS + 1], *cm = NULL;
    int nall = engine_models(&cfg, all);
    const char *want = v[B_MODEL] ? v[B_MODEL] : cfg.default_model[0] ? cfg.default_model : nall ? all[0]->id : "";
    cm = engine_model(&cfg, want);
    if (!cm) {
        fprintf(stderr, "imgapi: model '%s' is not installed (model.ID.checkpoint / .tokenizer)\n", want);
        return cli_usage_error("bench");
    }
    int size = v[B_SIZE] ? api_size_parse(v[B_SIZE]) : SIZE_1024x1024;
    int quality = v[B_QUALITY] ? api_quality_parse(v[B_QUALITY]) : QUALITY_LOW;
    int runs = v[B_RUNS] ? atoi(v[B_RUNS]) : 3;
    const char *prompt = v[B_PROMPT] ? v[B_PROMPT] : "a photograph of an astronaut riding a horse";
    unsigned seed = v[B_SEED] ? (unsigned)strtoul(v[B_SEED], NULL, 10) : 42;
    float strength = v[B_EDIT] ? strtof(v[B_EDIT], NULL) : 0.f; /* --edit S: also image to image at S */
    if (size <= 0 || quality <= 0 || runs < 1 || runs > 50) {
        fprintf(stderr, "imgapi: bad --size, --quality or --runs\n");
        return 2;
    }
    if (v[B_EDIT] && !(strength > 0 && strength <= 1)) {
        fprintf(stderr, "imgapi: bad --edit: a strength above 0 and at most 1\n");
        return 2;
    }
    kctx_t kc;
    char err[512];
    if (kctx_create(cfg.threads, cfg.isa, NULL, &kc, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    int threads = pool_threads(kc.pool);
    /* kc stays for measuring the peak around each run (the machine's speed drifts); destroyed
     * before every return below */
    double peak = peak_flops(kc.pool, threads, PEAK_FP32, kc.isa),
           peak_bf16 = peak_flops(kc.pool, threads, PEAK_BF16, kc.isa),
           peak_int8 = peak_flops(kc.pool, threads, PEAK_INT8, kc.isa);
    const char *int8_name = peak_int8_name(); /* the instructions peak_int8 measured, or NULL */

    /* profile and working size first: stable-diffusion.cpp runs before our model is loaded */
    quality_profile_t q;
    engine_quality_profile(engine_profile_kind(cm->profile), (api_quality_t)quality, &q);
    int W, H, ow, oh;
    api_size_dims((api_size_t)size, &ow, &oh);
    int native, multiple;
    if (eng_probe_native(cm->checkpoint, &native, &multiple, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        kctx_destroy(&kc);
        return 1;
    }
    if (cm->native) native = cm->native;
    engine_native_size(native, multiple, ow, oh, &W, &H);
    sdcpp_t sres = {0};
    double s_text = 0, s_step = 0, s_dec = 0, s_tot = 0, s_rss = 0, s_enc = 0, s_estep = 0, s_etot = 0;
    int s_ok = 0, s_eok = 0;
    if (v[B_VS_SDCPP]) {
        const char *sm = q.sampler == SAMPLER_DPMPP_2M ? "dpm++2m" : q.sampler == SAMPLER_EULER ? "euler" : "euler_a";
        const char *sch = q.schedule == ENG_SCHED_KARRAS ? "karras" : q.schedule == ENG_SCHED_TRAILING ? "sgm_uniform" : "discrete";
        double st2[50], ss2[50], sd2[50], stot[50], se2[50], ses[50], setot[50];
        for (int r = 0; r < runs; r++) {
            progress_line("stable-diffusion.cpp: generation %d of %d", r + 1, runs);
            sres = run_sdcpp(v[B_VS_SDCPP], cm->checkpoint, prompt, W, H, q.steps, q.guidance, sm, sch, threads, seed, 0);
            if (!sres.ok) break;
            st2[s_ok] = sres.text;
            ss2[s_ok] = sres.step;
            sd2[s_ok] = sres.decode;
            stot[s_ok] = sres.total;
            s_rss = sres.rss_mb > s_rss ? sres.rss_mb : s_rss;
            if (strength > 0) { /* image to image from the generation just made */
                progress_line("stable-diffusion.cpp: image to image %d of %d", r + 1, runs);
                sdcpp_t e = run_sdcpp(v[B_VS_SDCPP], cm->checkpoint, prompt, W, H, q.steps, q.guidance, sm, sch, threads,
                                      seed, strength);
                if (!e.ok) break;
                se2[s_eok] = e.encode;
                ses[s_eok] = e.step;
                setot[s_eok++] = e.total;
            }
            s_ok++;
        }
        if (s_ok) {
            s_text = median(st2, s_ok);
            s_step = median(ss2, s_ok);
            s_dec = median(sd2, s_ok);
            s_tot = median(stot, s_ok);
        }
        if (s_eok) {
            s_enc = median(se2, s_eok);
            s_estep = median(ses, s_eok);
            s_etot = median(setot, s_eok);
        }
    }

    eng_model_t *m;
    eng_load_opts_t o;
    char tokpath[sizeof cm->checkpoint + 16];
    engine_load_opts(&cfg, cm, &o, tokpath, sizeof tokpath); /* as the server loads it */
    o.threads = threads;
    double t0 = clock_mono();
    load_bar_t bar = {t0, -1};
    o.progress = load_progress;
    o.progress_user = &bar;
    if (eng_load(&o, &m, err, sizeof err)) {
        progress_clear();
        fprintf(stderr, "imgapi: %s\n", err);
        kctx_destroy(&kc);
        return 1;
    }
    double load_s = clock_mono() - t0;
    eng_params_t p = {.prompt = prompt, .negative_prompt = "", .width = W, .height = H, .steps = q.steps,
                      .guidance = q.guidance, .sampler = q.sampler, .schedule = (eng_schedule_t)q.schedule,
                      .seed = seed, .fast_decode = quality == QUALITY_LOW};
    double tok[50], text[50], step[50], dec[50], rs[50], enc[50], tot[50];
    /* each run's stages as shares of the mean of the peaks measured just before and after it,
     * the peak of what runs the model's products (the portable kernels: against fp32's) */
    eng_products_t products = eng_info(m)->products;
    peak_kind_t pk_kind = products == ENG_PRODUCTS_BF16_AMX      ? PEAK_AMX
                          : products == ENG_PRODUCTS_BF16_AVX512 ? PEAK_BF16
                                                                 : PEAK_FP32;
    double peak_amx = peak_flops(kc.pool, threads, PEAK_AMX, kc.isa);
    double text_pk[50], step_pk[50], dec_pk[50],
        p_before = peak_flops(kc.pool, threads, pk_kind, kc.isa);
    double p_lo = p_before, p_hi = p_before;
    eng_stats_t st = {0}, est = {0};
    img_t init = {0};
    /* image to image from the first generation (every run makes the same image): the encoder,
     * the steps it runs, the whole; each edit runs right after its generation, so that the
     * machine's drift between runs touches both sides of their ratio alike */
    double e_enc[50], e_step[50], e_tot[50], e_pk[50], e_text[50], e_dec[50], ratio[50];
    eng_params_t ep = p;
    ep.init_image = &init;
    ep.strength = strength;
    for (int r = 0; r < runs; r++) {
        progress_line("imgapi: generation %d of %d", r + 1, runs);
        img_t im = {0}, sized = {0};
        double g0 = clock_mono();
        if (eng_generate(m, &p, NULL, NULL, &im)) {
            progress_clear();
            fprintf(stderr, "imgapi: generation failed\n");
            eng_free(m);
            kctx_destroy(&kc);
            return 1;
        }
        eng_last_stats(m, &st);
        double r0 = clock_mono();
        img_resize(&im, ow, oh, &sized);
        double r1 = clock_mono();
        uint8_t *png;
        size_t png_len;
        img_encode(&sized, IMG_FMT_PNG, 100, &png, &png_len);
        double r2 = clock_mono();
        free(png);
        if (r == 0 && strength > 0)
            init = im; /* the edits start from the first generation (owned here) */
        else
            img_free(&im);
        img_free(&sized);
        tok[r] = st.tokenize_s;
        text[r] = st.text_s;
        double s = 0;
        for (int i = 0; i < st.steps && i < ENG_MAX_STAT_STEPS; i++) s += st.step_s[i];
        step[r] = s / (st.steps ? st.steps : 1);
        dec[r] = st.decode_s;
        rs[r] = r1 - r0;
        enc[r] = r2 - r1;
        tot[r] = r2 - g0;
        double p_after = peak_flops(kc.pool, threads, pk_kind, kc.isa),
               pk = (p_before + p_after) / 2;
        p_lo = p_after < p_lo ? p_after : p_lo;
        p_hi = p_after > p_hi ? p_after : p_hi;
        p_before = p_after;
        text_pk[r] = 100 * st.text_gflop * 1e9 / text[r] / pk;
        step_pk[r] = 100 * st.steps_gflop / (st.steps ? st.steps : 1) * 1e9 / step[r] / pk;
        dec_pk[r] = 100 * st.decode_gflop * 1e9 / dec[r] / pk;
        if (strength <= 0) continue;
        progress_line("imgapi: image to image %d of %d", r + 1, runs);
        img_t eim = {0};
        double e0 = clock_mono();
        int erc = eng_generate(m, &ep, NULL, NULL, &eim);
        e_tot[r] = clock_mono() - e0;
        img_free(&eim);
        if (erc) {
            progress_clear();
            fprintf(stderr, "imgapi: the edit failed (%s)\n", img_status_str(erc));
            img_free(&init);
            eng_free(m);
            kctx_destroy(&kc);
            return 1;
        }
        eng_last_stats(m, &est);
        double sum = 0;
        for (int i = 0; i < est.steps && i < ENG_MAX_STAT_STEPS; i++) sum += est.step_s[i];
        e_step[r] = sum / (est.steps ? est.steps : 1);
        e_enc[r] = est.encode_s;
        e_text[r] = est.text_s;
        e_dec[r] = est.decode_s;
        ratio[r] = e_tot[r] / (r2 - g0 - rs[r] - enc[r]); /* the engine's work on both sides */
        double pe_after = peak_flops(kc.pool, threads, pk_kind, kc.isa);
        e_pk[r] = 100 * est.encode_gflop * 1e9 / e_enc[r] / ((p_before + pe_after) / 2);
        p_before = pe_after;
    }
    progress_clear();
    img_free(&init);
    kctx_destroy(&kc);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss = (double)ru.ru_maxrss / 1024.0;
    double mt = median(text, runs), ms = median(step, runs), md = median(dec, runs), mtot = median(tot, runs);
    double step_gf = st.steps_gflop / (st.steps ? st.steps : 1);
    printf("imgapi bench: model %s (%s), %dx%d working -> %dx%d, quality %s: %d step(s) %s, "
           "guidance %.1f, %s decoder\n",
           cm->id, cm->checkpoint, W, H, ow, oh, api_quality_name((api_quality_t)quality), q.steps,
           sampler_name((sampler_kind_t)q.sampler), q.guidance,
           eng_info(m)->family == ENG_FAMILY_FLUX2                            ? "FLUX.2 autoencoder"
           : eng_info(m)->tiny_only || (p.fast_decode && cm->tiny_decoder[0]) ? "tiny"
                                                                              : "KL VAE");
    printf("threads %d, precision %s%s; measured peak fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s, amx "
           "%.1f GFLOP/s, int8 (%s) %.1f GOP/s; medians of %d run(s)\n",
           threads, cfg.precision, pk_kind == PEAK_AMX ? " (AMX)" : "", peak / 1e9, peak_bf16 / 1e9,
           peak_amx / 1e9, int8_name ? int8_name : "none", peak_int8 / 1e9, runs);
    printf("%%peak: against the mean of the %s peaks measured before and after each run (they "
           "ranged %.1f-%.1f GFLOP/s)\n",
           pk_kind == PEAK_AMX    ? "amx"
           : pk_kind == PEAK_BF16 ? "bf16"
                                  : "fp32",
           p_lo / 1e9, p_hi / 1e9);
    printf("%-14s %10s %10s %10s %8s\n", "stage", "seconds", "GFLOP", "GFLOP/s", "%peak");
    printf("%-14s %10.3f\n", "load", load_s);
    printf("%-14s %10.4f\n", "tokenize", median(tok, runs));
    printf("%-14s %10.3f %10.1f %10.1f %7.0f%%\n", "text encoder", mt, st.text_gflop,
           st.text_gflop / mt, median(text_pk, runs));
    printf("%-14s %10.3f %10.1f %10.1f %7.0f%%\n", "unet step", ms, step_gf, step_gf / ms,
           median(step_pk, runs));
    printf("%-14s %10.3f %10.1f %10.1f %7.0f%%\n", "decoder", md, st.decode_gflop,
           st.decode_gflop / md, median(dec_pk, runs));
    printf("%-14s %10.3f\n", "resize", median(rs, runs));
    printf("%-14s %10.3f\n", "encode png", median(enc, runs));
    printf("%-14s %10.3f   peak RSS %.0f MB\n", "total", mtot, rss);
    double me_enc = 0, me_tot = 0;
    if (strength > 0) {
        me_enc = median(e_enc, runs);
        me_tot = median(e_tot, runs);
        printf("\nimage to image from that image at strength %.2f (%d of %d step(s) run), medians of %d run(s):\n",
               strength, est.steps, q.steps, runs);
        printf("%-14s %10.3f %10.1f %10.1f %7.0f%%\n", "image encoder", me_enc, est.encode_gflop,
               est.encode_gflop / me_enc, median(e_pk, runs));
        printf("%-14s %10.3f\n", "text encoder", median(e_text, runs));
        printf("%-14s %10.3f\n", "unet step", median(e_step, runs));
        printf("%-14s %10.3f\n", "decoder", median(e_dec, runs));
        printf("%-14s %10.3f   edit / generation %.3f (the engine's work: text, encoder, steps, "
               "decoder; the median of each run's pair)\n",
               "edit total", me_tot, median(ratio, runs));
    }
    if (s_ok) {
        printf("\nstable-diffusion.cpp (%s), same checkpoint and settings, medians of %d run(s):\n", v[B_VS_SDCPP], s_ok);
        printf("%-14s %10s %10s %12s\n", "stage", "sd.cpp s", "imgapi s", "imgapi/sdcpp");
        printf("%-14s %10.3f %10.3f %12.2f\n", "text encoder", s_text, mt, mt / s_text);
        printf("%-14s %10.3f %10.3f %12.2f\n", "unet step", s_step, ms, ms / s_step);
        printf("%-14s %10.3f %10.3f %12.2f\n", "decoder", s_dec, md, md / s_dec);
        printf("%-14s %10.3f %10.3f %12.2f   (process wall with load; imgapi: load + generation)\n", "total", s_tot,
               mtot + load_s, (mtot + load_s) / s_tot);
        printf("%-14s %10.0f %10.0f %12.2f\n", "peak RSS MB", s_rss, rss, rss / s_rss);
        if (s_eok) {
            printf("image to image (strength %.2f), medians of %d run(s):\n", strength, s_eok);
            printf("%-14s %10.3f %10.3f %12.2f\n", "image encoder", s_enc, me_enc, me_enc / s_enc);
            printf("%-14s %10.3f %10.3f %12.2f\n", "unet step", s_estep, median(e_step, runs),
                   median(e_step, runs) / s_estep);
            printf("%-14s %10.3f %10.3f %12.2f   (sd.cpp: process wall with load)\n", "edit total", s_etot,
                   me_tot + load_s, (me_tot + load_s) / s_etot);
        } else if (strength > 0) {
            printf("stable-diffusion.cpp's image to image did not run to the end; no comparison\n");
        }
    } else if (v[B_VS_SDCPP]) {
        printf("\nstable-diffusion.cpp did not run to the end; no comparison\n");
    }
    eng_free(m);
    return 0;
}
