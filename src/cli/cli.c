/* cli.c - subcommand dispatch and the option parsing shared by subcommands. */
#include "cli/cli.h"
#include "store/store.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef IMGAPI_COMMIT
#define IMGAPI_COMMIT "unknown"
#endif
#define IMGAPI_VERSION "0.9.0"

/* Every command: its handler, a one-line summary, its synopsis (subcommands included) and its
 * option table, from which `imgapi COMMAND --help`, `-h`, `imgapi help COMMAND`, docs/cli.md
 * and the bash completion are all made. Settings shared by all (--data-dir, --config and every
 * setting of `imgapi serve --help`) are not repeated. */
const cli_opts_t CLI_NO_OPTS = {NULL, 0};
static const struct {
    const char *name;
    int (*fn)(int, char **, const cli_env_t *);
    const char *help;
    const char *synopsis;
    const cli_opts_t *opts;
} COMMANDS[] = {
    {"serve", cmd_serve, "run the HTTP server",
     "usage: imgapi serve [--listen HOST:PORT] [--data-dir DIR] [--config FILE] [--workers N]\n"
     "                    [--queue-size N] [--deadline-seconds N] [--admin-token T] [any "
     "setting]\n",
     &CLI_NO_OPTS},
    {"keys", cmd_keys, "create | list | revoke API keys; webhook URL and secret",
     "usage: imgapi keys create [--credits USD] [--rpm N] [--concurrency N] [--models a,b]\n"
     "       imgapi keys list\n"
     "       imgapi keys revoke KEY_OR_ID\n"
     "       imgapi keys webhook KEY_OR_ID [--url URL|none] [--rotate-secret 1]\n"
     "(each also takes --data-dir DIR or --store postgres://...)\n",
     &CLI_KEYS_OPTS},
    {"credits", cmd_credits, "add | show credits of a key",
     "usage: imgapi credits add KEY_OR_ID USD\n"
     "       imgapi credits show KEY_OR_ID\n",
     &CLI_NO_OPTS},
    {"webhooks", cmd_webhooks, "the webhook delivery log",
     "usage: imgapi webhooks log [--key KEY_OR_ID]\n", &CLI_WEBHOOKS_OPTS},
    {"models", cmd_models, "list the installed models and their profiles",
     "usage: imgapi models [--config FILE]\n", &CLI_NO_OPTS},
    {"generate", cmd_generate, "generate one image without a server",
     "usage: imgapi generate [options] [--] \"PROMPT\"\n"
     "       imgapi generate --server URL [--api-key KEY] [--async] [options] [--] \"PROMPT\"\n",
     &CLI_GENERATE_OPTS},
    {"edit", cmd_edit, "edit an image (image to image, inpainting) without a server",
     "usage: imgapi edit [options] [--] IMAGE... \"PROMPT\"\n"
     "       imgapi edit --server URL [--api-key KEY] [--async] [options] [--] IMAGE... "
     "\"PROMPT\"\n",
     &CLI_EDIT_OPTS},
    {"debug", cmd_debug, "run one engine component on tensors from a file (developers)",
     "usage: imgapi debug COMPONENT --weights W --inputs I --out O [--prefix P] [--vae W2]\n"
     "                    [--lora FILE[:SCALE] ...] [--quantize q8]\n"
     "components: tokenizer, text-encoder, unet, vae-decoder, vae-encoder, inpaint-condition,\n"
     "            tiny-decoder, tiny-encoder, sampler, rng, flux-ae-decoder, flux-ae-encoder,\n"
     "            flux-transformer, flux-schedule, flux-sampler, flux-pipeline,\n            qwen-tokenizer, qwen3-text\n",
     &CLI_DEBUG_OPTS},
    {"convert", cmd_convert, "rewrite a checkpoint as .safetensors or .gguf in another precision",
     "usage: imgapi convert [--type f16|bf16|f32|q8_0|q4_k] IN OUT\n"
     "IN: a .safetensors or .gguf file, or a diffusers folder; OUT: a .safetensors or .gguf file\n",
     &CLI_CONVERT_OPTS},
    {"moderate", cmd_moderate, "classify prompts with the moderation rules (one per line on stdin)",
     "usage: imgapi moderate [--level auto|low] [--explain 1] [PROMPT]\n"
     "       imgapi moderate --eval FILE      recall and false refusals of a labelled set\n"
     "       imgapi moderate --normalize 1    the normalised words of each line of stdin\n",
     &CLI_MODERATE_OPTS},
    {"bench", cmd_bench,
     "time a generation stage by stage (optionally against stable-diffusion.cpp)",
     "usage: imgapi bench [--model ID] [--size S] [--quality Q] [--runs N] [--vs-sdcpp PATH]\n"
     "                    [--edit STRENGTH] [--prompt P] [--seed N]\n",
     &CLI_BENCH_OPTS},
    {"completion", cmd_completion, "print a shell completion script (bash)",
     "usage: imgapi completion bash     (e.g. imgapi completion bash > "
     "/etc/bash_completion.d/imgapi)\n",
     &CLI_NO_OPTS},
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

size_t cli_command_count(void) {
    return NCOMMANDS;
}
const char *cli_command_name(size_t i) {
    return COMMANDS[i].name;
}
const char *cli_command_help(size_t i) {
    return COMMANDS[i].help;
}
const char *cli_command_synopsis(size_t i) {
    return COMMANDS[i].synopsis;
}
const cli_opts_t *cli_command_options(size_t i) {
    return COMMANDS[i].opts;
}

void cli_command_print_usage(size_t i, FILE *f) {
    fputs(COMMANDS[i].synopsis, f);
    const cli_opts_t *o = COMMANDS[i].opts;
    if (o->n) fprintf(f, "options:\n");
    for (int k = 0; k < o->n; k++) {
        const cli_opt_t *p = &o->opt[k];
        char left[64], shorts[8] = "";
        if (p->short_name) snprintf(shorts, sizeof shorts, "-%c, ", p->short_name);
        snprintf(left, sizeof left, "%s--%s%s%s", shorts, p->name, p->arg ? " " : "",
                 p->arg ? p->arg : "");
        fprintf(f, "  %-26s %s", left, p->help);
        if (p->sub) fprintf(f, " (%s)", p->sub);
        if (p->env) fprintf(f, " [env %s]", p->env);
        if (p->config) fprintf(f, " [default: setting %s]", p->config);
        fprintf(f, "\n");
    }
}

int cli_usage_error(const char *name) {
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(COMMANDS[i].name, name)) cli_command_print_usage(i, stderr);
    return 2;
}

static void usage(FILE *f) {
    fprintf(f, "usage: imgapi COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    fprintf(f,
            "\n'imgapi COMMAND --help' (or -h, or 'imgapi help COMMAND') shows a command's usage;\n"
            "'imgapi --version' the version.\n");
}

static int command_usage(size_t i) {
    printf("%s\n", COMMANDS[i].help);
    cli_command_print_usage(i, stdout);
    if (COMMANDS[i].fn == cmd_serve) {
        printf("\n");
        config_print_help(stdout);
    } else {
        printf("Every setting of 'imgapi serve --help' is also accepted (--data-dir, --config "
               "...).\n");
    }
    return 0;
}

static int version(void) {
    printf(
        "imgapi %s (commit %s)\nkernels: portable, avx2, avx512, avx512-bf16, amx (chosen at run "
        "time: isa = auto)\n",
        IMGAPI_VERSION, IMGAPI_COMMIT);
    return 0;
}

/* --help or -h anywhere before a "--" */
static int wants_help(int argc, char **argv) {
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

int cli_main(int argc, char **argv, const cli_env_t *env) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) return version();
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        (!strcmp(argv[1], "help") && argc == 2)) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "help") && !strcmp(argv[2], "--markdown"))
        return cli_docs_markdown(stdout);
    if (!strcmp(argv[1], "help")) {
        for (size_t i = 0; i < NCOMMANDS; i++)
            if (!strcmp(argv[2], COMMANDS[i].name)) return command_usage(i);
        fprintf(stderr, "imgapi: unknown command '%s'\n", argv[2]);
        return 2;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) {
            if (wants_help(argc - 1, argv + 1)) return command_usage(i);
            return COMMANDS[i].fn(argc - 1, argv + 1, env);
        }
    fprintf(stderr, "imgapi: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

/* The option of opts that argument a names (--name, --name=..., -s), or -1. */
static int find_option(const cli_opts_t *opts, const char *a, size_t namelen) {
    for (int k = 0; k < opts->n; k++) {
        const cli_opt_t *o = &opts->opt[k];
        if (a[1] != '-' ? (o->short_name && a[1] == o->short_name && !a[2])
                        : (strlen(o->name) == namelen && !strncmp(a + 2, o->name, namelen)))
            return k;
    }
    return -1;
}

int cli_parse(int argc, char **argv, const cli_opts_t *opts, const char *sub, config_t *cfg,
              const char **vals, const char **pos, int *npos, int maxpos) {
    char err[256];
    *npos = 0;
    for (int k = 0; k < opts->n; k++)
        vals[k] = NULL;
    /* The config file and the environment come first, so that flags override them. */
    const char *cfile = getenv("IMGAPI_CONFIG");
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            cfile = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            cfile = argv[i] + 9;
    }
    if (cfile && config_load_file(cfg, cfile, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    if (config_load_env(cfg, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 2;
    }
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_positional && !strcmp(a, "--")) { /* what follows is never an option */
            only_positional = 1;
            continue;
        }
        if (only_positional || a[0] != '-' || !a[1]) {
            if (*npos >= maxpos) {
                fprintf(stderr, "imgapi: unexpected argument '%s'\n", a);
                return 2;
            }
            pos[(*npos)++] = a;
            continue;
        }
        const char *eq = a[1] == '-' ? strchr(a + 2, '=') : NULL;
        size_t namelen = a[1] == '-' ? (eq ? (size_t)(eq - a - 2) : strlen(a + 2)) : 0;
        int k = find_option(opts, a, namelen);
        if (a[1] != '-' && k < 0) {
            fprintf(stderr,
                    "imgapi: unknown option '%s' (a prompt or file starting with '-' goes "
                    "after --)\n",
                    a);
            return 2;
        }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(k >= 0 ? strlen(opts->opt[k].name) : namelen),
                 k >= 0 ? opts->opt[k].name : a + 2);
        if (k >= 0 && opts->opt[k].sub && (!sub || strcmp(sub, opts->opt[k].sub))) {
            fprintf(stderr, "imgapi: option --%s belongs to '%s', not to '%s'\n", name,
                    opts->opt[k].sub, sub ? sub : argv[0]);
            return 2;
        }
        if (k >= 0 && !opts->opt[k].arg) { /* a flag */
            if (eq) {
                fprintf(stderr, "imgapi: option --%s takes no value\n", name);
                return 2;
            }
            vals[k] = "1";
            continue;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "imgapi: option --%s needs a value\n", name);
                return 2;
            }
            val = argv[++i];
        }
        if (k >= 0) {
            vals[k] = val;
            continue;
        }
        if (!strcmp(name, "config")) continue;
        if (!config_known(name)) {
            fprintf(stderr, "imgapi: unknown option --%s\n", name);
            return 2;
        }
        if (config_set(cfg, name, val, err, sizeof err)) {
            fprintf(stderr, "imgapi: %s\n", err);
            return 2;
        }
    }
    for (int k = 0; k < opts->n; k++) /* the environment supplies what was not given */
        if (!vals[k] && opts->opt[k].env &&
            (!opts->opt[k].sub || (sub && !strcmp(sub, opts->opt[k].sub))))
            vals[k] = getenv(opts->opt[k].env);
    return 0;
}

int cli_open_store(const config_t *cfg, store_t **out) {
    char path[600], err[512];
    if (cfg->store[0]) {
        if (store_open(cfg->store, cfg->store_busy_timeout_ms, out, err, sizeof err)) {
            fprintf(stderr, "imgapi: %s\n", err);
            return 1;
        }
        return 0;
    }
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "imgapi: cannot create data directory %s: %s\n", cfg->data_dir,
                strerror(errno));
        return 1;
    }
    snprintf(path, sizeof path, "%s/imgapi.db", cfg->data_dir);
    if (store_open(path, cfg->store_busy_timeout_ms, out, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    return 0;
}
