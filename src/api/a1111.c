/* a1111.c - AUTOMATIC1111 request and answer shapes (a1111.h). The field names and defaults
 * are those of A1111's StableDiffusionTxt2ImgProcessingAPI model, as its clients send them. */
#include "api/a1111.h"
#include "api/json_body.h"
#include "common/base64.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const A1111_SAMPLERS[] = {"Automatic", "Euler", "Euler a", "DPM++ 2M", "LCM"};
const char *const A1111_SCHEDULERS[] = {"automatic", "uniform", "karras", "sgm_uniform"};
const char *const A1111_SCHEDULER_LABELS[] = {"Automatic", "Uniform", "Karras", "SGM Uniform"};

/* Sampler names as clients write them: A1111's, its older "k_" and diffusers-like spellings,
 * and the combined "DPM++ 2M Karras" of A1111 before 1.9 (sampler and schedule in one). */
static const struct {
    const char *name;
    api_sampler_t sampler;
    api_schedule_t schedule;
} SAMPLER_ALIASES[] = {
    {"euler", API_SAMPLER_EULER, 0},          {"k_euler", API_SAMPLER_EULER, 0},
    {"euler a", API_SAMPLER_EULER_A, 0},      {"euler_a", API_SAMPLER_EULER_A, 0},
    {"k_euler_a", API_SAMPLER_EULER_A, 0},    {"k_euler_ancestral", API_SAMPLER_EULER_A, 0},
    {"dpm++ 2m", API_SAMPLER_DPMPP_2M, 0},    {"dpmpp_2m", API_SAMPLER_DPMPP_2M, 0},
    {"k_dpmpp_2m", API_SAMPLER_DPMPP_2M, 0},  {"dpm++ 2m karras", API_SAMPLER_DPMPP_2M, API_SCHEDULE_KARRAS},
    {"lcm", API_SAMPLER_LCM, 0},              {"automatic", API_SAMPLER_DEFAULT, 0},
};

static int name_eq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if ((*a | 0x20) != (*b | 0x20)) return 0;
    return !*a && !*b;
}

/* The sampler of a name (case-insensitive); -1 when unknown. */
static int sampler_of(const char *name, api_schedule_t *schedule) {
    for (size_t i = 0; i < sizeof SAMPLER_ALIASES / sizeof SAMPLER_ALIASES[0]; i++)
        if (name_eq(name, SAMPLER_ALIASES[i].name)) {
            *schedule = SAMPLER_ALIASES[i].schedule;
            return (int)SAMPLER_ALIASES[i].sampler;
        }
    return -1;
}

static int schedule_of(const char *name) {
    for (int i = 0; i < A1111_NSCHEDULERS; i++)
        if (name_eq(name, A1111_SCHEDULERS[i]) || name_eq(name, A1111_SCHEDULER_LABELS[i])) return i;
    return -1;
}

static int bad_type(const char *field, const char *want, const json_t *v, api_error_t *err) {
    api_error_set(err, 400, "invalid_type", field, "Invalid type for '%s': expected %s, got %s.", field, want,
                  api_json_kind(v));
    return -1;
}

/* An integer field in [lo, hi] (absent or null: *out keeps its default). */
static int get_int(json_t *root, const char *field, json_int_t lo, json_int_t hi, json_int_t *out,
                   api_error_t *err) {
    json_t *v = json_object_get(root, field);
    if (!v || json_is_null(v)) return 0;
    if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) && fabs(json_real_value(v)) < 1e15)
        *out = (json_int_t)json_real_value(v); /* 20.0 from a client that writes floats */
    else if (json_is_integer(v))
        *out = json_integer_value(v);
    else
        return bad_type(field, "an integer", v, err);
    if (*out < lo || *out > hi) {
        api_error_set(err, 400, "invalid_value", field, "Invalid value for '%s': expected an integer from %lld to %lld.",
                      field, (long long)lo, (long long)hi);
        return -1;
    }
    return 0;
}

static int get_num(json_t *root, const char *field, double lo, double hi, double *out, api_error_t *err) {
    json_t *v = json_object_get(root, field);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return bad_type(field, "a number", v, err);
    *out = json_number_value(v);
    if (!(*out >= lo && *out <= hi)) {
        api_error_set(err, 400, "invalid_value", field, "Invalid value for '%s': expected a number from %g to %g.",
                      field, lo, hi);
        return -1;
    }
    return 0;
}

/* A string field, or NULL when absent or null; a 400 (rc -1) when of another type. */
static int get_str(json_t *root, const char *field, const char **out, api_error_t *err) {
    json_t *v = json_object_get(root, field);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return bad_type(field, "a string", v, err);
    if (memchr(json_string_value(v), 0, json_string_length(v))) {
        api_error_set(err, 400, "invalid_value", field, "'%s' must not contain NUL characters.", field);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int unsupported(const char *field, const char *what, api_error_t *err) {
    api_error_set(err, 400, "unsupported_value", field, "'%s' is not supported by this server (%s).", field, what);
    return -1;
}

/* Fields the API takes that this server cannot honour: their defaults pass, anything else is a
 * 400 naming the field. */
static int refuse_unsupported(json_t *root, api_error_t *err) {
    static const char *const FALSE_BOOLS[] = {"enable_hr", "restore_faces", "tiling"};
    for (size_t i = 0; i < sizeof FALSE_BOOLS / sizeof FALSE_BOOLS[0]; i++) {
        json_t *v = json_object_get(root, FALSE_BOOLS[i]);
        if (v && !json_is_null(v) && !json_is_false(v))
            return unsupported(FALSE_BOOLS[i], "only false", err);
    }
    json_t *v = json_object_get(root, "styles");
    if (v && !json_is_null(v) && !(json_is_array(v) && json_array_size(v) == 0))
        return unsupported("styles", "saved styles do not exist here; put their text in the prompt", err);
    v = json_object_get(root, "script_name");
    if (v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0))
        return unsupported("script_name", "no scripts", err);
    v = json_object_get(root, "alwayson_scripts");
    if (v && !json_is_null(v) && !(json_is_object(v) && json_object_size(v) == 0))
        return unsupported("alwayson_scripts", "no scripts", err);
    v = json_object_get(root, "subseed_strength");
    if (v && !json_is_null(v) && !(json_is_number(v) && json_number_value(v) == 0))
        return unsupported("subseed_strength", "only 0: variation seeds are not supported", err);
    return 0;
}

/* override_settings: the model by sd_model_checkpoint; other settings are refused, since
 * ignoring them would answer something else than asked. */
static int overrides(json_t *root, a1111_extra_t *x, api_error_t *err) {
    json_t *o = json_object_get(root, "override_settings"), *v;
    const char *key;
    if (!o || json_is_null(o)) return 0;
    if (!json_is_object(o)) return bad_type("override_settings", "an object", o, err);
    json_object_foreach(o, key, v) {
        if (!strcmp(key, "sd_model_checkpoint")) {
            if (!json_is_string(v) || json_string_length(v) >= sizeof x->model || json_string_length(v) == 0) {
                api_error_set(err, 400, "invalid_value", "override_settings.sd_model_checkpoint",
                              "'sd_model_checkpoint' must be a model's name (GET /sdapi/v1/sd-models).");
                return -1;
            }
            snprintf(x->model, sizeof x->model, "%s", json_string_value(v));
        } else {
            api_error_set(err, 400, "unsupported_value", "override_settings",
                          "Setting '%.64s' cannot be overridden here; only 'sd_model_checkpoint'.", key);
            return -1;
        }
    }
    return 0;
}

static int parse_fields(json_t *root, api_request_t *q, a1111_extra_t *x, api_error_t *err) {
    if (refuse_unsupported(root, err) || overrides(root, x, err)) return -1;
    json_t *v = json_object_get(root, "prompt");
    if (v && !json_is_null(v) && !json_is_string(v)) return bad_type("prompt", "a string", v, err);
    if (v && json_is_string(v) && api_check_text("prompt", v, 0, err)) return -1;
    q->prompt = strdup(v && json_is_string(v) ? json_string_value(v) : "");
    v = json_object_get(root, "negative_prompt");
    if (v && !json_is_null(v) && !json_is_string(v)) return bad_type("negative_prompt", "a string", v, err);
    if (v && json_is_string(v) && api_check_text("negative_prompt", v, 0, err)) return -1;
    q->negative_prompt = strdup(v && json_is_string(v) ? json_string_value(v) : "");
    if (!q->prompt || !q->negative_prompt) {
        api_error_set(err, 500, "internal_error", NULL, "Out of memory.");
        return -1;
    }
    if (api_loras_from_prompt(q->prompt, q->loras, &q->nloras, err)) return -1;

    json_int_t seed = -1, width = 512, height = 512, steps = 0, batch = 1, iters = 1;
    double cfg = 0;
    if (get_int(root, "seed", -1, 4294967295LL, &seed, err) || get_int(root, "width", 64, 2048, &width, err) ||
        get_int(root, "height", 64, 2048, &height, err) || get_int(root, "steps", 1, 150, &steps, err) ||
        get_num(root, "cfg_scale", 1, 30, &cfg, err) || get_int(root, "batch_size", 1, API_MAX_N, &batch, err) ||
        get_int(root, "n_iter", 1, API_MAX_N, &iters, err))
        return -1;
    if (batch * iters > API_MAX_N) {
        api_error_set(err, 400, "invalid_value", "n_iter",
                      "batch_size x n_iter must be at most %d images; got %lld.", API_MAX_N, (long long)(batch * iters));
        return -1;
    }
    q->has_seed = seed >= 0;
    q->seed = (uint32_t)(seed >= 0 ? seed : 0);
    q->width = (int)width;
    q->height = (int)height;
    q->n = (int)(batch * iters);
    x->batch_size = (int)batch;
    x->n_iter = (int)iters;
    x->steps = (int)steps;
    x->cfg_scale = cfg;
    q->settings.steps = (int)steps;
    q->settings.guidance = (float)cfg;

    const char *sampler = NULL, *scheduler = NULL, *sampler_index = NULL;
    if (get_str(root, "sampler_name", &sampler, err) || get_str(root, "sampler_index", &sampler_index, err) ||
        get_str(root, "scheduler", &scheduler, err))
        return -1;
    if (!sampler || !*sampler) sampler = sampler_index; /* the older field */
    if (sampler && *sampler) {
        api_schedule_t sched = API_SCHEDULE_DEFAULT;
        int s = sampler_of(sampler, &sched);
        if (s < 0) {
            char known[160] = "";
            for (int i = 0; i < A1111_NSAMPLERS; i++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s'%s'", i ? ", " : "", A1111_SAMPLERS[i]);
            api_error_set(err, 400, "invalid_value", "sampler_name", "Unknown sampler '%.64s': this server has %s.",
                          sampler, known);
            return -1;
        }
        q->settings.sampler = (api_sampler_t)s;
        q->settings.schedule = sched;
    }
    if (scheduler && *scheduler) {
        int s = schedule_of(scheduler);
        if (s < 0) {
            api_error_set(err, 400, "invalid_value", "scheduler",
                          "Unknown scheduler '%.64s': this server has 'automatic', 'uniform', 'karras' and "
                          "'sgm_uniform'.",
                          scheduler);
            return -1;
        }
        if (s != API_SCHEDULE_DEFAULT) q->settings.schedule = (api_schedule_t)s;
    }
    json_t *send = json_object_get(root, "send_images");
    if (send && !json_is_null(send) && !json_is_boolean(send)) return bad_type("send_images", "a boolean", send, err);
    x->send_images = !send || !json_is_false(send);
    return 0;
}

void a1111_extra_free(a1111_extra_t *x) {
    free(x->mask);
    x->mask = NULL;
}

static int parse_img2img_fields(json_t *root, api_request_t *q, a1111_extra_t *x,
                                api_error_t *err) {
    if (parse_fields(root, q, x, err)) return -1;
    json_t *imgs = json_object_get(root, "init_images"), *v;
    if (!imgs || json_is_null(imgs)) {
        api_error_set(err, 400, "missing_required_parameter", "init_images",
                      "Missing required parameter: 'init_images'.");
        return -1;
    }
    if (!json_is_array(imgs)) return bad_type("init_images", "an array", imgs, err);
    size_t n = json_array_size(imgs);
    if (n == 0 || n > API_MAX_INPUT_IMAGES) {
        api_error_set(err, 400, "invalid_value", "init_images",
                      "'init_images' must hold 1 to %d images.", API_MAX_INPUT_IMAGES);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        v = json_array_get(imgs, i);
        if (!json_is_string(v)) return bad_type("init_images", "an array of strings", v, err);
        if (api_image_bytes("init_images", v, &q->image[i], &q->image_len[i], err)) return -1;
        q->nimages = (int)i + 1;
    }
    double strength = 0.75;
    json_int_t blur = 4, fill = 0, invert = 0, padding = 32, resize = 0;
    if (get_num(root, "denoising_strength", 0, 1, &strength, err) ||
        get_int(root, "mask_blur", 0, 64, &blur, err) ||
        get_int(root, "inpainting_fill", 0, 3, &fill, err) ||
        get_int(root, "inpainting_mask_invert", 0, 1, &invert, err) ||
        get_int(root, "inpaint_full_res_padding", 0, 256, &padding, err) ||
        get_int(root, "resize_mode", 0, 3, &resize, err))
        return -1;
    if (resize != 0) return unsupported("resize_mode", "only 0, just resize", err);
    if (fill >= 2)
        return unsupported("inpainting_fill", "0 (fill) and 1 (original); not the latent ones",
                           err);
    if (strength <= 0) {
        api_error_set(err, 400, "invalid_value", "denoising_strength",
                      "'denoising_strength' must be above 0.");
        return -1;
    }
    q->has_strength = true;
    q->strength = strength;
    x->mask_blur = (int)blur;
    x->fill = (int)fill;
    x->mask_invert = (int)invert;
    x->padding = (int)padding;
    json_t *fr = json_object_get(root, "inpaint_full_res");
    if (fr && !json_is_null(fr) && !json_is_boolean(fr) && !json_is_integer(fr))
        return bad_type("inpaint_full_res", "a boolean", fr, err);
    x->full_res = !fr || json_is_null(fr) ? 1
                  : json_is_boolean(fr)   ? json_is_true(fr)
                                          : json_integer_value(fr) != 0;
    json_t *m = json_object_get(root, "mask");
    if (m && !json_is_null(m)) {
        if (!json_is_string(m)) return bad_type("mask", "a string", m, err);
        if (api_image_bytes("mask", m, &x->mask, &x->mask_len, err)) return -1;
    }
    return 0;
}

/* Both routes' parse: A1111's defaults, the body, then the size class the price takes. */
static int parse(const char *body, size_t len, int img2img, api_request_t *out, a1111_extra_t *x,
                 api_error_t *err) {
    memset(out, 0, sizeof *out);
    memset(x, 0, sizeof *x);
    out->size = SIZE_1024x1024; /* the price's size class, set from width x height below */
    out->quality = QUALITY_HIGH;
    out->moderation = MODERATION_AUTO;
    out->background = BACKGROUND_OPAQUE;
    out->output_compression = 100;
    out->output_format = FORMAT_PNG;
    out->n = 1;
    json_t *root;
    if (api_json_body(body, len, !img2img, &root, err)) return -1; /* txt2img's body may be empty */
    int rc = img2img ? parse_img2img_fields(root, out, x, err) : parse_fields(root, out, x, err);
    json_decref(root);
    if (!rc) out->size = api_size_for_aspect(out->width, out->height);
    if (rc) {
        api_request_free(out);
        a1111_extra_free(x);
    }
    return rc;
}

int a1111_parse_txt2img(const char *body, size_t len, api_request_t *out, a1111_extra_t *x,
                        api_error_t *err) {
    return parse(body, len, 0, out, x, err);
}

int a1111_parse_img2img(const char *body, size_t len, api_request_t *out, a1111_extra_t *x,
                        api_error_t *err) {
    return parse(body, len, 1, out, x, err);
}

char *a1111_answer(const api_request_t *q, const a1111_extra_t *x, const char *model,
                   const uint8_t *const *images, const size_t *lens, const uint32_t *seeds, int n,
                   int steps, double cfg_scale, const char *sampler, const char *scheduler) {
    json_t *imgs = json_array(), *all_seeds = json_array(), *infotexts = json_array(),
           *prompts = json_array(), *negs = json_array();
    int ok = imgs && all_seeds && infotexts && prompts && negs;
    for (int i = 0; ok && i < n; i++) {
        if (x->send_images) {
            char *b = malloc(b64_encoded_len(lens[i]) + 1); /* freed below, once copied */
            if (!b) {
                ok = 0;
                break;
            }
            b64_encode(images[i], lens[i], b);
            ok = !json_array_append_new(imgs, json_string(b));
            free(b);
        }
        const char *label = scheduler;
        for (int k = 0; k < A1111_NSCHEDULERS; k++)
            if (!strcmp(scheduler, A1111_SCHEDULERS[k])) label = A1111_SCHEDULER_LABELS[k];
        /* the whole prompt, as A1111 writes it: never cut inside a character */
        const char *fmt = "%s%s%s\nSteps: %d, Sampler: %s, Schedule type: %s, CFG scale: %g, Seed: %u, Size: %dx%d, "
                          "Model: %s";
        const char *negl = q->negative_prompt[0] ? "\nNegative prompt: " : "";
        int need = snprintf(NULL, 0, fmt, q->prompt, negl, q->negative_prompt, steps, sampler, label, cfg_scale,
                            seeds[i], q->width, q->height, model);
        char *info = need >= 0 ? malloc((size_t)need + 1) : NULL; /* freed at the loop's end */
        if (!info) {
            ok = 0;
            break;
        }
        snprintf(info, (size_t)need + 1, fmt, q->prompt, negl, q->negative_prompt, steps, sampler, label, cfg_scale,
                 seeds[i], q->width, q->height, model);
        ok = ok && !json_array_append_new(all_seeds, json_integer(seeds[i])) &&
             !json_array_append_new(infotexts, json_string(info)) &&
             !json_array_append_new(prompts, json_string(q->prompt)) &&
             !json_array_append_new(negs, json_string(q->negative_prompt));
        free(info);
    }
    json_t *info = ok ? json_pack("{s:s, s:O, s:s, s:O, s:I, s:O, s:i, s:i, s:s, s:s, s:f, s:i, s:i, s:s, s:O, "
                                  "s:i, s:{}, s:[], s:s}",
                                  "prompt", q->prompt, "all_prompts", prompts, "negative_prompt", q->negative_prompt,
                                  "all_negative_prompts", negs, "seed", (json_int_t)(n ? seeds[0] : 0), "all_seeds",
                                  all_seeds, "width", q->width, "height", q->height, "sampler_name", sampler,
                                  "scheduler", scheduler, "cfg_scale", cfg_scale, "steps", steps, "batch_size",
                                  x->batch_size, "sd_model_name", model, "infotexts", infotexts,
                                  "index_of_first_image", 0, "extra_generation_params", "styles", "version", "imgapi")
                     : NULL;
    char *info_text = info ? json_dumps(info, JSON_COMPACT) : NULL;
    json_t *params = info_text ? json_pack("{s:s, s:s, s:I, s:i, s:i, s:i, s:f, s:s, s:s, s:i, s:i, s:b}", "prompt",
                                           q->prompt, "negative_prompt", q->negative_prompt, "seed",
                                           (json_int_t)(q->has_seed ? (json_int_t)q->seed : -1), "width", q->width,
                                           "height", q->height, "steps", steps, "cfg_scale", cfg_scale,
                                           "sampler_name", sampler, "scheduler", scheduler, "batch_size",
                                           x->batch_size, "n_iter", x->n_iter, "send_images", x->send_images)
                                : NULL;
    json_t *root = params ? json_pack("{s:O, s:O, s:s}", "images", imgs, "parameters", params, "info", info_text)
                          : NULL;
    char *outs = root ? json_dumps(root, JSON_COMPACT) : NULL; /* the caller's */
    json_decref(root);
    json_decref(params);
    free(info_text);
    json_decref(info);
    json_decref(imgs);
    json_decref(all_seeds);
    json_decref(infotexts);
    json_decref(prompts);
    json_decref(negs);
    return outs;
}
