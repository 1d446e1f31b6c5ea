/* main.c - the imgapi binary: the CLI with the inference engine as its generator backend. */
#include "cli/cli.h"
#include "engine/backend.h"
#ifdef __GLIBC__
#include <malloc.h>
#endif

int main(int argc, char **argv) {
#ifdef __GLIBC__
    /* Large blocks (4 MiB up: work arenas, weights being packed, images) are mapped on their
     * own and go back to the system when freed. glibc's default threshold slides up to 32 MiB
     * after each such free, after which they come from the heap, whose freed pages stay resident:
     * a loaded SD 2 model then carried 60-150 MiB of dead heap through every request. */
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
#endif
    const gen_backend_t *backends[] = {engine_backend()};
    cli_env_t env = {.backends = backends, .nbackends = 1};
    return cli_main(argc, argv, &env);
}
