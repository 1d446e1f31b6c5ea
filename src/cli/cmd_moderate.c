/* cmd_moderate.c - `imgapi moderate [--level auto|low] [PROMPT]`: classifies one prompt, or every
 * line of standard input, printing "allow" or the refused category per prompt; with
 * --eval FILE, the evaluation report of a labelled set (moderate_eval.c). */
#include "api/params.h"
#include "cli/cli.h"
#include "cli/moderate_eval.h"
#include "moderation/load.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void classify(const moderation_t *m, const char *prompt, mod_level_t level, int explain) {
    mod_result_t r;
    if (mod_check(m, prompt, level, &r)) {
        printf("error\n");
        return;
    }
    if (!explain) {
        printf("%s\n", r.refused ? r.category : "allow");
        return;
    }
    float p[16];
    const char *names[16];
    int n = mod_classifier_scores(m, prompt, p, names, 16);
    printf("%s%s\t", r.refused ? r.category : "allow", r.by_classifier ? " (classifier)" : r.refused ? " (rules)" : "");
    for (int k = 0; k < n; k++) printf("%s%s %.3f", k ? " " : "", names[k], p[k]);
    if (r.rule[0]) printf("\t%s", r.rule);
    printf("\n");
}

/* The options of `imgapi moderate`, in the order of their enum. */
enum { M_LEVEL, M_EVAL, M_NORMALIZE, M_EXPLAIN, M_NOPTS };
static const cli_opt_t MODERATE_OPTS[M_NOPTS] = {
    {"level", 0, "auto|low", NULL, NULL, NULL, "the moderation level (default auto)"},
    {"eval", 0, "FILE", NULL, NULL, NULL, "recall and false refusals of a labelled set"},
    {"normalize", 0, "1", NULL, NULL, NULL,
     "print the words of each line of stdin as the rules and the classifier read them"},
    {"explain", 0, "1", NULL, NULL, NULL, "add which stage refused and the classifier's scores"},
};
const cli_opts_t CLI_MODERATE_OPTS = {MODERATE_OPTS, M_NOPTS};

int cmd_moderate(int argc, char **argv, const cli_env_t *env) {
    (void)env;
    config_t cfg;
    config_defaults(&cfg);
    const char *v[M_NOPTS];
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, &CLI_MODERATE_OPTS, NULL, &cfg, v, pos, &npos, 1);
    if (rc) return rc;
    int explain = v[M_EXPLAIN] && !strcmp(v[M_EXPLAIN], "1");
    mod_level_t level = MOD_LEVEL_AUTO;
    if (v[M_LEVEL] && api_moderation_parse(v[M_LEVEL]) < 0) {
        fprintf(stderr, "imgapi: --level must be auto or low\n");
        return 2;
    }
    if (v[M_LEVEL] && api_moderation_parse(v[M_LEVEL]) == MODERATION_LOW) level = MOD_LEVEL_LOW;
    char err[256];
    moderation_t *m;
    if (mod_load_configured(&cfg, &m, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    if (v[M_NORMALIZE] && strcmp(v[M_NORMALIZE], "1")) {
        fprintf(stderr, "imgapi: --normalize takes 1\n");
        rc = 2;
    } else if (v[M_NORMALIZE]) { /* the normalised words of every line of standard input */
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) > 0) {
            if (line[n - 1] == '\n') line[n - 1] = 0;
            char *norm = mod_read(m, line);
            printf("%s\n", norm ? norm : "");
            free(norm);
        }
        free(line);
    } else if (v[M_EVAL]) {
        rc = moderate_eval(m, v[M_EVAL], stdout, stderr);
    } else if (npos == 1) {
        classify(m, pos[0], level, explain);
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) > 0) {
            if (line[n - 1] == '\n') line[n - 1] = 0;
            classify(m, line, level, explain);
        }
        free(line);
    }
    mod_free(m);
    return rc;
}
