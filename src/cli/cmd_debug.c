/* cmd_debug.c - `imgapi debug COMPONENT --weights W --inputs I --out O`: runs one engine part on
 * inputs from a file and writes its outputs with the tensor names of the golden sets. */
#include "cli/cli.h"
#include "cli/debug.h"
#include <stdio.h>
#include <string.h>

/* The options of `imgapi debug`, in the order of their enum. */
enum { D_WEIGHTS, D_INPUTS, D_OUT, D_PREFIX, D_VAE, D_LORA, D_QUANTIZE, D_NOPTS };
static const cli_opt_t DEBUG_OPTS[D_NOPTS] = {
    {"weights", 0, "W", NULL, NULL, NULL, "the safetensors file holding the component"},
    {"inputs", 0, "I", NULL, NULL, NULL, "the safetensors file of input tensors"},
    {"out", 0, "O", NULL, NULL, NULL, "where the output tensors are written"},
    {"prefix", 0, "P", NULL, NULL, NULL, "the tensor name prefix (text-encoder)"},
    {"vae", 0, "W2", NULL, NULL, NULL, "the VAE's file (inpaint-condition)"},
    {"lora", 0, "FILE[:SCALE]", NULL, NULL, NULL,
     "an adapter merged first, at strength SCALE (1); repeatable (unet, text-encoder)"},
    {"quantize", 0, "q8", NULL, NULL, NULL,
     "hold the matrices and convolutions as 8-bit panels, as a model's weights = q8 does"},
};
const cli_opts_t CLI_DEBUG_OPTS = {DEBUG_OPTS, D_NOPTS};

int cmd_debug(int argc, char **argv, const cli_env_t *env) {
    (void)env;
    config_t cfg;
    config_defaults(&cfg);
    const char *v[D_NOPTS];
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, &CLI_DEBUG_OPTS, NULL, &cfg, v, pos, &npos, 1);
    if (rc) return rc;
    int needs_weights = npos == 1 && strcmp(pos[0], "sampler") != 0 && strcmp(pos[0], "rng") != 0 &&
                        strcmp(pos[0], "flux-schedule") != 0;
    if (npos != 1 || (needs_weights && !v[D_WEIGHTS]) || !v[D_INPUTS] || !v[D_OUT]) {
        fprintf(stderr,
                "imgapi: one component, --inputs and --out are needed, and --weights but for "
                "sampler, rng and flux-schedule\n");
        return cli_usage_error("debug");
    }
    /* --lora is repeatable: every occurrence, in order */
    const char *loras[32];
    int nloras = 0;
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        const char *val = !strcmp(argv[i], "--lora") && i + 1 < argc ? argv[++i]
                          : !strncmp(argv[i], "--lora=", 7)          ? argv[i] + 7
                                                                     : NULL;
        if (!val) continue;
        if (nloras == (int)(sizeof loras / sizeof loras[0])) {
            fprintf(stderr, "imgapi: at most %d --lora options\n", nloras);
            return 2;
        }
        loras[nloras++] = val;
    }
    if (nloras && strcmp(pos[0], "unet") && strcmp(pos[0], "text-encoder")) {
        fprintf(stderr, "imgapi: --lora applies to unet and text-encoder only\n");
        return cli_usage_error("debug");
    }
    int q8 = v[D_QUANTIZE] != NULL;
    if (q8 && strcmp(v[D_QUANTIZE], "q8")) {
        fprintf(stderr, "imgapi: --quantize takes q8\n");
        return cli_usage_error("debug");
    }
    if (!strcmp(pos[0], "tokenizer")) return debug_tokenizer(v[D_WEIGHTS], v[D_INPUTS], v[D_OUT]);
    if (!strcmp(pos[0], "text-encoder"))
        return debug_text_encoder(&cfg, v[D_WEIGHTS], v[D_INPUTS], v[D_OUT], v[D_PREFIX], loras, nloras, q8);
    if (!strcmp(pos[0], "unet")) return debug_unet(&cfg, v[D_WEIGHTS], v[D_INPUTS], v[D_OUT], loras, nloras, q8);
    if (!strcmp(pos[0], "vae-decoder")) return debug_vae(&cfg, v[D_WEIGHTS], v[D_INPUTS], v[D_OUT], q8);
    if (!strcmp(pos[0], "vae-encoder"))
        return debug_vae_encoder(&cfg, v[D_WEIGHTS], v[D_INPUTS], v[D_OUT], q8);
    if (!strcmp(pos[0], "inpaint-condition"))
        return debug_inpaint_condition(&cfg, v[D_WEIGHTS], v[D_VAE], v[D_INPUTS], v[D_OUT], q8);
    if (!strcmp(pos[0], "tiny-decoder"))
        return debug_tiny(&cfg, 0, v[D_WEIGHTS], v[D_INPUTS], v[D_OUT]);
    if (!strcmp(pos[0], "tiny-encoder"))
        return debug_tiny(&cfg, 1, v[D_WEIGHTS], v[D_INPUTS], v[D_OUT]);
    if (!strcmp(pos[0], "flux-ae-decoder") || !strcmp(pos[0], "flux-ae-encoder"))
        return debug_flux_ae(&cfg, !strcmp(pos[0], "flux-ae-encoder"), v[D_WEIGHTS], v[D_INPUTS], v[D_OUT], q8);
    if (!strcmp(pos[0], "flux-pipeline")) return debug_flux_pipeline(&cfg, v[D_WEIGHTS], v[D_INPUTS], v[D_OUT], q8);
    if (!strcmp(pos[0], "qwen-tokenizer")) return debug_qwen_tokenizer(v[D_WEIGHTS], v[D_INPUTS], v[D_OUT]);
    if (!strcmp(pos[0], "qwen3-text")) return debug_qwen3_text(&cfg, v[D_WEIGHTS], v[D_INPUTS], v[D_OUT], q8);
    if (!strcmp(pos[0], "flux-schedule")) return debug_flux_schedule(v[D_INPUTS], v[D_OUT]);
    if (!strcmp(pos[0], "flux-sampler"))
        return debug_flux_sampler(&cfg, v[D_WEIGHTS], v[D_INPUTS], v[D_OUT], q8);
    if (!strcmp(pos[0], "flux-transformer"))
        return debug_flux_transformer(&cfg, v[D_WEIGHTS], v[D_INPUTS], v[D_OUT], q8);
    if (!strcmp(pos[0], "sampler")) return debug_sampler(v[D_INPUTS], v[D_OUT]);
    if (!strcmp(pos[0], "rng")) return debug_rng(v[D_INPUTS], v[D_OUT]);
    fprintf(stderr, "imgapi: unknown debug component '%s'\n", pos[0]);
    return 2;
}
