/* config.c - table-driven configuration shared by the file, the environment and the flags. */
#include "config/config.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OPT_STR, OPT_INT } opt_type_t;

typedef struct {
    const char *name;
    opt_type_t type;
    size_t offset;
    size_t size; /* string capacity */
    int min, max;
    const char *help;
} opt_t;

#define S(field, help)                                                                             \
    { #field, OPT_STR, offsetof(config_t, field), sizeof(((config_t *)0)->field), 0, 0, help }
#define I(field, lo, hi, help)                                                                     \
    { #field, OPT_INT, offsetof(config_t, field), 0, lo, hi, help }

static const opt_t OPTS[] = {
    S(listen, "HOST:PORT to listen on"),
    S(data_dir, "directory for the database and state"),
    S(store, "postgres://USER@HOST/DB: keys, ledger and jobs shared by several machines "
             "(empty: the SQLite file data_dir/imgapi.db)"),
    S(role, "all: API and generation in one process; gateway: API, jobs go to workers through "
            "the PostgreSQL store; worker: runs the gateways' jobs (no HTTP)"),
    I(job_lease_seconds, 2, 3600,
      "a worker's claim on a job lasts this long after each renewal (a dead worker's job is "
      "retried once when it runs out)"),
    I(route_grace_ms, 0, 600000,
      "a job waits this long for a worker that has its model loaded before any worker takes it"),
    S(default_model, "model served as gpt-image-1-mini (default: the first installed)"),
    S(admin_token, "token for the /admin routes (empty: admin routes disabled)"),
    S(public_base_url, "base URL used in links returned to clients (default: from Host)"),
    I(workers, 1, 256,
      "worker threads running generation jobs (a gateway: jobs in flight to the workers)"),
    I(queue_size, 1, 100000, "jobs that may wait in the queue before 429"),
    I(deadline_seconds, 1, 86400, "default deadline of a job (504 past it)"),
    I(max_deadline_seconds, 1, 86400, "largest deadline a client may ask for (x-timeout-seconds)"),
    I(rpm, 1, 1000000, "default requests per minute per key"),
    I(concurrency, 1, 10000, "default concurrent jobs per key"),
    I(idempotency_hours, 1, 720, "how long Idempotency-Key answers are kept"),
    I(async_result_seconds, 1, 604800,
      "how long an asynchronous request waits to start and its result is kept"),
    I(webhook_allow_private, 0, 1,
      "allow webhooks to loopback, private and reserved addresses (1 = allowed)"),
    I(webhook_max_attempts, 1, 100, "webhook delivery attempts before giving up"),
    I(webhook_retry_ms, 10, 3600000, "first webhook retry after this many ms, doubling each time"),
    I(webhook_timeout_seconds, 1, 300, "timeout of one webhook delivery attempt"),
    I(shutdown_grace_seconds, 0, 3600, "how long SIGTERM waits for running jobs"),
    I(max_connections, 1, 100000, "simultaneous HTTP connections"),
    I(connection_timeout_seconds, 1, 3600, "idle connection timeout"),
    I(body_timeout_seconds, 1, 3600,
      "a request body must arrive within this long of its headers, else the connection is closed"),
    I(header_timeout_seconds, 1, 3600,
      "a request's headers must be complete within this long of the connection (or of its "
      "request line, on a kept-alive connection), else the connection is closed"),
    I(body_min_rate, 0, 1 << 30,
      "bytes per second a request body must average once it has had 5 s, else the connection is "
      "closed (0 = no minimum)"),
    I(max_connections_per_ip, 0, 100000,
      "connections one client address may hold; at the cap a new one replaces that address's "
      "oldest connection still sending headers, else it is refused (0 = no cap)"),
    I(max_edit_body, 1024, 1 << 30,
      "bytes a multipart edit body (/v1/images/edits) may have; 413 as soon as it is passed"),
    I(store_busy_timeout_ms, 1, 600000, "how long a store write waits for a lock held elsewhere"),
    I(threads, 0, 1024, "engine threads per generation (0 = one per CPU this process may run on)"),
    I(model_idle_seconds, 0, 604800, "unload a model after this many idle seconds (0 = never)"),
    I(preload_model, 0, 1,
      "load the default model in the background when the server starts, so that the first "
      "request does not wait for it (0 = on first use)"),
    I(vae_tile, 0, 4096,
      "decode with the KL VAE in tiles of at most this many latents a side: bounded memory, "
      "slight differences between tiles (0 = never tile)"),
    I(vae_tile_overlap, 1, 2047, "latents shared by neighbouring VAE tiles (under vae_tile / 2)"),
    S(isa, "kernel instruction set: auto, avx512, avx2 or portable"),
    S(precision,
      "matrix products: fp32, or bf16 (weights and activations rounded to bfloat16, products "
      "summed in f32: about twice the speed where the CPU has AVX512-BF16; needs one, or isa "
      "portable)"),
    S(moderation_rules, "moderation rules file (default: the rules built in)"),
    S(lora_dir,
      "folder of LoRA / LyCORIS adapters (NAME.safetensors) that requests name in 'loras' or "
      "<lora:NAME:SCALE> (default: none; requests naming one get 400)"),
    S(embeddings_dir,
      "folder of textual-inversion embeddings (NAME.safetensors) that prompts name by NAME "
      "(default: none)"),
    I(lora_cache, 1, 64,
      "models with a set of adapters merged in kept per base model (least recently used go "
      "first; each is a full copy of the model in memory)"),
    I(builtin_model, 0, 1,
      "serve the built-in imgapi-shapes model after the configured ones (0 = off)"),
};

void config_defaults(config_t *c) {
    memset(c, 0, sizeof *c);
    strcpy(c->listen, "127.0.0.1:8080");
    strcpy(c->data_dir, "./data");
    strcpy(c->role, "all");
    c->job_lease_seconds = 10;
    c->route_grace_ms = 2000;
    c->workers = 1;
    c->queue_size = 16;
    c->deadline_seconds = 300;
    c->max_deadline_seconds = 3600;
    c->rpm = 60;
    c->concurrency = 4;
    c->idempotency_hours = 24;
    c->shutdown_grace_seconds = 30;
    c->max_connections = 512;
    c->body_timeout_seconds = 30;
    c->connection_timeout_seconds = 60;
    c->header_timeout_seconds = 10;
    c->body_min_rate = 1024;
    c->max_connections_per_ip = 128;
    c->max_edit_body = 64 * 1024 * 1024;
    c->store_busy_timeout_ms = 5000;
    c->model_idle_seconds = 600;
    c->lora_cache = 2;
    c->preload_model = 1;
    c->vae_tile = 0;
    c->vae_tile_overlap = 16;
    strcpy(c->isa, "auto");
    strcpy(c->precision, "fp32");
    c->builtin_model = 1;
    c->async_result_seconds = 3600;
    c->webhook_max_attempts = 6;
    c->webhook_retry_ms = 2000;
    c->webhook_timeout_seconds = 10;
    price_table_default(&c->prices);
}

static void normalise(const char *in, char *out, size_t n) {
    size_t i = 0;
    for (; in[i] && i + 1 < n; i++)
        out[i] = in[i] == '-' ? '_' : (char)tolower((unsigned char)in[i]);
    out[i] = 0;
}

/* price.QUALITY.SIZE = USD, e.g. price.high.1024x1024 = 0.036 */
static int set_price(config_t *c, const char *name, const char *value, char *err, size_t errlen) {
    char q[16], s[16];
    if (!strcmp(name, "price.input_image")) {
        int64_t micro;
        if (price_parse_usd(value, &micro) || micro > PRICE_MAX_MICRO) goto bad;
        c->prices.input_image = micro;
        return 0;
    }
    if (sscanf(name, "price.%15[a-z].%15s", q, s) != 2) goto bad;
    int qi = api_quality_parse(q), si = api_size_parse(s);
    int64_t micro;
    if (qi <= 0 || si <= 0 || price_parse_usd(value, &micro)) goto bad;
    if (micro > PRICE_MAX_MICRO) {
        snprintf(err, errlen, "price setting '%s' is over the limit of $%lld per image", name,
                 (long long)(PRICE_MAX_MICRO / 1000000));
        return -1;
    }
    c->prices.micro[qi][si] = micro;
    return 0;
bad:
    snprintf(err, errlen,
             "invalid price setting '%s = %s' (expected price.low|medium|high.SIZE = dollars, "
             "or price.input_image = dollars)",
             name, value);
    return -1;
}

/* model.ID.FIELD = value */
static int set_model(config_t *c, const char *name, const char *value, char *err, size_t errlen) {
    char id[64], field[32];
    if (sscanf(name, "model.%63[A-Za-z0-9_-].%31[a-z_]", id, field) != 2) {
        snprintf(err, errlen, "invalid model setting '%s' (expected model.ID.FIELD)", name);
        return -1;
    }
    config_model_t *m = NULL;
    for (int i = 0; i < c->nmodels; i++)
        if (strcmp(c->models[i].id, id) == 0) m = &c->models[i];
    if (!m) {
        if (c->nmodels == CONFIG_MAX_MODELS) {
            snprintf(err, errlen, "at most %d models can be configured", CONFIG_MAX_MODELS);
            return -1;
        }
        m = &c->models[c->nmodels++];
        memset(m, 0, sizeof *m);
        snprintf(m->id, sizeof m->id, "%s", id);
        strcpy(m->profile, "standard");
        strcpy(m->prediction, "eps");
        strcpy(m->weights, "auto");
    }
    struct {
        const char *f;
        char *dst;
        size_t n;
    } F[] = {{"checkpoint", m->checkpoint, sizeof m->checkpoint},
             {"tokenizer", m->tokenizer, sizeof m->tokenizer},
             {"vae", m->vae, sizeof m->vae},
             {"tiny_decoder", m->tiny_decoder, sizeof m->tiny_decoder},
             {"tiny_encoder", m->tiny_encoder, sizeof m->tiny_encoder},
             {"text_encoder", m->text_encoder, sizeof m->text_encoder},
             {"profile", m->profile, sizeof m->profile},
             {"prediction", m->prediction, sizeof m->prediction},
             {"weights", m->weights, sizeof m->weights},
             {"description", m->description, sizeof m->description}};
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++) {
        if (strcmp(F[i].f, field) != 0) continue;
        if (strlen(value) >= F[i].n) {
            snprintf(err, errlen, "value of '%s' is too long", name);
            return -1;
        }
        if (!strcmp(field, "profile") && strcmp(value, "standard") && strcmp(value, "turbo") &&
            strcmp(value, "flux2-klein")) {
            snprintf(err, errlen, "'%s' must be 'standard', 'turbo' or 'flux2-klein'", name);
            return -1;
        }
        if (!strcmp(field, "prediction") && strcmp(value, "eps") && strcmp(value, "v")) {
            snprintf(err, errlen, "'%s' must be 'eps' or 'v'", name);
            return -1;
        }
        if (!strcmp(field, "weights") && strcmp(value, "auto") && strcmp(value, "file") &&
            strcmp(value, "q8")) {
            snprintf(err, errlen, "'%s' must be 'auto', 'file' or 'q8'", name);
            return -1;
        }
        strcpy(F[i].dst, value);
        return 0;
    }
    if (strcmp(field, "release_text_encoder") == 0) {
        if (strcmp(value, "0") && strcmp(value, "1")) {
            snprintf(err, errlen, "'%s' must be 0 or 1", name);
            return -1;
        }
        m->release_text_encoder = value[0] == '1';
        return 0;
    }
    if (strcmp(field, "native") == 0) {
        char *end;
        long v = strtol(value, &end, 10);
        if (*end || end == value || v < 64 || v > 4096 || v % 64) {
            snprintf(err, errlen, "'%s' must be a multiple of 64 from 64 to 4096", name);
            return -1;
        }
        m->native = (int)v;
        return 0;
    }
    if (strcmp(field, "guidance") == 0) {
        char *end;
        double g = strtod(value, &end);
        if (*end || end == value || !(g >= 1.0 && g <= 30.0)) {
            snprintf(err, errlen, "'%s' must be a number from 1 to 30", name);
            return -1;
        }
        m->guidance = (float)g;
        return 0;
    }
    snprintf(err, errlen,
             "unknown model field '%s' (checkpoint, tokenizer, vae, tiny_decoder, tiny_encoder, "
             "text_encoder, release_text_encoder, profile, "
             "prediction, weights, native, guidance, description)",
             field);
    return -1;
}

int config_option_flag(size_t i, char *out, size_t len) {
    if (i >= sizeof OPTS / sizeof OPTS[0] || !len) return 0;
    size_t k = 0;
    for (const char *p = OPTS[i].name; *p && k + 1 < len; p++)
        out[k++] = *p == '_' ? '-' : *p;
    out[k] = 0;
    return 1;
}

int config_known(const char *name) {
    char n[64];
    normalise(name, n, sizeof n);
    if (strncmp(n, "price.", 6) == 0 || strcmp(n, "config") == 0 || strncmp(n, "model.", 6) == 0)
        return 1;
    for (size_t i = 0; i < sizeof OPTS / sizeof OPTS[0]; i++)
        if (strcmp(OPTS[i].name, n) == 0) return 1;
    return 0;
}

int config_set(config_t *c, const char *name, const char *value, char *err, size_t errlen) {
    char n[64];
    normalise(name, n, sizeof n);
    if (strncmp(n, "price.", 6) == 0) return set_price(c, n, value, err, errlen);
    if (strncmp(name, "model.", 6) == 0) return set_model(c, name, value, err, errlen);
    if (strcmp(n, "config") == 0) {
        snprintf(c->config_file, sizeof c->config_file, "%s", value);
        return 0;
    }
    for (size_t i = 0; i < sizeof OPTS / sizeof OPTS[0]; i++) {
        const opt_t *o = &OPTS[i];
        if (strcmp(o->name, n) != 0) continue;
        char *dst = (char *)c + o->offset;
        if (o->type == OPT_STR) {
            if (strlen(value) >= o->size) {
                snprintf(err, errlen, "value of '%s' is too long", o->name);
                return -1;
            }
            memcpy(dst, value, strlen(value) + 1);
            return 0;
        }
        errno = 0;
        char *end;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end || v < o->min || v > o->max) {
            snprintf(err, errlen, "'%s' must be an integer from %d to %d (got '%s')", o->name,
                     o->min, o->max, value);
            return -1;
        }
        *(int *)(void *)dst = (int)v;
        return 0;
    }
    snprintf(err, errlen, "unknown setting '%s'", name);
    return -1;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

int config_load_file(config_t *c, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'name = value'", path, lineno);
            fclose(f);
            return -1;
        }
        *eq = 0;
        char *name = trim(s), *value = trim(eq + 1);
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = 0;
            value++;
        }
        char e2[256];
        if (config_set(c, name, value, e2, sizeof e2)) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, e2);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

int config_load_env(config_t *c, char *err, size_t errlen) {
    for (size_t i = 0; i < sizeof OPTS / sizeof OPTS[0]; i++) {
        char env[80] = "IMGAPI_";
        size_t k = strlen(env);
        for (const char *p = OPTS[i].name; *p && k + 1 < sizeof env; p++)
            env[k++] = (char)toupper((unsigned char)*p);
        env[k] = 0;
        const char *v = getenv(env);
        if (v && config_set(c, OPTS[i].name, v, err, errlen)) return -1;
    }
    return 0;
}

void config_print_help(FILE *f) {
    config_t d;
    config_defaults(&d);
    fprintf(
        f,
        "Options (flag --name-with-dashes, environment IMGAPI_NAME, config file name = value):\n");
    for (size_t i = 0; i < sizeof OPTS / sizeof OPTS[0]; i++) {
        const opt_t *o = &OPTS[i];
        char flag[64];
        size_t k = 0;
        for (const char *p = o->name; *p && k + 1 < sizeof flag; p++)
            flag[k++] = *p == '_' ? '-' : *p;
        flag[k] = 0;
        const char *dv = (const char *)&d + o->offset;
        if (o->type == OPT_STR)
            fprintf(f, "  --%-26s %s (default: \"%s\")\n", flag, o->help, dv);
        else
            fprintf(f, "  --%-26s %s (default: %d)\n", flag, o->help,
                    *(const int *)(const void *)dv);
    }
    fprintf(f, "  --%-26s %s\n", "config FILE", "config file to read (also IMGAPI_CONFIG)");
    fprintf(f,
            "  price.QUALITY.SIZE = USD    per-image price, e.g. price.high.1024x1024 = 0.036\n");
    fprintf(
        f,
        "  model.ID.checkpoint = PATH  install a model (also .tokenizer, .vae, .profile "
        "standard|turbo,\n"
        "                              .prediction eps|v, .weights auto|file|q8, .native PIXELS,\n"
        "                              .tiny_decoder, .description)\n");
}
