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

/* Every command: its handler, a one-line summary and its usage (subcommands included), which
 * `imgapi COMMAND --help`, `-h` and `imgapi help COMMAND` print. Options shared by all
 * (--data-dir, --config and every setting of `imgapi serve --help`) are not repeated. */
static const struct {
    const char *name;
    int (*fn)(int, char **, const cli_env_t *);
    const char *help;
    const char *usage;
} COMMANDS[] = {
    {"serve", cmd_serve, "run the HTTP server",
     "usage: imgapi serve [--listen HOST:PORT] [--data-dir DIR] [--config FILE] [--workers N]\n"
     "                    [--queue-size N] [--deadline-seconds N] [--admin-token T] [any "
     "setting]\n"},
    {"keys", cmd_keys, "create | list | revoke API keys; webhook URL and secret",
     "usage: imgapi keys create [--credits USD] [--rpm N] [--concurrency N] [--models a,b]\n"
     "       imgapi keys list\n"
     "       imgapi keys revoke KEY_OR_ID\n"
     "       imgapi keys webhook KEY_OR_ID [--url URL|none] [--rotate-secret 1]\n"
     "(each also takes --data-dir DIR or --store postgres://...)\n"},
    {"credits", cmd_credits, "add | show credits of a key",
     "usage: imgapi credits add KEY_OR_ID USD\n"
     "       imgapi credits show KEY_OR_ID\n"},
    {"webhooks", cmd_webhooks, "the webhook delivery log",
     "usage: imgapi webhooks log [--key KEY_OR_ID]\n"},
    {"models", cmd_models, "list the installed models and their profiles",
     "usage: imgapi models [--config FILE]\n"},
    {"generate", cmd_generate, "generate one image without a server",
     "usage: imgapi generate [options] [--] \"PROMPT\"\n"
     "  -o, --out FILE          where to write the image (default imgapi-SEED.FORMAT)\n"
     "  --size S                1024x1024, 1536x1024, 1024x1536 or auto\n"
     "  --quality Q             low, medium, high or auto\n"
     "  --format F              png, jpeg or webp\n"
     "  --seed N, --model M, --background B, --compression N, --negative-prompt P\n"
     "  --moderation auto|low, --previews DIR\n"
     "  --server URL [--api-key KEY] [--async]   send it to a running server instead\n"},
    {"edit", cmd_edit, "edit an image (image to image, inpainting) without a server",
     "usage: imgapi edit [options] [--] IMAGE... \"PROMPT\"\n"
     "  --mask PNG              alpha 0 marks what to repaint (the image's size)\n"
     "  -o, --out FILE, --strength S (0-1], --size S, --quality Q, --seed N, --model M,\n"
     "  --format F, --moderation auto|low, --negative-prompt P\n"
     "  --server URL [--api-key KEY] [--async]  edit on a running server (JSON edit of "
     "/v1/{model},\n"
     "                          or /v2/{model} and poll with --async; key also IMGAPI_API_KEY)\n"},
    {"debug", cmd_debug, "run one engine component on tensors from a file (developers)",
     "usage: imgapi debug COMPONENT --weights W --inputs I --out O [--prefix P] [--vae W2]\n"
     "components: tokenizer, text-encoder, unet, vae-decoder, vae-encoder, inpaint-condition,\n"
     "            tiny-decoder, tiny-encoder, sampler, rng\n"},
    {"moderate", cmd_moderate, "classify prompts with the moderation rules (one per line on stdin)",
     "usage: imgapi moderate [--level auto|low] [--explain 1] [PROMPT]\n"
     "       imgapi moderate --eval FILE      recall and false refusals of a labelled set\n"
     "       imgapi moderate --normalize 1    the normalised words of each line of stdin\n"},
    {"bench", cmd_bench,
     "time a generation stage by stage (optionally against stable-diffusion.cpp)",
     "usage: imgapi bench [--model ID] [--size S] [--quality Q] [--runs N] [--vs-sdcpp PATH]\n"
     "                    [--edit STRENGTH] [--prompt P] [--seed N]\n"
     "  --edit S   also time image to image from the generated image at strength S\n"},
    {"completion", cmd_completion, "print a shell completion script (bash)",
     "usage: imgapi completion bash     (e.g. imgapi completion bash > "
     "/etc/bash_completion.d/imgapi)\n"},
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
const char *cli_command_usage(size_t i) {
    return COMMANDS[i].usage;
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
    printf("%s\n%s", COMMANDS[i].help, COMMANDS[i].usage);
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

int cli_parse_common(int argc, char **argv, config_t *cfg, const char **pos, int *npos, int maxpos,
                     const char *const *extra, const char **extra_vals, int nextra) {
    char err[256];
    *npos = 0;
    /* The config file and the environment come first, so that flags override them. */
    const char *cfile = getenv("IMGAPI_CONFIG");
    for (int i = 1; i < argc; i++) {
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
        if (!only_positional && a[0] == '-' && a[1] && a[1] != '-') {
            fprintf(stderr,
                    "imgapi: unknown option '%s' (a prompt or file starting with '-' goes "
                    "after --)\n",
                    a);
            return 2;
        }
        if (only_positional || strncmp(a, "--", 2) != 0) {
            if (*npos >= maxpos) {
                fprintf(stderr, "imgapi: unexpected argument '%s'\n", a);
                return 2;
            }
            pos[(*npos)++] = a;
            continue;
        }
        char name[64];
        const char *val;
        const char *eq = strchr(a + 2, '=');
        if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a - 2), a + 2);
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a + 2);
            if (i + 1 >= argc) {
                fprintf(stderr, "imgapi: option --%s needs a value\n", name);
                return 2;
            }
            val = argv[++i];
        }
        int handled = 0;
        for (int k = 0; k < nextra; k++)
            if (!strcmp(name, extra[k])) {
                extra_vals[k] = val;
                handled = 1;
            }
        if (handled) continue;
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
