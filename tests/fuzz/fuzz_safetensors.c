/* fuzz_safetensors.c - libFuzzer target: the safetensors header parser on arbitrary bytes.
 * Every tensor it accepts must lie inside the buffer and convert to f32 without faults. */
#include "engine/io/safetensors.h"
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file_t *f;
    char err[256];
    if (st_parse(data, size, &f, err, sizeof err) != 0) return 0;
    for (size_t i = 0; i < st_count(f); i++) {
        const st_tensor_t *t = st_get(f, i);
        if ((const uint8_t *)t->data < data || (const uint8_t *)t->data + t->nbytes > data + size) abort();
        if (t->numel <= 4096) {
            float *buf = malloc(sizeof(float) * (size_t)(t->numel + 1));
            if (buf) st_to_f32(t, buf, (size_t)t->numel);
            free(buf);
        }
        if (st_find(f, t->name) != t) abort();
    }
    st_close(f);
    return 0;
}
