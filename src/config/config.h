/* config.h - the server's configuration: defaults, then a config file, then IMGAPI_* environment
 * variables, then command-line flags (later wins). The only mutable global state is a config_t
 * owned by main. */
#ifndef IMGAPI_CONFIG_CONFIG_H
#define IMGAPI_CONFIG_CONFIG_H
#include "api/pricing.h"
#include <stdio.h>

#define CONFIG_MAX_MODELS 16

/* One installed model: model.ID.FIELD = value in the config file (or --model.ID.FIELD). */
typedef struct {
    char id[64];
    char checkpoint[512];   /* single-file .safetensors, or a diffusers folder */
    char tokenizer[512];    /* BPE list (.txt.gz) or a folder with vocab.json + merges.txt */
    char vae[512];          /* optional separate VAE */
    char tiny_decoder[512]; /* optional TAESD-style decoder: used for quality low */
    char tiny_encoder[512]; /* optional TAESD-style encoder: edits for a model without a KL VAE */
    char text_encoder[512]; /* a separate text encoder's weights (FLUX.2: Qwen3) */
    char profile[16];       /* "standard" (default), "turbo" or "flux2-klein" */
    char prediction[8];     /* "eps" (default) or "v" */
    char weights[8]; /* "auto" (default: "q8" for a block-quantized file, else "file"), "file" or
                        "q8" */
    char description[160];
    int native;     /* working resolution (short side, pixels); 0 = the family's (512, SDXL 1024) */
    int release_text_encoder; /* 1: a separate text encoder is loaded per prompt and freed after */
    float guidance; /* classifier-free guidance of the standard profile; 0 = the profile's (7) */
} config_model_t;

typedef struct {
    char listen[128];
    char data_dir[512];
    char store[1024];      /* "" = SQLite file in data_dir; postgres://... = PostgreSQL */
    char role[16];         /* all (API + generation), gateway (API; jobs to workers), worker */
    int job_lease_seconds; /* a worker's claim on a job lasts this long after each renewal */
    int route_grace_ms;    /* a job waits this long for a worker that has its model loaded */
    char config_file[512];
    char default_model[64];
    char admin_token[128];
    char public_base_url[256];
    int workers;
    int queue_size;
    int deadline_seconds;     /* default job deadline */
    int max_deadline_seconds; /* upper bound for x-timeout-seconds */
    int rpm;                  /* default requests per minute per key */
    int concurrency;          /* default concurrent jobs per key */
    int idempotency_hours;
    int shutdown_grace_seconds;
    int max_connections;
    int connection_timeout_seconds;
    int body_timeout_seconds;  /* a request body must arrive within this long of its headers */
    int header_timeout_seconds; /* a request's headers must arrive within this long */
    int body_min_rate;          /* bytes/second a body must average after 5 s */
    int max_connections_per_ip; /* connections one client address may hold (0 = no cap) */
    int max_edit_body;          /* bytes of a multipart edit body (413 past it) */
    int store_busy_timeout_ms; /* how long a store write waits for a lock held elsewhere */
    int threads;               /* engine threads, 0 = one per CPU core */
    int model_idle_seconds;    /* unload a model unused this long; 0 = keep loaded */
    int preload_model;         /* serve: load the default model at start, in the background */
    int vae_tile;              /* KL-decode in tiles of at most this many latents a side; 0 never */
    int vae_tile_overlap;      /* latents shared by neighbouring tiles */
    char isa[16];              /* kernel level: auto, avx512, avx2, portable */
    char precision[8];         /* matrix products: fp32, or bf16 (AVX512-BF16) */
    char moderation_rules[512]; /* rules file; "" = the rules built into the binary */
    char lora_dir[512];         /* adapters requests may name (NAME.safetensors); "" = none */
    int lora_cache;             /* merged (model, adapter set) copies kept per model */
    char embeddings_dir[512];   /* textual-inversion embeddings prompts name; "" = none */
    int async_result_seconds;   /* an async request expires this long after submission or its end */
    int webhook_allow_private;  /* 1: webhooks may target loopback/private addresses */
    int webhook_max_attempts;   /* delivery attempts before giving up */
    int webhook_retry_ms;       /* first retry delay, doubling */
    int webhook_timeout_seconds; /* one attempt */
    int builtin_model;           /* 1: the built-in model is installed after the configured ones */
    price_table_t prices;
    config_model_t models[CONFIG_MAX_MODELS];
    int nmodels;
} config_t;

void config_defaults(config_t *c);
/* Applies one "name = value" setting (file/env/flag names are the same, '-' == '_').
 * Returns 0, or -1 with a reason in err. */
int config_set(config_t *c, const char *name, const char *value, char *err, size_t errlen);
/* Reads a config file of "name = value" lines ('#' comments). */
int config_load_file(config_t *c, const char *path, char *err, size_t errlen);
/* Applies every IMGAPI_<NAME> variable present in the environment. */
int config_load_env(config_t *c, char *err, size_t errlen);
/* Prints the options with their defaults (for --help). */
void config_print_help(FILE *f);
/* Is this a known option name? */
int config_known(const char *name);
/* The i-th setting's flag name (--name-with-dashes, without the dashes) into out; 0 past the
 * last. For generated completion and reference (cli/cli_docs.c). */
int config_option_flag(size_t i, char *out, size_t len);

#endif
