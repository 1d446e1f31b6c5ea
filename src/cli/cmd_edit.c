/* cmd_edit.c - `imgapi edit IMAGE... "PROMPT" [--mask PNG] [-o FILE] [--strength S] [--size S]
 * [--quality Q] [--seed N] [--model M]`: one edit without a server (SPEC §9, §11), or with
 * --server URL a client of a running one (the JSON edit of /v1/{model}, or /v2/{model} with
 * --async). The mask is OpenAI's: a PNG with an alpha channel, the first image's size, alpha 0
 * where the model repaints; locally it is turned into the engine's convention (1 = repaint)
 * here, once; a server is sent the file as it is. */
#include "api/params.h"
#include "api/request.h"
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

/* The options of `imgapi edit`, in the order of their enum. */
enum {
    E_OUT,
    E_MASK,
    E_STRENGTH,
    E_SIZE,
    E_QUALITY,
    E_SEED,
    E_MODEL,
    E_FORMAT,
    E_MODERATION,
    E_NEGATIVE,
    E_SERVER,
    E_API_KEY,
    E_ASYNC,
    E_NOPTS
};
static const cli_opt_t EDIT_OPTS[E_NOPTS] = {
    {"out", 'o', "FILE", NULL, NULL, NULL,
     "where to write the image (default imgapi-edit-SEED.FORMAT)"},
    {"mask", 0, "PNG", NULL, NULL, NULL, "alpha 0 marks what to repaint (the first image's size)"},
    {"strength", 0, "S", NULL, NULL, NULL, "(0, 1]: how far from the input (default 0.75)"},
    {"size", 0, "S", NULL, NULL, NULL,
     "1024x1024, 1536x1024, 1024x1536 or auto (the input's aspect)"},
    {"quality", 0, "Q", NULL, NULL, NULL, "low, medium, high or auto"},
    {"seed", 0, "N", NULL, NULL, NULL, "0 to 4294967295 (default: random)"},
    {"model", 0, "M", NULL, NULL, "default_model", "a model id of 'imgapi models'"},
    {"format", 0, "F", NULL, NULL, NULL, "png, jpeg or webp"},
    {"moderation", 0, "auto|low", NULL, NULL, NULL, "how strictly the prompt is checked"},
    {"negative-prompt", 0, "P", NULL, NULL, NULL, "what the image should not show"},
    {"server", 0, "URL", NULL, NULL, NULL,
     "edit on a running server (the JSON edit of /v1/{model}, or /v2 with --async)"},
    {"api-key", 0, "KEY", NULL, "IMGAPI_API_KEY", NULL, "the server's API key"},
    {"async", 0, NULL, NULL, NULL, NULL, "with --server: submit to /v2 and poll for the result"},
};
const cli_opts_t CLI_EDIT_OPTS = {EDIT_OPTS, E_NOPTS};

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
    const char *key = v[E_API_KEY]; /* or IMGAPI_API_KEY (the option table) */
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
    if (!bad && v[E_MASK]) bad = add_file_b64(body, "mask", v[E_MASK]);
    static const char *const TEXT[][2] = {{"size", "size"},
                                          {"quality", "quality"},
                                          {"output_format", "format"},
                                          {"moderation", "moderation"},
                                          {"negative_prompt", "negative-prompt"}};
    static const int IDX[] = {E_SIZE, E_QUALITY, E_FORMAT, E_MODERATION, E_NEGATIVE};
    for (int i = 0; i < 5 && !bad; i++)
        if (v[IDX[i]]) bad = json_object_set_new(body, TEXT[i][0], json_string(v[IDX[i]]));
    /* numbers as numbers (their ranges are the server's to check) */
    char *end;
    long long seed = v[E_SEED] ? strtoll(v[E_SEED], &end, 10) : 0;
    int usage = v[E_SEED] && (end == v[E_SEED] || *end);
    double strength = v[E_STRENGTH] ? strtod(v[E_STRENGTH], &end) : 0;
    usage = usage || (v[E_STRENGTH] && (end == v[E_STRENGTH] || *end));
    if (usage) fprintf(stderr, "imgapi: --seed must be an integer and --strength a number\n");
    if (!bad && !usage && v[E_SEED]) bad = json_object_set_new(body, "seed", json_integer(seed));
    if (!bad && !usage && v[E_STRENGTH])
        bad = json_object_set_new(body, "strength", json_real(strength));
    bad = bad || usage;
    int rc = usage ? 2 : 1;
    if (!bad) {
        static const char *const EXT[] = {"png", "jpeg", "webp"};
        char def[64];
        snprintf(def, sizeof def, "imgapi-edit.%s", v[E_FORMAT] ? v[E_FORMAT] : EXT[0]);
        remote_opts_t o = {.server = v[E_SERVER],
                           .key = key,
                           .model = v[E_MODEL] ? v[E_MODEL] : "gpt-image-1-mini",
                           .async = v[E_ASYNC] != NULL,
                           .poll_seconds = 0.5,
                           .body = body,
                           .out = v[E_OUT] ? v[E_OUT] : def};
        rc = generate_remote(&o);
    }
    json_decref(images);
    json_decref(body);
    return rc;
}

int cmd_edit(int argc, char **argv, const cli_env_t *env) {
    config_t cfg;
    config_defaults(&cfg);
    const char *v[E_NOPTS];
    const char *pos[17];
    int npos;
    int rc = cli_parse(argc, argv, &CLI_EDIT_OPTS, NULL, &cfg, v, pos, &npos, 17);
    if (rc) return rc;
    if (npos < 2) return cli_usage_error("edit");
    int nimages = npos - 1;
    const char *prompt = pos[npos - 1];
    if (nimages > API_MAX_INPUT_IMAGES) {
        fprintf(stderr, "imgapi: at most %d images can be edited together\n", API_MAX_INPUT_IMAGES);
        return 2;
    }
    if (v[E_ASYNC] && !v[E_SERVER]) {
        fprintf(stderr, "imgapi: --async needs --server URL\n");
        return 2;
    }
    if (v[E_SERVER]) return edit_via_server(pos, nimages, prompt, v);
    float strength = 0.75f; /* input_fidelity low (SPEC §11) */
    if (v[E_STRENGTH]) {
        char *end;
        double s = strtod(v[E_STRENGTH], &end);
        if (end == v[E_STRENGTH] || *end || !(s > 0 && s <= 1)) {
            fprintf(stderr, "imgapi: --strength must be a number above 0 and at most 1\n");
            return 2;
        }
        strength = (float)s;
    }
    int size = v[E_SIZE] ? api_size_parse(v[E_SIZE]) : 0,
        quality = v[E_QUALITY] ? api_quality_parse(v[E_QUALITY]) : 0;
    int format = v[E_FORMAT] ? api_format_parse(v[E_FORMAT]) : FORMAT_PNG;
    if (size < 0 || quality < 0 || format < 0) {
        fprintf(stderr, "imgapi: unknown %s\n",
                size < 0      ? "--size"
                : quality < 0 ? "--quality"
                              : "--format");
        return 2;
    }
    uint32_t seed = 0;
    if (v[E_SEED]) {
        char *end;
        unsigned long long sv = strtoull(v[E_SEED], &end, 10);
        if (end == v[E_SEED] || *end || sv > 4294967295ULL) {
            fprintf(stderr, "imgapi: --seed must be an integer from 0 to 4294967295\n");
            return 2;
        }
        seed = (uint32_t)sv;
    } else if (crypto_random(&seed, sizeof seed)) {
        seed = (uint32_t)clock_wall();
    }
    if (v[E_MODERATION] && api_moderation_parse(v[E_MODERATION]) < 0) {
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
    rc = mod_check(mod, prompt,
                   v[E_MODERATION] && api_moderation_parse(v[E_MODERATION]) == MODERATION_LOW
                       ? MOD_LEVEL_LOW
                       : MOD_LEVEL_AUTO,
                   &mr);
    mod_free(mod);
    if (rc || mr.refused) {
        fprintf(stderr, "imgapi: the prompt was refused by moderation (category: %s)\n",
                rc ? "error" : mr.category);
        return 1;
    }
    img_t image = {0}, maskimg = {0},
          more[API_MAX_INPUT_IMAGES - 1] = {{0}}; /* the other input images */
    uint8_t *mask = NULL;
    int status = 1, alpha = 0;
    registry_t *reg = NULL;
    queue_t *q = NULL;
    job_t *job = NULL;
    if (load_image(pos[0], &image, NULL)) goto out;
    for (int i = 1; i < nimages; i++) /* every image must be one, even when the model takes 1 */
        if (load_image(pos[i], &more[i - 1], NULL)) goto out;
    if (v[E_MASK]) {
        if (load_image(v[E_MASK], &maskimg, &alpha)) goto out;
        if (!alpha) {
            fprintf(stderr,
                    "imgapi: the mask %s has no alpha channel (alpha 0 marks what to repaint)\n",
                    v[E_MASK]);
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
    const model_profile_t *m = registry_find(reg, v[E_MODEL] ? v[E_MODEL] : REGISTRY_ALIAS);
    if (!m) {
        fprintf(stderr, "imgapi: model '%s' is not installed\n", v[E_MODEL]);
        goto out;
    }
    if (m->can_edit && nimages > m->max_input_images) { /* one that cannot edit says so below */
        fprintf(stderr, "imgapi: model '%s' takes %d input image%s, got %d\n", m->id, m->max_input_images,
                m->max_input_images == 1 ? "" : "s", nimages);
        status = 2;
        goto out;
    }
    job_spec_t spec = {
        .prompt = prompt,
        .negative_prompt = v[E_NEGATIVE] ? v[E_NEGATIVE] : "",
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
        .more_images = nimages > 1 ? more : NULL,
        .nmore = nimages - 1,
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
        const char *path = v[E_OUT] ? v[E_OUT] : def;
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
    for (int i = 0; i < API_MAX_INPUT_IMAGES - 1; i++)
        img_free(&more[i]);
    img_free(&maskimg);
    free(mask);
    return status;
}
