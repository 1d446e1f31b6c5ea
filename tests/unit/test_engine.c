/* test_engine.c - the engine backend's model list, working sizes, built-in files, and the
 * tokenizer's short contexts. */
#include "common/status.h"
#include "config/config.h"
#include "engine/backend.h"
#include "engine/io/builtin.h"
#include "engine/io/safetensors.h"
#include "engine/text/tokenizer.h"
#include "harness.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void test_engine_native_size(void) {
    int w, h;
    engine_native_size(512, 64, 1024, 1024, &w, &h); /* SD: 512 on the short side */
    CHECK(w == 512 && h == 512);
    engine_native_size(512, 64, 1536, 1024, &w, &h);
    CHECK(w == 768 && h == 512);
    engine_native_size(1024, 64, 1024, 1536, &w, &h);
    CHECK(w == 1024 && h == 1536);
    engine_native_size(64, 32, 1536, 1024, &w, &h); /* the built-in model: 64 px, multiples of 32 */
    CHECK(w == 96 && h == 64);
    engine_native_size(64, 32, 1024, 1536, &w, &h);
    CHECK(w == 64 && h == 96);
    engine_native_size(40, 32, 1024, 1024, &w, &h); /* a native size below one multiple rounds up */
    CHECK(w == 32 && h == 32);
}

void test_engine_models_builtin(void) {
    config_t c;
    config_defaults(&c);
    const config_model_t *all[CONFIG_MAX_MODELS + 1];
    CHECK_EQ_INT(engine_models(&c, all), 1);
    CHECK(strcmp(all[0]->id, ENGINE_BUILTIN_MODEL) == 0);
    CHECK(engine_model(&c, ENGINE_BUILTIN_MODEL) == all[0]);
    char err[256];
    CHECK(config_set(&c, "model.sd.checkpoint", "/x.safetensors", err, sizeof err) == 0);
    CHECK(config_set(&c, "model.sd.tokenizer", "/tok", err, sizeof err) == 0);
    CHECK_EQ_INT(engine_models(&c, all), 2); /* configured models first: the first is the default */
    CHECK(strcmp(all[0]->id, "sd") == 0 && strcmp(all[1]->id, ENGINE_BUILTIN_MODEL) == 0);
    CHECK(config_set(&c, "builtin_model", "0", err, sizeof err) == 0);
    CHECK_EQ_INT(engine_models(&c, all), 1);
    CHECK(engine_model(&c, ENGINE_BUILTIN_MODEL) == NULL);
    CHECK(config_set(&c, "builtin_model", "2", err, sizeof err) != 0);
    /* a configured model may take the built-in id (and replaces it) */
    CHECK(config_set(&c, "builtin_model", "1", err, sizeof err) == 0);
    CHECK(config_set(&c, "model.imgapi-shapes.checkpoint", "/y.safetensors", err, sizeof err) == 0);
    CHECK_EQ_INT(engine_models(&c, all), 2);
    CHECK(strcmp(engine_model(&c, ENGINE_BUILTIN_MODEL)->checkpoint, "/y.safetensors") == 0);
    /* a standard model's guidance can be set per model */
    CHECK(config_set(&c, "model.sd.guidance", "4.5", err, sizeof err) == 0);
    CHECK(engine_model(&c, "sd")->guidance == 4.5f);
    CHECK(config_set(&c, "model.sd.guidance", "0.5", err, sizeof err) != 0 && strstr(err, "guidance"));
    CHECK(config_set(&c, "model.sd.guidance", "7x", err, sizeof err) != 0);
}

void test_engine_builtin_files(void) {
    const void *data;
    size_t len;
    CHECK(builtin_find("builtin:imgapi-shapes/model.safetensors", &data, &len) == IMG_OK && len > 1000);
    CHECK(((uintptr_t)data & 63) == 0);
    CHECK(builtin_find("builtin:imgapi-shapes/nothing", &data, &len) == IMG_ENOTFOUND);
    st_file_t *f = NULL;
    char err[256];
    CHECK(st_open("builtin:imgapi-shapes/model.safetensors", &f, err, sizeof err) == IMG_OK);
    CHECK(f && st_find(f, "model.diffusion_model.input_blocks.0.0.weight") != NULL);
    CHECK(f && st_metadata(f, "imgapi.native") != NULL);
    st_close(f);
    CHECK(st_open("builtin:missing.safetensors", &f, err, sizeof err) == IMG_ENOTFOUND);
    CHECK(strstr(err, "builtin:missing.safetensors") != NULL);
}

void test_tokenizer_short_context(void) {
    tokenizer_t *t = NULL;
    char err[256];
    CHECK(tok_load(NULL, &t, err, sizeof err) == IMG_EINVAL); /* a model configured without one */
    CHECK(strstr(err, "model.ID.tokenizer") != NULL);
    CHECK(tok_load("", &t, err, sizeof err) == IMG_EINVAL);
    CHECK(tok_load("builtin:imgapi-shapes", &t, err, sizeof err) == IMG_OK);
    if (!t) return;
    int32_t *ids;
    size_t n;
    CHECK(tok_encode(t, "two small red circles at the top, on a blue background", &ids, &n) == IMG_OK);
    CHECK_EQ_INT(n, 12); /* every grammar word is one token, the comma too */
    int32_t ctx[8];
    int eot = tok_context_len(t, ids, n, tok_eot(t), 8, ctx); /* cut to 6 words + SOT/EOT */
    CHECK_EQ_INT(eot, 7);
    CHECK(ctx[0] == tok_sot(t) && ctx[7] == tok_eot(t) && ctx[6] == ids[5]);
    int32_t full[TOK_CONTEXT];
    CHECK_EQ_INT(tok_context(t, ids, n, tok_eot(t), full), 13);
    CHECK(full[13] == tok_eot(t) && full[76] == tok_eot(t));
    free(ids);
    tok_free(t);
}
