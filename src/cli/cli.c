/* cli.c - subcommand dispatch and the option parsing shared by subcommands. */
#include "cli/cli.h"
#include "store/store.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct {
    const char *name;
    int (*fn)(int, char **, const cli_env_t *);
    const char *help;
} COMMANDS[] = {
    {"serve", cmd_serve, "run the HTTP server"},
    {"keys", cmd_keys, "create | list | revoke API keys; webhook URL and secret"},
    {"credits", cmd_credits, "add | show credits of a key"},
    {"webhooks", cmd_webhooks, "the webhook delivery log"},
    {"models", cmd_models, "list the installed models and their profiles"},
    {"generate", cmd_generate, "generate one image without a server"},
    {"edit", cmd_edit, "edit an image (image to image, inpainting) without a server"},
    {"debug", cmd_debug, "run one engine component on tensors from a file (developers)"},
    {"moderate", cmd_moderate, "classify prompts with the moderation rules (one per line on stdin)"},
    {"bench", cmd_bench, "time a generation stage by stage (optionally against stable-diffusion.cpp)"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: imgapi COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    fprintf(f, "\n'imgapi COMMAND --help' shows a command's options.\n");
}

int cli_main(int argc, char **argv, const cli_env_t *env) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].fn(argc - 1, argv + 1, env);
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
        if (!strcmp(argv[i], "--config") && i + 1 < argc) cfile = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9)) cfile = argv[i] + 9;
    }
    if (cfile && config_load_file(cfg, cfile, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    if (config_load_env(cfg, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
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
        fprintf(stderr, "imgapi: cannot create data directory %s: %s\n", cfg->data_dir, strerror(errno));
        return 1;
    }
    snprintf(path, sizeof path, "%s/imgapi.db", cfg->data_dir);
    if (store_open(path, cfg->store_busy_timeout_ms, out, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    return 0;
}
