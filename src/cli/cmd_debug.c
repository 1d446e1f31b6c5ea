/* cmd_debug.c - `imgapi debug COMPONENT --weights W --inputs I --out O`: runs one engine part on
 * inputs from a file and writes its outputs with the tensor names of the golden sets. */
#include "cli/cli.h"
#include "cli/debug.h"
#include <stdio.h>
#include <string.h>

int cmd_debug(int argc, char **argv, const cli_env_t *env) {
    (void)env;
    config_t cfg;
    config_defaults(&cfg);
    static const char *const extra[] = {"weights", "inputs", "out", "prefix", "vae"};
    const char *v[5] = {0};
    const char *pos[1];
    int npos;
    int rc = cli_parse_common(argc, argv, &cfg, pos, &npos, 1, extra, v, 5);
    if (rc) return rc;
    int needs_weights = npos == 1 && strcmp(pos[0], "sampler") != 0 && strcmp(pos[0], "rng") != 0;
    if (npos != 1 || (needs_weights && !v[0]) || !v[1] || !v[2]) {
        fprintf(stderr, "usage: imgapi debug COMPONENT --weights W --inputs I --out O [--prefix P] "
                        "[--vae W2]\n"
                        "components: tokenizer, text-encoder, unet, vae-decoder, vae-encoder, "
                        "inpaint-condition (--vae), tiny-decoder, tiny-encoder, sampler, rng\n"
                        "(sampler and rng take no --weights)\n");
        return 2;
    }
    if (!strcmp(pos[0], "tokenizer")) return debug_tokenizer(v[0], v[1], v[2]);
    if (!strcmp(pos[0], "text-encoder")) return debug_text_encoder(&cfg, v[0], v[1], v[2], v[3]);
    if (!strcmp(pos[0], "unet")) return debug_unet(&cfg, v[0], v[1], v[2]);
    if (!strcmp(pos[0], "vae-decoder")) return debug_vae(&cfg, v[0], v[1], v[2]);
    if (!strcmp(pos[0], "vae-encoder")) return debug_vae_encoder(&cfg, v[0], v[1], v[2]);
    if (!strcmp(pos[0], "inpaint-condition"))
        return debug_inpaint_condition(&cfg, v[0], v[4], v[1], v[2]);
    if (!strcmp(pos[0], "tiny-decoder")) return debug_tiny(&cfg, 0, v[0], v[1], v[2]);
    if (!strcmp(pos[0], "tiny-encoder")) return debug_tiny(&cfg, 1, v[0], v[1], v[2]);
    if (!strcmp(pos[0], "sampler")) return debug_sampler(v[1], v[2]);
    if (!strcmp(pos[0], "rng")) return debug_rng(v[1], v[2]);
    fprintf(stderr, "imgapi: unknown debug component '%s'\n", pos[0]);
    return 2;
}
