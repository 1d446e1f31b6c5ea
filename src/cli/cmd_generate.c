/* cmd_generate.c - `imgapi models` and `imgapi generate`: the engine without a server. */
#include "api/params.h"
#include "cli/cli.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/status.h"
#include "cli/generate_remote.h"
#include "moderation/load.h"
#include "queue/queue.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes the job's latest step preview as DIR/step-NNN.png (when there is one). */
static void write_preview(job_t *job, const char *dir) {
    img_t pv;
    int pstep;
    if (!dir || job_preview(job, &pv, &pstep) != IMG_OK) return;
    uint8_t *png;
    size_t len;
    char path[600];
    snprintf(path, sizeof path, "%s/step-%03d.png", dir, pstep);
    if (img_encode(&pv, IMG_FMT_PNG, 10, &png, &len) == IMG_OK) {
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(png, 1, len, f);
            fclose(f);
        }
        free(png);
    }
    img_free(&pv);
}

#define BAR "##############################"

/* Model loading, as far as it was seen: a bar on a terminal, a line per quarter otherwise.
 * *shown: the last permille shown (-1: none yet). */
static void show_loading(int tty, int permille, int *shown, double t0) {
    if (permille == *shown) return;
    if (tty) {
        int width = 30, fill = permille * width / 1000;
        fprintf(stderr, "\rloading the model [%.*s%*s] %3d%%  %.1fs", fill, BAR, width - fill, "",
                permille / 10, clock_mono() - t0);
    } else if (permille / 250 > (*shown < 0 ? 0 : *shown / 250)) {
        fprintf(stderr, "loading the model: %d%% (%.1fs)\n", permille / 250 * 25,
                clock_mono() - t0);
    }
    *shown = permille;
}

/* Shows the job's progress on standard error: bars redrawn in place on a terminal (model loading,
 * then sampling), plain lines otherwise (logs, CI). */
job_state_t cli_wait_job(job_t *job, const char *preview_dir) {
    int tty = isatty(STDERR_FILENO), last = -1, load_shown = -1, load_closed = 0;
    double t0 = clock_mono();
    job_state_t st;
    fprintf(stderr, "loading the model and encoding the prompt...\n");
    while ((st = job_wait(job, tty ? 0.1 : 0.25)) < JOB_DONE) {
        int loading = job_loading(job);
        if (loading >= 0) {
            show_loading(tty, loading, &load_shown, t0);
            continue;
        }
        if (load_shown >= 0 && !load_closed) { /* the load is over: finish its bar or lines */
            show_loading(tty, 1000, &load_shown, t0);
            if (tty) fprintf(stderr, "\n");
            load_closed = 1;
        }
        int image, step, steps;
        job_progress(job, &image, &step, &steps);
        if (steps <= 0 || step == last) continue;
        last = step;
        write_preview(job, preview_dir);
        if (tty) {
            int width = 30, fill = step * width / steps;
            fprintf(stderr, "\rsampling          [%.*s%*s] step %d/%d  %.1fs", fill, BAR,
                    width - fill, "", step, steps, clock_mono() - t0);
        } else {
            fprintf(stderr, "step %d/%d (%.1fs)\n", step, steps, clock_mono() - t0);
        }
    }
    int image, step, steps;
    job_progress(job, &image, &step, &steps);
    write_preview(job, preview_dir); /* the last steps may finish between two looks */
    if (steps > 0 && step != last) {
        if (tty)
            fprintf(stderr, "\rsampling          [" BAR "] step %d/%d  %.1fs", step, steps,
                    clock_mono() - t0);
        else
            fprintf(stderr, "step %d/%d (%.1fs)\n", step, steps, clock_mono() - t0);
        last = step;
    }
    if (tty && last >= 0) fprintf(stderr, "\n");
    if (st == JOB_DONE) fprintf(stderr, "done in %.1fs\n", clock_mono() - t0);
    return st;
}

/* The options of `imgapi generate`, in the order of their enum. */
enum {
    G_OUT,
    G_SIZE,
    G_QUALITY,
    G_FORMAT,
    G_SEED,
    G_MODEL,
    G_BACKGROUND,
    G_COMPRESSION,
    G_NEGATIVE,
    G_PREVIEWS,
    G_MODERATION,
    G_SERVER,
    G_API_KEY,
    G_ASYNC,
    G_NOPTS
};
static const cli_opt_t GENERATE_OPTS[G_NOPTS] = {
    {"out", 'o', "FILE", NULL, NULL, NULL, "where to write the image (default imgapi-SEED.FORMAT)"},
    {"size", 0, "S", NULL, NULL, NULL, "1024x1024, 1536x1024, 1024x1536 or auto"},
    {"quality", 0, "Q", NULL, NULL, NULL, "low, medium, high or auto"},
    {"format", 0, "F", NULL, NULL, NULL, "png, jpeg or webp"},
    {"seed", 0, "N", NULL, NULL, NULL, "0 to 4294967295 (default: random)"},
    {"model", 0, "M", NULL, NULL, "default_model", "a model id of 'imgapi models'"},
    {"background", 0, "B", NULL, NULL, NULL, "auto, opaque or transparent"},
    {"compression", 0, "N", NULL, NULL, NULL, "0-100, jpeg and webp"},
    {"negative-prompt", 0, "P", NULL, NULL, NULL, "what the image should not show"},
    {"previews", 0, "DIR", NULL, NULL, NULL, "write a preview per step into DIR"},
    {"moderation", 0, "auto|low", NULL, NULL, NULL, "how strictly the prompt is checked"},
    {"server", 0, "URL", NULL, NULL, NULL, "send the request to a running server instead"},
    {"api-key", 0, "KEY", NULL, "IMGAPI_API_KEY", NULL, "the server's API key"},
    {"async", 0, NULL, NULL, NULL, NULL, "with --server: submit to /v2 and poll for the result"},
};
const cli_opts_t CLI_GENERATE_OPTS = {GENERATE_OPTS, G_NOPTS};

int cmd_models(int argc, char **argv, const cli_env_t *env) {
    config_t cfg;
    config_defaults(&cfg);
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, &CLI_NO_OPTS, NULL, &cfg, NULL, pos, &npos, 0);
    if (rc) return rc;
    registry_t *reg;
    char err[512];
    if (registry_create(env->backends, env->nbackends, &cfg, &reg, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    printf("%-24s %-10s %-8s %-12s %s\n", "ID", "SIZE", "QUALITY", "BACKGROUND", "DESCRIPTION");
    for (size_t i = 0; i < registry_count(reg); i++) {
        const model_profile_t *p = registry_profile(reg, i);
        printf("%-24s %-10s %-8s %-12s %s%s\n", p->id, api_size_name(p->default_size),
               api_quality_name(p->default_quality), api_background_name(p->default_background),
               p->description, p == registry_default(reg) ? " (default: gpt-image-1-mini)" : "");
    }
    registry_free(reg);
    return 0;
}

static int pick(const char *flag, const char *v, const char *const *names, int n, int *out) {
    for (int i = 0; i < n; i++)
        if (!strcmp(v, names[i])) {
            *out = i;
            return 0;
        }
    char list[160];
    fprintf(stderr, "imgapi: invalid --%s '%s' (expected %s)\n", flag, v,
            api_names_list(names, 0, n, list, sizeof list));
    return 2;
}

/* --server URL: the parameters go to a running server as they are (it validates them). */
static int generate_via_server(const char *prompt, const char *const *v) {
    const char *key = v[G_API_KEY]; /* or IMGAPI_API_KEY (the option table) */
    if (!v[G_SERVER]) {
        fprintf(stderr, "imgapi: --async needs --server URL\n");
        return 2;
    }
    if (!key || !*key) {
        fprintf(
            stderr,
            "imgapi: an API key (--api-key or IMGAPI_API_KEY) is needed for a remote generation\n");
        return 2;
    }
    json_t *body = json_pack("{s:s}", "prompt", prompt);
    static const char *const FIELDS[][2] = {{"size", "size"},
                                            {"quality", "quality"},
                                            {"output_format", "format"},
                                            {"background", "background"},
                                            {"negative_prompt", "negative-prompt"},
                                            {"moderation", "moderation"}};
    static const int IDX[] = {G_SIZE, G_QUALITY, G_FORMAT, G_BACKGROUND, G_NEGATIVE, G_MODERATION};
    for (int i = 0; i < 6 && body; i++)
        if (v[IDX[i]]) json_object_set_new(body, FIELDS[i][0], json_string(v[IDX[i]]));
    for (int i = 0; i < 2 && body; i++) { /* integers */
        const char *s = v[i ? G_COMPRESSION : G_SEED];
        char *end;
        long long x = s ? strtoll(s, &end, 10) : 0;
        if (s && (end == s || *end)) {
            fprintf(stderr, "imgapi: --%s must be an integer\n", i ? "compression" : "seed");
            json_decref(body);
            return 2;
        }
        if (s) json_object_set_new(body, i ? "output_compression" : "seed", json_integer(x));
    }
    if (!body) return 1;
    char def[64];
    snprintf(def, sizeof def, "imgapi-image.%s", v[G_FORMAT] ? v[G_FORMAT] : "png");
    remote_opts_t o = {.server = v[G_SERVER],
                       .key = key,
                       .model = v[G_MODEL] ? v[G_MODEL] : "gpt-image-1-mini",
                       .async = v[G_ASYNC] != NULL,
                       .poll_seconds = 0.5,
                       .body = body,
                       .out = v[G_OUT] ? v[G_OUT] : def};
    int rc = generate_remote(&o);
    json_decref(body);
    return rc;
}

int cmd_generate(int argc, char **argv, const cli_env_t *env) {
    config_t cfg;
    config_defaults(&cfg);
    const char *v[G_NOPTS];
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, &CLI_GENERATE_OPTS, NULL, &cfg, v, pos, &npos, 1);
    if (rc) return rc;
    if (npos != 1) return cli_usage_error("generate");
    if (v[G_SERVER] || v[G_ASYNC]) return generate_via_server(pos[0], v);
    int size = 0, quality = 0, format = 0, bg = 0, compression = 100;
    if ((v[G_SIZE] && (rc = pick("size", v[G_SIZE], API_SIZE_NAMES, SIZE_COUNT, &size))) ||
        (v[G_QUALITY] &&
         (rc = pick("quality", v[G_QUALITY], API_QUALITY_NAMES, QUALITY_COUNT, &quality))) ||
        (v[G_FORMAT] &&
         (rc = pick("format", v[G_FORMAT], API_FORMAT_NAMES, FORMAT_COUNT, &format))) ||
        (v[G_BACKGROUND] &&
         (rc = pick("background", v[G_BACKGROUND], API_BACKGROUND_NAMES, BACKGROUND_COUNT, &bg))))
        return rc;
    if (v[G_COMPRESSION]) compression = atoi(v[G_COMPRESSION]);
    if (compression < 0 || compression > 100) {
        fprintf(stderr, "imgapi: --compression must be 0..100\n");
        return 2;
    }
    uint32_t seed;
    if (v[G_SEED]) {
        char *end;
        unsigned long long s = strtoull(v[G_SEED], &end, 10);
        if (*end || end == v[G_SEED] || s > 4294967295ULL) {
            fprintf(stderr, "imgapi: --seed must be an integer from 0 to 4294967295\n");
            return 2;
        }
        seed = (uint32_t)s;
    } else if (crypto_random(&seed, sizeof seed)) {
        seed = (uint32_t)clock_wall();
    }

    char err[512];
    if (v[G_MODERATION] && api_moderation_parse(v[G_MODERATION]) < 0) {
        fprintf(stderr, "imgapi: --moderation must be auto or low\n");
        return 2;
    }
    moderation_t *mod;
    if (mod_load_configured(&cfg, &mod, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    mod_result_t mr;
    rc = mod_check(mod, pos[0],
                   v[G_MODERATION] && api_moderation_parse(v[G_MODERATION]) == MODERATION_LOW
                       ? MOD_LEVEL_LOW
                       : MOD_LEVEL_AUTO,
                   &mr);
    mod_free(mod);
    if (rc || mr.refused) {
        fprintf(stderr, "imgapi: the prompt was refused by moderation (category: %s)\n",
                rc ? "error" : mr.category);
        return 1;
    }
    registry_t *reg;
    if (registry_create(env->backends, env->nbackends, &cfg, &reg, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    const model_profile_t *m = registry_find(reg, v[G_MODEL] ? v[G_MODEL] : REGISTRY_ALIAS);
    if (!m) {
        fprintf(stderr, "imgapi: model '%s' is not installed\n", v[G_MODEL]);
        registry_free(reg);
        return 1;
    }
    if (bg == BACKGROUND_TRANSPARENT && format == FORMAT_JPEG) {
        fprintf(stderr, "imgapi: a transparent background needs --format png or webp\n");
        registry_free(reg);
        return 2;
    }
    job_spec_t spec = {
        .prompt = pos[0],
        .negative_prompt = v[G_NEGATIVE] ? v[G_NEGATIVE] : "",
        .quality = quality ? (api_quality_t)quality : m->default_quality,
        .background = bg ? (api_background_t)bg : m->default_background,
        .format = (api_format_t)format,
        .compression = compression,
        .n = 1,
        .seed = seed,
        .deadline = clock_mono() + 86400.0,
        .previews = v[G_PREVIEWS] != NULL,
    };
    if (spec.background == BACKGROUND_TRANSPARENT && format == FORMAT_JPEG)
        spec.background = BACKGROUND_OPAQUE;
    snprintf(spec.model_id, sizeof spec.model_id, "%s", m->id);
    api_size_dims(size ? (api_size_t)size : m->default_size, &spec.width, &spec.height);

    queue_t *q = NULL;
    job_t *job = NULL;
    rc = queue_create(reg, 1, 1, &q);
    if (!rc) rc = job_create(&spec, "cli", &job);
    if (!rc) rc = queue_submit(q, job);
    if (rc) {
        fprintf(stderr, "imgapi: cannot start the generation: %s\n", img_status_str(rc));
        job_release(job);
        queue_free(q);
        registry_free(reg);
        return 1;
    }
    job_state_t st = cli_wait_job(job, v[G_PREVIEWS]);
    int status = 0;
    if (st == JOB_DONE) {
        int n;
        const job_image_t *img = job_images(job, &n);
        char def[64];
        snprintf(def, sizeof def, "imgapi-%u.%s", seed, API_FORMAT_NAMES[format]);
        const char *path = v[G_OUT] ? v[G_OUT] : def;
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(img[0].data, 1, img[0].len, f) != img[0].len) {
            fprintf(stderr, "imgapi: cannot write %s\n", path);
            status = 1;
        } else {
            printf("%s\n", path);
        }
        if (f && fclose(f)) status = 1;
    } else {
        const char *msg;
        job_error(job, &msg);
        fprintf(stderr, "imgapi: generation failed: %s\n", msg);
        status = 1;
    }
    job_release(job);
    queue_free(q);
    registry_free(reg);
    return status;
}
