/* cmd_debug.c - `imgapi debug COMPONENT --weights W --inputs I --out O`: runs one engine part on
 * inputs from a file and writes its outputs with the tensor names of the golden sets. */
#include "cli/cli.h"
#include "common/status.h"
#include "engine/text/tokenizer.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *ids_json(const int32_t *ids, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_integer(ids[i]));
    return a;
}

static int debug_tokenizer(const char *weights, const char *inputs, const char *out) {
    char err[512];
    tokenizer_t *t;
    if (tok_load(weights, &t, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    json_error_t je;
    json_t *in = json_load_file(inputs, 0, &je);
    json_t *cases = in ? json_object_get(in, "cases") : NULL;
    if (!json_is_array(cases)) {
        fprintf(stderr, "imgapi: %s: expected {\"cases\": [{\"name\", \"prompt\"}]}\n", inputs);
        json_decref(in);
        tok_free(t);
        return 1;
    }
    json_t *res = json_array();
    size_t i;
    json_t *c;
    int rc = 0;
    json_array_foreach(cases, i, c) {
        const char *prompt = json_string_value(json_object_get(c, "prompt"));
        if (!prompt) continue;
        int32_t *ids;
        size_t n;
        if (tok_encode(t, prompt, &ids, &n)) {
            rc = 1;
            break;
        }
        int32_t pad0[TOK_CONTEXT], padeot[TOK_CONTEXT];
        int eot = tok_context(t, ids, n, 0, pad0);
        tok_context(t, ids, n, tok_eot(t), padeot);
        json_array_append_new(res, json_pack("{s:O, s:o, s:o, s:o, s:i}", "name",
                                             json_object_get(c, "name"), "bpe_ids", ids_json(ids, n),
                                             "tokens_77_pad0", ids_json(pad0, TOK_CONTEXT),
                                             "tokens_77_pad_eot", ids_json(padeot, TOK_CONTEXT),
                                             "eot_index", eot));
        free(ids);
    }
    json_t *root = json_pack("{s:o}", "cases", res);
    if (rc == 0 && json_dump_file(root, out, JSON_COMPACT) != 0) {
        fprintf(stderr, "imgapi: cannot write %s\n", out);
        rc = 1;
    }
    json_decref(root);
    json_decref(in);
    tok_free(t);
    return rc;
}

int cmd_debug(int argc, char **argv, const cli_env_t *env) {
    (void)env;
    config_t cfg;
    config_defaults(&cfg);
    static const char *const extra[] = {"weights", "inputs", "out"};
    const char *v[3] = {0};
    const char *pos[1];
    int npos;
    int rc = cli_parse_common(argc, argv, &cfg, pos, &npos, 1, extra, v, 3);
    if (rc) return rc;
    if (npos != 1 || !v[0] || !v[1] || !v[2]) {
        fprintf(stderr, "usage: imgapi debug COMPONENT --weights W --inputs I --out O\n"
                        "components: tokenizer, text-encoder\n");
        return 2;
    }
    if (!strcmp(pos[0], "tokenizer")) return debug_tokenizer(v[0], v[1], v[2]);
    fprintf(stderr, "imgapi: unknown debug component '%s'\n", pos[0]);
    return 2;
}
