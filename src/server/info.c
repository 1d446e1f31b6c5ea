/* info.c - liveness, readiness, metrics, the OpenAPI document, the model list and the caller's
 * credits. */
#include "api/loras.h"
#include "api/pricing.h"
#include "common/clock.h"
#include "common/status.h"
#include "server/connwatch.h"
#include "server/internal.h"
#include <jansson.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

enum MHD_Result h_healthz(req_t *r) {
    return respond_json(r, 200, strdup("{\"status\":\"ok\"}"), NULL, 0);
}

/* src/server/openapi.json and playground.html, compiled in by static_data.S */
extern const char imgapi_static_openapi[], imgapi_static_openapi_end[];
extern const char imgapi_static_playground[], imgapi_static_playground_end[];

static enum MHD_Result static_file(req_t *r, const char *start, const char *end, const char *type,
                                   const hdr_t *hdrs, int nhdrs) {
    size_t n = (size_t)(end - start);
    char *body = malloc(n); /* respond() owns and frees it */
    if (!body) return respond_simple_error(r, 500, "internal_error", NULL, "Out of memory.");
    memcpy(body, start, n);
    return respond(r, 200, type, body, n, hdrs, nhdrs);
}

enum MHD_Result h_openapi(req_t *r) {
    return static_file(r, imgapi_static_openapi, imgapi_static_openapi_end, "application/json",
                       NULL, 0);
}

enum MHD_Result h_playground(req_t *r) {
    /* everything the page needs is inline or this server's: no CDN, no third party */
    static const hdr_t H[] = {
        {"Content-Security-Policy",
         "default-src 'self'; img-src 'self' data: blob:; style-src 'unsafe-inline'; "
         "script-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'"},
        {"X-Content-Type-Options", "nosniff"}};
    return static_file(r, imgapi_static_playground, imgapi_static_playground_end,
                       "text/html; charset=utf-8", H, 2);
}

enum MHD_Result h_readyz(req_t *r) {
    int store_ok = store_ping(r->srv->store) == IMG_OK;
    int model_ok = registry_ready(r->srv->models);
    int ok = store_ok && model_ok && !atomic_load(&r->srv->stopping);
    json_t *j = json_pack("{s:s, s:b, s:b}", "status", ok ? "ready" : "not_ready", "store", store_ok,
                          "model", model_ok);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    /* 502: a dependency (store or model) cannot serve; load balancers only need "not 200". */
    return respond_json(r, ok ? 200 : 502, s, NULL, 0);
}

enum MHD_Result h_metrics(req_t *r) {
    buf_t b = {0};
    queue_t *q = r->srv->queue;
    long merges;
    double merge_s;
    registry_adapter_stats(r->srv->models, &merges, &merge_s);
    if (metrics_render(r->srv->metrics, &b, (long)queue_depth(q), (long)queue_running(q),
                       (long)queue_capacity(q), merges, merge_s)) {
        buf_free(&b);
        return respond_simple_error(r, 500, "internal_error", NULL, "Out of memory.");
    }
    connwatch_stats_t cw;
    connwatch_stats(r->srv->watch, &cw);
    if (buf_printf(&b,
                   "# HELP imgapi_connections_closed_total Connections the server closed or "
                   "refused: headers past their deadline, a body past its deadline or under the "
                   "minimum rate, closed to make room for a new one, refused at a cap.\n"
                   "# TYPE imgapi_connections_closed_total counter\n"
                   "imgapi_connections_closed_total{reason=\"slow_headers\"} %llu\n"
                   "imgapi_connections_closed_total{reason=\"slow_body\"} %llu\n"
                   "imgapi_connections_closed_total{reason=\"evicted\"} %llu\n"
                   "imgapi_connections_closed_total{reason=\"refused\"} %llu\n"
                   "# HELP imgapi_connections_open HTTP connections open now.\n"
                   "# TYPE imgapi_connections_open gauge\n"
                   "imgapi_connections_open %d\n",
                   (unsigned long long)cw.slow_headers, (unsigned long long)cw.slow_body,
                   (unsigned long long)cw.evicted, (unsigned long long)cw.refused, cw.open)) {
        buf_free(&b);
        return respond_simple_error(r, 500, "internal_error", NULL, "Out of memory.");
    }
    return respond(r, 200, "text/plain; version=0.0.4", (char *)b.data, b.len, NULL, 0);
}

/* SPEC §11: what a model can do (a new reference, for json_pack's "o"). */
static json_t *capabilities(const model_profile_t *p) {
    return json_pack("{s:b, s:b, s:b, s:i}", "generate", 1, "edit", p->can_edit, "inpaint",
                     p->can_inpaint, "max_input_images", p->max_input_images);
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
                  json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

/* The adapters requests may name: NAME.safetensors files of the LoRA folder whose NAME is
 * acceptable (api_lora_name_ok), sorted; at most 1000. */
json_t *info_lora_list(const config_t *cfg) {
    json_t *items[1000];
    size_t n = 0;
    DIR *d = cfg->lora_dir[0] ? opendir(cfg->lora_dir) : NULL;
    for (struct dirent *de; d && n < sizeof items / sizeof items[0] && (de = readdir(d));) {
        size_t l = strlen(de->d_name), ext = strlen(".safetensors");
        if (l <= ext || strcmp(de->d_name + l - ext, ".safetensors") || !api_lora_name_ok(de->d_name, l - ext))
            continue;
        char path[1024];
        struct stat st;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", cfg->lora_dir, de->d_name) >= sizeof path ||
            stat(path, &st) || !S_ISREG(st.st_mode))
            continue;
        json_t *it = json_pack("{s:s#, s:I}", "name", de->d_name, (int)(l - ext), "bytes", (json_int_t)st.st_size);
        if (it) items[n++] = it;
    }
    if (d) closedir(d);
    qsort(items, n, sizeof *items, cmp_name);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        if (!a || json_array_append_new(a, items[i])) json_decref(items[i]);
    return a;
}

enum MHD_Result h_models(req_t *r) {
    api_error_t e;
    store_key_t key;
    if (req_authenticate(r, &key, &e)) return respond_error(r, &e, NULL, 0);
    json_t *data = json_array();
    const registry_t *reg = r->srv->models;
    const model_profile_t *def = registry_default(reg);
    /* the alias can do what the model it stands for can */
    json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s, s:s, s:o}", "id", REGISTRY_ALIAS,
                                          "object", "model", "created", 0, "owned_by", "imgapi",
                                          "root", def->id, "capabilities", capabilities(def)));
    for (size_t i = 0; i < registry_count(reg); i++) {
        const model_profile_t *p = registry_profile(reg, i);
        if (!store_key_allows(&key, p->id)) continue;
        json_array_append_new(
            data, json_pack("{s:s, s:s, s:i, s:s, s:s, s:{s:s, s:s, s:s}, s:o}", "id", p->id,
                            "object", "model", "created", 0, "owned_by", "imgapi", "description",
                            p->description, "defaults", "size", api_size_name(p->default_size),
                            "quality", api_quality_name(p->default_quality), "background",
                            api_background_name(p->default_background), "capabilities",
                            capabilities(p)));
    }
    /* the adapters any model may take by name ("loras", <lora:NAME:SCALE>) */
    json_t *root = json_pack("{s:s, s:o, s:o}", "object", "list", "data", data, "loras", info_lora_list(r->srv->cfg));
    char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return respond_json(r, 200, s, NULL, 0);
}

enum MHD_Result h_user_credits(req_t *r) {
    api_error_t e;
    store_key_t key;
    if (req_authenticate(r, &key, &e)) return respond_error(r, &e, NULL, 0);
    json_t *root = json_pack("{s:f, s:f}", "credits", (double)key.balance / 1e6, "free-credits", 0.0);
    char *s = root ? json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(root);
    return respond_json(r, 200, s, NULL, 0);
}
