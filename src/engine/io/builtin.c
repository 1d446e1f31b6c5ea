/* builtin.c - the table of files that builtin_data.S compiles into the binary. */
#include "engine/io/builtin.h"
#include "common/status.h"
#include <string.h>

#define BLOB(sym)                                                                                  \
    extern const unsigned char imgapi_builtin_##sym[];                                             \
    extern const unsigned char imgapi_builtin_##sym##_end[];
BLOB(shapes_model)
BLOB(shapes_decoder)
BLOB(shapes_encoder)
BLOB(shapes_vocab)
BLOB(shapes_merges)

static const struct {
    const char *name;
    const unsigned char *start, *end;
} FILES[] = {
    {"imgapi-shapes/model.safetensors", imgapi_builtin_shapes_model, imgapi_builtin_shapes_model_end},
    {"imgapi-shapes/decoder.safetensors", imgapi_builtin_shapes_decoder, imgapi_builtin_shapes_decoder_end},
    {"imgapi-shapes/encoder.safetensors", imgapi_builtin_shapes_encoder, imgapi_builtin_shapes_encoder_end},
    {"imgapi-shapes/vocab.json", imgapi_builtin_shapes_vocab, imgapi_builtin_shapes_vocab_end},
    {"imgapi-shapes/merges.txt", imgapi_builtin_shapes_merges, imgapi_builtin_shapes_merges_end},
};

int builtin_is(const char *path) { return strncmp(path, BUILTIN_PREFIX, strlen(BUILTIN_PREFIX)) == 0; }

int builtin_find(const char *path, const void **data, size_t *len) {
    if (builtin_is(path)) path += strlen(BUILTIN_PREFIX);
    for (size_t i = 0; i < sizeof FILES / sizeof FILES[0]; i++)
        if (strcmp(FILES[i].name, path) == 0) {
            *data = FILES[i].start;
            *len = (size_t)(FILES[i].end - FILES[i].start);
            return IMG_OK;
        }
    return IMG_ENOTFOUND;
}
