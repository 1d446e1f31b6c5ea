/* cmd_edit.c - `imgapi edit IMAGE... "PROMPT" [--mask PNG] [-o FILE] [--strength S] [--size S]
 * [--quality Q] [--seed N] [--model M]`: one edit without a server (SPEC §9, §11). The mask is
 * OpenAI's: a PNG with an alpha channel, the first image's size, alpha 0 where the model repaints;
 * it is turned into the engine's convention (1 = repaint) here, once. */
#include "api/params.h"
#include "cli/cli.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/status.h"
#include "moderation/load.h"
#include "queue/queue.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EDIT_MAX_FILE (50L * 1024 * 1024)

/* Reads a whole file (at most EDIT_MAX_FILE bytes) into *data (malloc'd). */
static int read_file(const char *path, uint8_t **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return IMG_EIO;
    int rc = IMG_OK;
    long n = fseek(f, 0, SEEK_END) ? -1 : ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET))
        rc = IMG_EIO;
    else if (n > EDIT_MAX_FILE)
        rc = IMG_ERANGE;
    else if (!(*data = malloc((size_t)n + 1)))
        rc = IMG_ENOMEM;
    else if (fread(*data, 1, (size_t)n, f) != (size_t)n)
        rc = IMG_EIO;
    if (rc == IMG_EIO && *data) {
        free(*data);
        *data = NULL;
    }
    fclose(f);
    *len = (size_t)(n > 0 ? n : 0);
    return rc;
}

/* Decodes an image file, with a one-line reason on failure. */
static int load_image(const char *path, img_t *im, int *alpha) {
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = read_file(path, &data, &len);
    if (!rc) rc = img_decode(data, len, API_EDIT_MAX_PIXELS, im, alpha);
    free(data);
    if (rc == IMG_EIO)
        fprintf(stderr, "imgapi: cannot read %s\n", path);
    else if (rc == IMG_ERANGE)
        fprintf(stderr, "imgapi: %s is over the limits (50 MB, 64 megapixels)\n", path);
    else if (rc == IMG_EFORMAT)
        fprintf(stderr, "imgapi: %s is not a PNG, JPEG or WebP image, or is truncated\n", path);
    else if (rc)
        fprintf(stderr, "imgapi: cannot decode %s: %s\n", path, img_status_str(rc));
    return rc;
}

int cmd_edit(int argc, char **argv, const cli_env_t *env) {
    config_t cfg;
    config_defaults(&cfg);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-o")) argv[i] = "--out";
    static const char *const extra[] = {"out",        "mask",           "strength", "size",
                                        "quality",    "seed",           "model",    "format",
                                        "moderation", "negative-prompt"};
    const char *v[10] = {0};
    const char *pos[17];
    int npos;
    int rc = cli_parse_common(argc, argv, &cfg, pos, &npos, 17, extra, v, 10);
    if (rc) return rc;
    if (npos < 2) {
        fprintf(stderr,
                "usage: imgapi edit IMAGE... \"PROMPT\" [--mask PNG] [-o FILE] [--strength S] "
                "[--size S] [--quality Q] [--seed N] [--model M] [--format F]\n");
        return 2;
    }
    int nimages = npos - 1;
    const char *prompt = pos[npos - 1];
    if (nimages > 16) {
        fprintf(stderr, "imgapi: at most 16 images can be edited together\n");
        return 2;
    }
    float strength = 0.75f; /* input_fidelity low (SPEC §11) */
    if (v[2]) {
        char *end;
        double s = strtod(v[2], &end);
        if (end == v[2] || *end || !(s > 0 && s <= 1)) {
            fprintf(stderr, "imgapi: --strength must be a number above 0 and at most 1\n");
            return 2;
        }
        strength = (float)s;
    }
    int size = v[3] ? api_size_parse(v[3]) : 0, quality = v[4] ? api_quality_parse(v[4]) : 0;
    int format = FORMAT_PNG;
    if (v[7]) {
        static const char *const F[] = {"png", "jpeg", "webp"};
        format = -1;
        for (int i = 0; i < 3; i++)
            if (!strcmp(v[7], F[i])) format = i;
    }
    if (size < 0 || quality < 0 || format < 0) {
        fprintf(stderr, "imgapi: unknown %s\n",
                size < 0      ? "--size"
                : quality < 0 ? "--quality"
                              : "--format");
        return 2;
    }
    uint32_t seed = 0;
    if (v[5]) {
        char *end;
        unsigned long long sv = strtoull(v[5], &end, 10);
        if (end == v[5] || *end || sv > 4294967295ULL) {
            fprintf(stderr, "imgapi: --seed must be an integer from 0 to 4294967295\n");
            return 2;
        }
        seed = (uint32_t)sv;
    } else if (crypto_random(&seed, sizeof seed)) {
        seed = (uint32_t)clock_wall();
    }
    if (v[8] && strcmp(v[8], "auto") && strcmp(v[8], "low")) {
        fprintf(stderr, "imgapi: --moderation must be auto or low\n");
        return 2;
    }
    char err[512];
    moderation_t *mod;
    if (mod_load_configured(&cfg, &mod, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    mod_result_t mr;
    rc = mod_check(mod, prompt, v[8] && !strcmp(v[8], "low") ? MOD_LEVEL_LOW : MOD_LEVEL_AUTO, &mr);
    mod_free(mod);
    if (rc || mr.refused) {
        fprintf(stderr, "imgapi: the prompt was refused by moderation (category: %s)\n",
                rc ? "error" : mr.category);
        return 1;
    }
    img_t image = {0}, maskimg = {0};
    uint8_t *mask = NULL;
    int status = 1, alpha = 0;
    registry_t *reg = NULL;
    queue_t *q = NULL;
    job_t *job = NULL;
    if (load_image(pos[0], &image, NULL)) goto out;
    for (int i = 1; i < nimages; i++) { /* every image must be one, even when the model takes 1 */
        img_t other;
        if (load_image(pos[i], &other, NULL)) goto out;
        img_free(&other);
    }
    if (v[1]) {
        if (load_image(v[1], &maskimg, &alpha)) goto out;
        if (!alpha) {
            fprintf(stderr,
                    "imgapi: the mask %s has no alpha channel (alpha 0 marks what to repaint)\n",
                    v[1]);
            goto out;
        }
        if (maskimg.width != image.width || maskimg.height != image.height) {
            fprintf(stderr, "imgapi: the mask is %dx%d; it must be the image's size, %dx%d\n",
                    maskimg.width, maskimg.height, image.width, image.height);
            goto out;
        }
        if (img_mask_from_alpha(&maskimg, &mask)) goto out;
    }
    if (registry_create(env->backends, env->nbackends, &cfg, &reg, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        goto out;
    }
    const model_profile_t *m = registry_find(reg, v[6] ? v[6] : REGISTRY_ALIAS);
    if (!m) {
        fprintf(stderr, "imgapi: model '%s' is not installed\n", v[6]);
        goto out;
    }
    if (nimages > 1) {
        fprintf(stderr, "imgapi: model '%s' takes 1 input image, got %d\n", m->id, nimages);
        status = 2;
        goto out;
    }
    job_spec_t spec = {
        .prompt = prompt,
        .negative_prompt = v[9] ? v[9] : "",
        .quality = quality ? (api_quality_t)quality : m->default_quality,
        .background = BACKGROUND_OPAQUE,
        .format = (api_format_t)format,
        .compression = 100,
        .n = 1,
        .seed = seed,
        .deadline = clock_mono() + 86400.0,
        .init_image = &image,
        .mask = mask,
        .strength = strength,
    };
    snprintf(spec.model_id, sizeof spec.model_id, "%s", m->id);
    api_size_dims(size ? (api_size_t)size : api_size_for_aspect(image.width, image.height),
                  &spec.width, &spec.height);
    rc = queue_create(reg, 1, 1, &q);
    if (!rc) rc = job_create(&spec, "cli", &job);
    if (!rc) rc = queue_submit(q, job);
    if (rc) {
        fprintf(stderr, "imgapi: cannot start the edit: %s\n", img_status_str(rc));
        goto out;
    }
    if (cli_wait_job(job, NULL) == JOB_DONE) {
        int n;
        const job_image_t *out = job_images(job, &n);
        static const char *const EXT[] = {"png", "jpeg", "webp"};
        char def[64];
        snprintf(def, sizeof def, "imgapi-edit-%u.%s", seed, EXT[format]);
        const char *path = v[0] ? v[0] : def;
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(out[0].data, 1, out[0].len, f) != out[0].len) {
            fprintf(stderr, "imgapi: cannot write %s\n", path);
        } else {
            printf("%s\n", path);
            status = 0;
        }
        if (f && fclose(f)) status = 1;
    } else {
        const char *msg;
        int e = job_error(job, &msg);
        fprintf(stderr, "imgapi: edit failed: %s\n",
                e == IMG_EUNSUPPORTED ? "this model cannot edit images (it has no image encoder)"
                                      : msg);
    }
out:
    job_release(job);
    queue_free(q);
    registry_free(reg);
    img_free(&image);
    img_free(&maskimg);
    free(mask);
    return status;
}
