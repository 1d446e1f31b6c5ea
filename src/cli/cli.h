/* cli.h - the imgapi command line. main() passes the generator backends this binary has. */
#ifndef IMGAPI_CLI_CLI_H
#define IMGAPI_CLI_CLI_H
#include "config/config.h"
#include "queue/generator.h"
#include "queue/queue.h"
#include "store/store.h"
#include <stddef.h>

typedef struct {
    const gen_backend_t *const *backends;
    size_t nbackends;
} cli_env_t;

/* Runs a command; returns the process exit status (0 ok, 1 failure, 2 bad usage). */
int cli_main(int argc, char **argv, const cli_env_t *env);

/* Shared by the subcommands: parses --name value / --name=value options into the config
 * (unknown options are usage errors). Positional arguments are collected in pos. */
int cli_parse_common(int argc, char **argv, config_t *cfg, const char **pos, int *npos, int maxpos,
                     const char *const *extra, const char **extra_vals, int nextra);
/* Opens the store in cfg->data_dir (creating the directory). Prints the reason on failure. */
int cli_open_store(const config_t *cfg, store_t **out);

int cmd_serve(int argc, char **argv, const cli_env_t *env);
int cmd_keys(int argc, char **argv, const cli_env_t *env);
int cmd_credits(int argc, char **argv, const cli_env_t *env);
int cmd_models(int argc, char **argv, const cli_env_t *env);
int cmd_generate(int argc, char **argv, const cli_env_t *env);
int cmd_edit(int argc, char **argv, const cli_env_t *env);
/* Waits for a local job, showing its progress on standard error (cmd_generate.c). */
job_state_t cli_wait_job(job_t *job, const char *preview_dir);
int cmd_debug(int argc, char **argv, const cli_env_t *env);
int cmd_bench(int argc, char **argv, const cli_env_t *env);
int cmd_moderate(int argc, char **argv, const cli_env_t *env);
int cmd_webhooks(int argc, char **argv, const cli_env_t *env);
/* `imgapi completion bash` and `imgapi help --markdown` (docs/cli.md), both generated from the
 * command table below and the settings table of config.c (cli_docs.c). */
int cmd_completion(int argc, char **argv, const cli_env_t *env);
int cli_docs_markdown(FILE *f);
/* The command table (cli.c): name, one-line summary, usage text. */
size_t cli_command_count(void);
const char *cli_command_name(size_t i);
const char *cli_command_help(size_t i);
const char *cli_command_usage(size_t i);
/* `imgapi keys webhook` (cmd_webhooks.c) */
int keys_webhook(int argc, char **argv);

#endif
