/* cmd_edit.c - `imgapi edit IMAGE... "PROMPT" [--mask PNG] [-o FILE] [--strength S] [--size S]
 * [--quality Q] [--seed N] [--model M]`: one edit without a server (SPEC §9, §11), or with
 * --server URL a client of a running one (the JSON edit of /v1/{model}, or /v2/{model} with
 * --async). The mask is OpenAI's: a PNG with an alpha channel, the first image's size, alpha 0
 * where the model repaints; locally it is turned into the engine's convention (1 = repaint)
 * here, once; a server is sent the file as it is. */
#include "api/params.h"
#include "cli/cli.h"
#include "cli/generate_remote.h"
#include "common/base64.h"
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

/* A file's bytes as base64 into obj[field] (or appended to the array obj when field is NULL). */
static int add_file_b64(json_t *obj, const char *field, const char *path) {
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = read_file(path, &data, &len);
    if (rc) {
        fprintf(stderr, "imgapi: %s %s\n", rc == IMG_ERANGE ? "over 50 MB:" : "cannot read", path);
        free(data);
        return -1;
    }
    char *text = malloc(b64_encoded_len(len) + 1); /* owned here until handed to jansson */
    if (text) b64_encode(data, len, text);
    free(data);
    json_t *s = text ? json_string(text) : NULL;
    free(text);
    if (!s || (field ? json_object_set_new(obj, field, s) : json_array_append_new(obj, s))) {
        fprintf(stderr, "imgapi: out of memory\n");
        return -1;
    }
    return 0;
}

/* --server URL: the images go as base64 in the seed route's JSON edit; the server validates
 * everything else. v: the parsed options (see cmd_edit). */
static int edit_via_server(const char *const *pos, int nimages, const char *prompt,
                           const char *const *v) {
    const char *key = v[11] ? v[11] : getenv("IMGAPI_API_KEY");
    if (!key || !*key) {
        fprintf(stderr,
                "imgapi: an API key (--api-key or IMGAPI_API_KEY) is needed for a remote edit\n");
        return 2;
    }
    json_t *body = json_pack("{s:s}", "prompt", prompt), *images = json_array();
    int bad = !body || !images;
    for (int i = 0; i < nimages && !bad; i++)
        bad = add_file_b64(images, NULL, pos[i]);
    if (!bad) {
        if (nimages == 1)
            bad = json_object_set(body, "image", json_array_get(images, 0));
        else
            bad = json_object_set(body, "images", images);
    }
    if (!bad && v[1]) bad = add_file_b64(body, "mask", v[1]);
    static const char *const TEXT[][2] = {{"size", "size"},
                                          {"quality", "quality"},
                                          {"output_format", "format"},
                                          {"moderation", "moderation"},
                                          {"negative_prompt", "negative-prompt"}};
    static const int IDX[] = {3, 4, 7, 8, 9};
    for (int i = 0; i < 5 && !bad; i++)
        if (v[IDX[i]]) bad = json_object_set_new(body, TEXT[i][0], json_string(v[IDX[i]]));
    /* numbers as numbers (their ranges are the server's to check) */
    char *end;
    long long seed = v[5] ? strtoll(v[5], &end, 10) : 0;
    int usage = v[5] && (end == v[5] || *end);
    double strength = v[2] ? strtod(v[2], &end) : 0;
    usage = usage || (v[2] && (end == v[2] || *end));
    if (usage) fprintf(stderr, "imgapi: --seed must be an integer and --strength a number\n");
    if (!bad && !usage && v[5]) bad = json_object_set_new(body, "seed", json_integer(seed));
    if (!bad && !usage && v[2]) bad = json_object_set_new(body, "strength", json_real(strength));
    bad = bad || usage;
    int rc = usage ? 2 : 1;
    if (!bad) {
        static const char *const EXT[] = {"png", "jpeg", "webp"};
        char def[64];
        snprintf(def, sizeof def, "imgapi-edit.%s", v[7] ? v[7] : EXT[0]);
        remote_opts_t o = {.server = v[10],
                           .key = key,
                           .model = v[6] ? v[6] : "gpt-image-1-mini",
                           .async = v[12] && strcmp(v[12], "0") != 0,
                           .poll_seconds = 0.5,
                           .body = body,
                           .out = v[0] ? v[0] : def};
        rc = generate_remote(&o);
    }
    json_decref(images);
    json_decref(body);
    return rc;
}

int cmd_edit(int argc, char **argv, const cli_env_t *env) {
    config_t cfg;
    config_defaults(&cfg);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o")) argv[i] = "--out";
        if (!strcmp(argv[i], "--async")) argv[i] = "--async=1";
    }
    static const char *const extra[] = {
        "out",    "mask",       "strength",        "size",   "quality", "seed", "model",
        "format", "moderation", "negative-prompt", "server", "api-key", "async"};
    const char *v[13] = {0};
    const char *pos[17];
    int npos;
    int rc = cli_parse_common(argc, argv, &cfg, pos, &npos, 17, extra, v, 13);
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
    if (v[10]) return edit_via_server(pos, nimages, prompt, v);
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
    int format = v[7] ? api_format_parse(v[7]) : FORMAT_PNG;
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
    if (v[8] && api_moderation_parse(v[8]) < 0) {
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
    rc = mod_check(
        mod, prompt,
        v[8] && api_moderation_parse(v[8]) == MODERATION_LOW ? MOD_LEVEL_LOW : MOD_LEVEL_AUTO, &mr);
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
