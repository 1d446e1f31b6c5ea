/* test_main.c - the test server binary: imgapi's CLI with the deterministic test backend.
 * Built and used only by the test suite. */
#include "cli/cli.h"
#include "tests/support/fake_backend.h"

int main(int argc, char **argv) {
    const gen_backend_t *backends[] = {fake_backend()};
    cli_env_t env = {.backends = backends, .nbackends = 1};
    return cli_main(argc, argv, &env);
}
