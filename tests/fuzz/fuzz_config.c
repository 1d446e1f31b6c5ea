/* fuzz_config.c - libFuzzer target: the config file parser (name = value lines, model.ID.*,
 * price.*) on arbitrary text. Whatever it accepts or refuses, it must not fault, and a refusal
 * comes with a reason. */
#include "config/config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[] = "/tmp/imgapi-fuzz-config-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(path);
        return 0;
    }
    fwrite(data, 1, size, f);
    fclose(f);
    config_t c;
    config_defaults(&c);
    char err[512] = "";
    if (config_load_file(&c, path, err, sizeof err) != 0 && !err[0]) abort();
    unlink(path);
    return 0;
}
