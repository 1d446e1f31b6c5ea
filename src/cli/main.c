/* main.c - the imgapi binary: the CLI with this build's generator backends. */
#include "cli/cli.h"

int main(int argc, char **argv) {
    /* The engine backend is registered here when it is built in; until then there is no model
     * and `imgapi serve` refuses to start, saying why. */
    cli_env_t env = {.backends = NULL, .nbackends = 0};
    return cli_main(argc, argv, &env);
}
