/* test_diffusers.c - a small diffusers folder written here, read as one LDM checkpoint: names
 * mapped, q/k/v fused in order, the projection transposed, heads and native size in the
 * metadata; and out of memory at every allocation of the reading. Whole models are checked from
 * the outside (tests/engine/diffusers.py). */
#include "common/status.h"
#include "engine/io/diffusers.h"
#include "engine/io/gguf.h"
#include "engine/io/safetensors.h"
#include "engine/models/embeddings.h"
#include "engine/text/tokenizer.h"
#include "tests/unit/fault_alloc.h"
#include "tests/unit/harness.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(st_writer_t *w, const char *name, int ndim, const int64_t *shape, float first) {
    float v[64];
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    for (int64_t i = 0; i < n && i < 64; i++) v[i] = first + (float)i;
    CHECK(st_writer_add(w, name, ST_F32, ndim, shape, v) == IMG_OK);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

void test_diffusers_folder(void) {
    char dir[] = "/tmp/imgapi-diffusers-XXXXXX", p[256];
    CHECK(mkdtemp(dir) != NULL);
    static const char *const PARTS[] = {"unet", "vae", "text_encoder"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, PARTS[i]);
        mkdir(p, 0700);
    }
    snprintf(p, sizeof p, "%s/model_index.json", dir);
    write_text(p, "{}");
    snprintf(p, sizeof p, "%s/unet/config.json", dir);
    write_text(p, "{\"layers_per_block\": 2, \"block_out_channels\": [32, 64], \"attention_head_dim\": [2, 4], "
                  "\"sample_size\": 32}");
    snprintf(p, sizeof p, "%s/vae/config.json", dir);
    write_text(p, "{\"block_out_channels\": [32, 32, 32, 32]}");
    snprintf(p, sizeof p, "%s/text_encoder/config.json", dir);
    write_text(p, "{\"hidden_act\": \"gelu\", \"hidden_size\": 2, \"num_attention_heads\": 1}");
    st_writer_t *w;
    int64_t s1[1] = {2}, s2[2] = {2, 2}, s4[4] = {2, 2, 1, 1}, sp[2] = {3, 2};
    CHECK(st_writer_new(&w) == IMG_OK);
    put(w, "conv_in.weight", 4, s4, 0);
    put(w, "down_blocks.0.resnets.1.time_emb_proj.weight", 2, s2, 0);
    put(w, "down_blocks.1.downsamplers.0.conv.bias", 1, s1, 0);
    put(w, "up_blocks.0.upsamplers.0.conv.weight", 4, s4, 0);
    put(w, "up_blocks.0.attentions.0.norm.weight", 1, s1, 0); /* so its upsampler is layer 2 */
    put(w, "up_blocks.1.attentions.2.proj_out.weight", 2, s2, 0);
    put(w, "mid_block.resnets.1.conv_shortcut.weight", 4, s4, 0);
    put(w, "not.a.unet.name", 1, s1, 0);
    snprintf(p, sizeof p, "%s/unet/diffusion_pytorch_model.fp16.safetensors", dir);
    CHECK(st_writer_save(w, p) == IMG_OK);
    st_writer_free(w);
    CHECK(st_writer_new(&w) == IMG_OK);
    put(w, "decoder.up_blocks.0.upsamplers.0.conv.weight", 4, s4, 0);
    put(w, "decoder.mid_block.attentions.0.to_q.weight", 2, s2, 0);
    put(w, "encoder.down_blocks.1.resnets.0.conv_shortcut.bias", 1, s1, 0);
    snprintf(p, sizeof p, "%s/vae/diffusion_pytorch_model.safetensors", dir);
    CHECK(st_writer_save(w, p) == IMG_OK);
    st_writer_free(w);
    CHECK(st_writer_new(&w) == IMG_OK);
    put(w, "text_model.encoder.layers.0.layer_norm1.weight", 1, s1, 0);
    put(w, "text_model.encoder.layers.0.self_attn.q_proj.weight", 2, s2, 0);
    put(w, "text_model.encoder.layers.0.self_attn.k_proj.weight", 2, s2, 10);
    put(w, "text_model.encoder.layers.0.self_attn.v_proj.weight", 2, s2, 20);
    put(w, "text_projection.weight", 2, sp, 0); /* [3, 2]: y = P x */
    put(w, "text_model.embeddings.position_ids", 1, s1, 0);
    snprintf(p, sizeof p, "%s/text_encoder/model.safetensors", dir);
    CHECK(st_writer_save(w, p) == IMG_OK);
    st_writer_free(w);

    CHECK(diffusers_is_folder(dir));
    st_file_t *f = NULL;
    char err[512];
    int rc = st_open(dir, &f, err, sizeof err);
    CHECK(rc == IMG_OK);
    if (rc) fprintf(stderr, "  %s\n", err);
    if (f) {
        static const char *const WANT[] = {"model.diffusion_model.input_blocks.0.0.weight",
                                           "model.diffusion_model.input_blocks.2.0.emb_layers.1.weight",
                                           "model.diffusion_model.input_blocks.6.0.op.bias",
                                           "model.diffusion_model.output_blocks.2.2.conv.weight",
                                           "model.diffusion_model.output_blocks.5.1.proj_out.weight",
                                           "model.diffusion_model.middle_block.2.skip_connection.weight",
                                           "first_stage_model.decoder.up.3.upsample.conv.weight",
                                           "first_stage_model.encoder.down.1.block.0.nin_shortcut.bias",
                                           "cond_stage_model.model.transformer.resblocks.0.ln_1.weight"};
        for (size_t i = 0; i < sizeof WANT / sizeof WANT[0]; i++) {
            if (!st_find(f, WANT[i])) fprintf(stderr, "  missing %s\n", WANT[i]);
            CHECK(st_find(f, WANT[i]) != NULL);
        }
        CHECK(st_count(f) == 13); /* the unknown name and position_ids are left out */
        const st_tensor_t *q = st_find(f, "first_stage_model.decoder.mid.attn_1.q.weight");
        CHECK(q && q->ndim == 4 && q->shape[2] == 1 && q->shape[3] == 1);
        const st_tensor_t *in = st_find(f, "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight");
        float v[12];
        CHECK(in && in->ndim == 2 && in->shape[0] == 6 && st_to_f32(in, v, 12) == IMG_OK);
        CHECK(v[0] == 0 && v[4] == 10 && v[8] == 20 && v[11] == 23); /* rows q, k, v */
        const st_tensor_t *tp = st_find(f, "cond_stage_model.model.text_projection");
        float t[6];
        CHECK(tp && tp->shape[0] == 2 && tp->shape[1] == 3 && st_to_f32(tp, t, 6) == IMG_OK);
        CHECK(t[0] == 0 && t[1] == 2 && t[2] == 4 && t[3] == 1); /* transposed */
        CHECK(st_metadata(f, "imgapi.native") && !strcmp(st_metadata(f, "imgapi.native"), "256"));
        CHECK(st_metadata(f, "config") && strstr(st_metadata(f, "config"), "\"num_head_channels\":16"));
        st_close(f);
    }
    /* out of memory at every allocation: an error, nothing leaked */
    fault_alloc_arm(0);
    rc = st_open(dir, &f, err, sizeof err);
    long n = fault_alloc_disarm();
    st_close(f);
    CHECK(rc == IMG_OK && n > 10);
    for (long k = 1; k <= n; k++) {
        f = NULL;
        fault_alloc_arm(k);
        rc = st_open(dir, &f, err, sizeof err);
        fault_alloc_disarm();
        if (rc == IMG_OK) st_close(f);
        else CHECK(f == NULL && (rc == IMG_ENOMEM || rc == IMG_EFORMAT || rc == IMG_EIO));
    }
    /* cleanup */
    static const char *const FILES[] = {"unet/diffusion_pytorch_model.fp16.safetensors", "unet/config.json",
                                        "vae/diffusion_pytorch_model.safetensors", "vae/config.json",
                                        "text_encoder/model.safetensors", "text_encoder/config.json",
                                        "model_index.json"};
    for (size_t i = 0; i < sizeof FILES / sizeof FILES[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, FILES[i]);
        unlink(p);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, PARTS[i]);
        rmdir(p);
    }
    rmdir(dir);
}

/* Textual inversion: a folder's embeddings (one fits, one is another model's), a prompt naming
 * one as a whole word in any case, its vectors as negative ids; out of memory at every
 * allocation of loading and encoding. */
void test_textual_inversion_encode(void) {
    char dir[] = "/tmp/imgapi-ti-XXXXXX", p[256], err[256];
    CHECK(mkdtemp(dir) != NULL);
    st_writer_t *w;
    int64_t s2[2] = {2, 4}, s1[2] = {1, 8};
    CHECK(st_writer_new(&w) == IMG_OK);
    put(w, "emb_params", 2, s2, 100);
    snprintf(p, sizeof p, "%s/Sparkle.safetensors", dir);
    CHECK(st_writer_save(w, p) == IMG_OK);
    st_writer_free(w);
    CHECK(st_writer_new(&w) == IMG_OK);
    put(w, "emb_params", 2, s1, 0);
    snprintf(p, sizeof p, "%s/wide.safetensors", dir);
    CHECK(st_writer_save(w, p) == IMG_OK);
    st_writer_free(w);
    tokenizer_t *tok = NULL;
    CHECK(tok_load("builtin:imgapi-shapes", &tok, err, sizeof err) == IMG_OK);
    int widths[1] = {4}, skipped = 0;
    ti_set_t ti;
    CHECK(ti_load_dir(dir, widths, 1, &ti, &skipped, err, sizeof err) == IMG_OK);
    CHECK(ti.n == 1 && skipped == 1 && !strcmp(ti.e[0].name, "Sparkle") && ti.e[0].nvec == 2);
    int32_t *ids = NULL, *plain = NULL;
    size_t n = 0, np = 0;
    float *extra[1] = {NULL};
    int rows = 0;
    CHECK(tok && ti_encode(&ti, tok, "a red sparkle circle, SPARKLE", 1, widths, &ids, &n, extra, &rows) == IMG_OK);
    CHECK(tok && tok_encode(tok, "a red circle,", &plain, &np) == IMG_OK);
    /* a red [s0 s1] circle , [s2 s3] */
    CHECK(n == np + 4 && rows == 4 && ids && plain);
    if (ids && plain && n == np + 4) {
        CHECK(ids[0] == plain[0] && ids[1] == plain[1] && ids[2] == -1 && ids[3] == -2 && ids[4] == plain[2]);
        CHECK(ids[n - 2] == -3 && ids[n - 1] == -4);
        CHECK(extra[0][0] == 100 && extra[0][4] == 104 && extra[0][8] == 100); /* rows 0, 1, 2 */
    }
    free(ids);
    free(plain);
    free(extra[0]);
    /* "sparkles" and "xsparkle" are other words */
    CHECK(ti_encode(&ti, tok, "sparkles xsparkle", 1, widths, &ids, &n, extra, &rows) == IMG_OK && rows == 0);
    free(ids);
    free(extra[0]);
    ti_free(&ti);
    for (long k = 1;; k++) { /* every allocation of loading and encoding fails once */
        fault_alloc_arm(k);
        int rc = ti_load_dir(dir, widths, 1, &ti, &skipped, err, sizeof err);
        if (!rc) rc = ti_encode(&ti, tok, "a sparkle", 1, widths, &ids, &n, extra, &rows);
        int fired = fault_alloc_fired();
        fault_alloc_disarm();
        if (!rc) {
            free(ids);
            free(extra[0]);
        }
        ti_free(&ti);
        if (!fired) break;
        CHECK(rc == IMG_OK || rc == IMG_ENOMEM); /* a file it could not read is skipped */
    }
    tok_free(tok);
    snprintf(p, sizeof p, "%s/Sparkle.safetensors", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/wide.safetensors", dir);
    unlink(p);
    rmdir(dir);
}

/* GGUF: one hand-made block of each type decodes to the values its definition gives (worked out
 * here by hand), shapes come back row-major; out of memory at every allocation. */
static size_t gg_str(uint8_t *p, const char *s) {
    uint64_t n = strlen(s);
    memcpy(p, &n, 8);
    memcpy(p + 8, s, n);
    return 8 + n;
}

static size_t gg_file(uint8_t *buf, uint32_t type, const uint8_t *block, size_t bytes) {
    size_t o = 0;
    uint32_t v = 3, nd = 2, t = type;
    uint64_t nt = 1, nkv = 0, d0 = 32, d1 = 1, off = 0;
    memcpy(buf, "GGUF", 4);
    o = 4;
    memcpy(buf + o, &v, 4), o += 4;
    memcpy(buf + o, &nt, 8), o += 8;
    memcpy(buf + o, &nkv, 8), o += 8;
    o += gg_str(buf + o, "w");
    memcpy(buf + o, &nd, 4), o += 4;
    memcpy(buf + o, &d0, 8), o += 8; /* innermost first: the tensor is [1, 32] */
    memcpy(buf + o, &d1, 8), o += 8;
    memcpy(buf + o, &t, 4), o += 4;
    memcpy(buf + o, &off, 8), o += 8;
    while (o % 32) buf[o++] = 0;
    memcpy(buf + o, block, bytes);
    return o + bytes;
}

void test_gguf_blocks(void) {
    /* d = 0.5 (half 0x3800), m = -1 (half 0xbc00); nibbles: byte j holds value j (low) and j+16 (high) */
    uint8_t q8[34] = {0x00, 0x38}, q40[18] = {0x00, 0x38}, q41[20] = {0x00, 0x38, 0x00, 0xbc};
    uint8_t q50[22] = {0x00, 0x38, 0xff, 0x00, 0x00, 0x80}, q51[24] = {0x00, 0x38, 0x00, 0xbc, 0x01, 0x00, 0x01, 0x00};
    for (int j = 0; j < 32; j++) q8[2 + j] = (uint8_t)(int8_t)(j - 16);
    for (int j = 0; j < 16; j++) {
        q40[2 + j] = (uint8_t)(j | (15 - j) << 4);
        q41[4 + j] = (uint8_t)(j | 3 << 4);
        q50[6 + j] = (uint8_t)(j | j << 4);
        q51[8 + j] = (uint8_t)(j | j << 4);
    }
    struct {
        uint32_t type;
        const uint8_t *b;
        size_t n;
        float want[4]; /* values 0, 1, 16, 31 */
    } cases[] = {
        {8, q8, sizeof q8, {-8, -7.5f, 0, 7.5f}},           /* 0.5 * (j - 16) */
        {2, q40, sizeof q40, {-4, -3.5f, 3.5f, -4}},        /* 0.5 * (q - 8): low j, high 15 - j */
        {3, q41, sizeof q41, {-1, -0.5f, 0.5f, 0.5f}},      /* 0.5 * q - 1: low j, high 3 */
        {6, q50, sizeof q50, {0, 0.5f, -8, 7.5f}},          /* 0.5 * (q - 16), fifth bits: values 0-7, 31 */
        {7, q51, sizeof q51, {7, -0.5f, 7, 6.5f}},          /* 0.5 * q - 1, fifth bits: values 0, 16 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t buf[256];
        size_t len = gg_file(buf, cases[c].type, cases[c].b, cases[c].n);
        st_file_t *f = NULL;
        char err[256];
        int rc = gguf_parse(buf, len, &f, err, sizeof err);
        CHECK(rc == IMG_OK);
        if (rc) {
            fprintf(stderr, "  type %u: %s\n", cases[c].type, err);
            continue;
        }
        const st_tensor_t *t = st_find(f, "w");
        float v[32];
        CHECK(t && t->ndim == 2 && t->shape[0] == 1 && t->shape[1] == 32 && st_to_f32(t, v, 32) == IMG_OK);
        CHECK(t && ST_IS_BLOCK(t->dtype) && t->nbytes == cases[c].n); /* read in place */
        const int at[4] = {0, 1, 16, 31};
        for (int k = 0; t && k < 4; k++) {
            if (v[at[k]] != cases[c].want[k])
                fprintf(stderr, "  type %u value %d: %g, expected %g\n", cases[c].type, at[k], v[at[k]], cases[c].want[k]);
            CHECK(v[at[k]] == cases[c].want[k]);
        }
        st_close(f);
        /* out of memory at every allocation of the parse */
        for (long k = 1;; k++) {
            f = NULL;
            fault_alloc_arm(k);
            rc = gguf_parse(buf, len, &f, err, sizeof err);
            int fired = fault_alloc_fired();
            fault_alloc_disarm();
            if (rc == IMG_OK) st_close(f);
            else CHECK(rc == IMG_ENOMEM && f == NULL);
            if (!fired) break;
        }
    }
}
