/* moderate_eval.h - the evaluation report of `imgapi moderate --eval FILE`. */
#ifndef IMGAPI_CLI_MODERATE_EVAL_H
#define IMGAPI_CLI_MODERATE_EVAL_H
#include "moderation/moderation.h"
#include <stdio.h>

/* Classifies every row of a labelled TSV (auto, low, lang, prompt) and prints the report to out.
 * Returns 0, or 1 with a reason on errf when the file cannot be read or parsed. */
int moderate_eval(const moderation_t *m, const char *path, FILE *out, FILE *errf);

#endif
