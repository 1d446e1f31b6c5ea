/* main.c - the imgapi binary: the CLI with the inference engine as its generator backend. */
#include "cli/cli.h"
#include "engine/backend.h"

int main(int argc, char **argv) {
    const gen_backend_t *backends[] = {engine_backend()};
    cli_env_t env = {.backends = backends, .nbackends = 1};
    return cli_main(argc, argv, &env);
}
