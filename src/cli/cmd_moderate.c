/* cmd_moderate.c - `imgapi moderate [--level auto|low] [PROMPT]`: classifies one prompt, or every
 * line of standard input, printing "allow" or the refused category per prompt. */
#include "cli/cli.h"
#include "moderation/load.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void classify(const moderation_t *m, const char *prompt, mod_level_t level) {
    mod_result_t r;
    if (mod_check(m, prompt, level, &r)) {
        printf("error\n");
        return;
    }
    printf("%s\n", r.refused ? r.category : "allow");
}

int cmd_moderate(int argc, char **argv, const cli_env_t *env) {
    (void)env;
    config_t cfg;
    config_defaults(&cfg);
    static const char *const extra[] = {"level"};
    const char *v[1] = {0};
    const char *pos[1];
    int npos;
    int rc = cli_parse_common(argc, argv, &cfg, pos, &npos, 1, extra, v, 1);
    if (rc) return rc;
    mod_level_t level = MOD_LEVEL_AUTO;
    if (v[0] && strcmp(v[0], "auto") && strcmp(v[0], "low")) {
        fprintf(stderr, "imgapi: --level must be auto or low\n");
        return 2;
    }
    if (v[0] && !strcmp(v[0], "low")) level = MOD_LEVEL_LOW;
    char err[256];
    moderation_t *m;
    if (mod_load_configured(&cfg, &m, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    if (npos == 1) {
        classify(m, pos[0], level);
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) > 0) {
            if (line[n - 1] == '\n') line[n - 1] = 0;
            classify(m, line, level);
        }
        free(line);
    }
    mod_free(m);
    return 0;
}
