/* cli.h - the imgapi command line. main() passes the generator backends this binary has. */
#ifndef IMGAPI_CLI_CLI_H
#define IMGAPI_CLI_CLI_H
#include "config/config.h"
#include "queue/generator.h"
#include "queue/queue.h"
#include "store/store.h"
#include <stddef.h>
#include <stdio.h>

typedef struct {
    const gen_backend_t *const *backends;
    size_t nbackends;
} cli_env_t;

/* Runs a command; returns the process exit status (0 ok, 1 failure, 2 bad usage). */
int cli_main(int argc, char **argv, const cli_env_t *env);

/* One option of a command, as its table declares it: `--name VALUE` or `--name=VALUE` (and
 * `-s VALUE` where short_name is set), or, when arg is NULL, a flag that takes no value (given:
 * "1"). sub: the subcommand it belongs to (NULL: every form of the command); env: the
 * environment variable that supplies it when it is absent (NULL: none); config: the setting
 * (config.c) whose value the command uses when both are absent (NULL: none); help: one line. */
typedef struct {
    const char *name;
    char short_name;
    const char *arg;
    const char *sub;
    const char *env;
    const char *config;
    const char *help;
} cli_opt_t;

/* A command's option table; each command file defines its own with an enum of the same order. */
typedef struct {
    const cli_opt_t *opt;
    int n;
} cli_opts_t;

/* The table of a command or subcommand without options of its own. */
extern const cli_opts_t CLI_NO_OPTS;

/* Parses argv (argv[0]: the command or subcommand word) against the command's options, the
 * settings of config.c (`--name VALUE`; the --config file and the IMGAPI_* environment are read
 * first, so that flags override them) and up to maxpos positional arguments (pos). vals[k]
 * receives option k's value, else its environment variable's, else NULL. sub: the subcommand
 * run (NULL: none); an option of another subcommand is refused. Anything that begins with '-' is
 * an option unless it follows "--". Returns 0, or the exit status after printing the reason (2
 * bad usage, naming the option; 1 an unreadable config file). */
int cli_parse(int argc, char **argv, const cli_opts_t *opts, const char *sub, config_t *cfg,
              const char **vals, const char **pos, int *npos, int maxpos);
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
int cmd_convert(int argc, char **argv, const cli_env_t *env);
int cmd_bench(int argc, char **argv, const cli_env_t *env);
int cmd_moderate(int argc, char **argv, const cli_env_t *env);
int cmd_webhooks(int argc, char **argv, const cli_env_t *env);
/* `imgapi completion bash` and `imgapi help --markdown` (docs/cli.md), both generated from the
 * command table below and the settings table of config.c (cli_docs.c). */
int cmd_completion(int argc, char **argv, const cli_env_t *env);
int cli_docs_markdown(FILE *f);
/* The command table (cli.c): name, one-line summary, synopsis (its usage lines, subcommands
 * included) and option table; cli_command_print_usage writes what `imgapi COMMAND --help`
 * shows (synopsis, then one line per option). */
size_t cli_command_count(void);
const char *cli_command_name(size_t i);
const char *cli_command_help(size_t i);
const char *cli_command_synopsis(size_t i);
const cli_opts_t *cli_command_options(size_t i);
void cli_command_print_usage(size_t i, FILE *f);
/* Bad usage of command `name`: its usage (as --help prints it) on standard error; returns 2. */
int cli_usage_error(const char *name);

/* The option tables of the commands that have options (each beside its command). */
extern const cli_opts_t CLI_KEYS_OPTS, CLI_WEBHOOKS_OPTS, CLI_GENERATE_OPTS, CLI_EDIT_OPTS,
    CLI_DEBUG_OPTS, CLI_MODERATE_OPTS, CLI_BENCH_OPTS, CLI_CONVERT_OPTS;
/* `imgapi keys webhook` (cmd_webhooks.c), with the options of `imgapi keys` in this order */
int keys_webhook(int argc, char **argv);
enum {
    KEYS_CREDITS,
    KEYS_RPM,
    KEYS_CONCURRENCY,
    KEYS_MODELS,
    KEYS_URL,
    KEYS_ROTATE_SECRET,
    KEYS_NOPTS
};

#endif
