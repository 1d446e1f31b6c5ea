/* test_lora.c - adapter names (ldm -> diffusers), the merge on values worked out by hand, an
 * overlay's view of its file, and out of memory at every allocation of a merge. The formats'
 * math on real shapes is checked from the outside (tests/engine/lora.py). */
#include "common/status.h"
#include "engine/io/safetensors.h"
#include "engine/lora/lora.h"
#include "engine/lora/lora_names.h"
#include "engine/tensor/dtype.h"
#include "tests/unit/fault_alloc.h"
#include "tests/unit/harness.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int maps_to(const char *ldm, int lpb, const char *want) {
    char out[256];
    int rc = lora_ldm_to_diffusers(ldm, lpb, out, sizeof out);
    if (!want) return rc == -1;
    if (rc || strcmp(out, want))
        fprintf(stderr, "%s -> %s (rc %d), expected %s\n", ldm, out, rc, want);
    return rc == 0 && !strcmp(out, want);
}

void test_lora_diffusers_names(void) {
    /* SD 1.x / 2.x and SDXL: two res blocks per level */
    CHECK(maps_to("input_blocks.0.0", 2, "conv_in"));
    CHECK(maps_to("input_blocks.1.0.in_layers.2", 2, "down_blocks.0.resnets.0.conv1"));
    CHECK(maps_to("input_blocks.2.1.transformer_blocks.0.attn1.to_q", 2,
                  "down_blocks.0.attentions.1.transformer_blocks.0.attn1.to_q"));
    CHECK(maps_to("input_blocks.3.0.op", 2, "down_blocks.0.downsamplers.0.conv"));
    CHECK(maps_to("input_blocks.4.1.proj_in", 2, "down_blocks.1.attentions.0.proj_in"));
    CHECK(maps_to("input_blocks.5.0.skip_connection", 2, "down_blocks.1.resnets.1.conv_shortcut"));
    CHECK(maps_to("input_blocks.7.0.emb_layers.1", 2, "down_blocks.2.resnets.0.time_emb_proj"));
    CHECK(maps_to("middle_block.0.out_layers.3", 2, "mid_block.resnets.0.conv2"));
    CHECK(maps_to("middle_block.1.transformer_blocks.1.ff.net.2", 2,
                  "mid_block.attentions.0.transformer_blocks.1.ff.net.2"));
    CHECK(maps_to("middle_block.2.in_layers.0", 2, "mid_block.resnets.1.norm1"));
    CHECK(maps_to("output_blocks.0.0.out_layers.0", 2, "up_blocks.0.resnets.0.norm2"));
    CHECK(maps_to("output_blocks.0.1.proj_out", 2, "up_blocks.0.attentions.0.proj_out")); /* SDXL */
    CHECK(maps_to("output_blocks.2.1.conv", 2, "up_blocks.0.upsamplers.0.conv")); /* SD 1.x */
    CHECK(maps_to("output_blocks.2.2.conv", 2, "up_blocks.0.upsamplers.0.conv")); /* SDXL */
    CHECK(maps_to("output_blocks.5.1.transformer_blocks.0.attn2.to_out.0", 2,
                  "up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_out.0"));
    CHECK(maps_to("output_blocks.11.0.skip_connection", 2, "up_blocks.3.resnets.2.conv_shortcut"));
    CHECK(maps_to("time_embed.2", 2, "time_embedding.linear_2"));
    CHECK(maps_to("label_emb.0.0", 2, "add_embedding.linear_1"));
    CHECK(maps_to("out.2", 2, "conv_out"));
    /* one res block per level */
    CHECK(maps_to("input_blocks.2.0.op", 1, "down_blocks.0.downsamplers.0.conv"));
    CHECK(maps_to("input_blocks.3.1.norm", 1, "down_blocks.1.attentions.0.norm"));
    /* no diffusers name */
    CHECK(maps_to("input_blocks.1.0.in_layers.9", 2, NULL));
    CHECK(maps_to("input_blocks.3.1.op", 2, NULL));
    CHECK(maps_to("middle_block.3.x", 2, NULL));
    CHECK(maps_to("something.else", 2, NULL));
    CHECK(maps_to("input_blocks.1.0.in_layers.2", 0, NULL));
}

/* A base with one F16 linear weight [2, 3] = 1..6 and an F32 conv [2, 1, 1, 1], and adapters
 * written to temporary files. */
static int write_file(const char *path, const char *const *names, const int64_t (*shapes)[4],
                      const int *ndims, const float *const *vals, const int *f16, int n) {
    st_writer_t *w;
    if (st_writer_new(&w)) return -1;
    st_writer_set_metadata(w, "kept", "yes");
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        int64_t numel = 1;
        for (int d = 0; d < ndims[i]; d++)
            numel *= shapes[i][d];
        uint16_t h[16];
        for (int64_t k = 0; f16[i] && k < numel; k++)
            h[k] = f32_to_f16(vals[i][k]);
        rc = st_writer_add(w, names[i], f16[i] ? ST_F16 : ST_F32, ndims[i], shapes[i],
                           f16[i] ? (void *)h : (void *)vals[i]);
    }
    if (!rc) rc = st_writer_save(w, path);
    st_writer_free(w);
    return rc;
}

void test_lora_merge_by_hand(void) {
    char base_path[] = "/tmp/imgapi-lora-base-XXXXXX", lora_path[] = "/tmp/imgapi-lora-a-XXXXXX",
         lokr_path[] = "/tmp/imgapi-lora-k-XXXXXX";
    close(mkstemp(base_path));
    close(mkstemp(lora_path));
    close(mkstemp(lokr_path));
    static const float W[6] = {1, 2, 3, 4, 5, 6}, C[2] = {1, -1};
    const char *bn[] = {"model.diffusion_model.input_blocks.1.1.proj_in.weight",
                        "model.diffusion_model.out.2.weight"};
    const int64_t bs[][4] = {{2, 3}, {2, 1, 1, 1}};
    const int bd[] = {2, 4}, bf[] = {1, 0};
    const float *bv[] = {W, C};
    CHECK(write_file(base_path, bn, bs, bd, bv, bf, 2) == 0);
    /* kohya LoRA on proj_in (ldm name), rank 1, alpha 2 (scale 2): ΔW = 2 · [1, 2]ᵀ [1, 0, -1];
     * PEFT on out.2 (diffusers "conv_out"): ΔW = [0.5, 1]ᵀ · [2] */
    static const float DN[3] = {1, 0, -1}, UP[2] = {1, 2}, AL[1] = {2}, A[1] = {2},
                       B[2] = {0.5f, 1};
    const char *ln[] = {"lora_unet_input_blocks_1_1_proj_in.lora_down.weight",
                        "lora_unet_input_blocks_1_1_proj_in.lora_up.weight",
                        "lora_unet_input_blocks_1_1_proj_in.alpha",
                        "unet.conv_out.lora_A.weight",
                        "unet.conv_out.lora_B.weight",
                        "unrelated.tensor"};
    const int64_t ls[][4] = {{1, 3}, {2, 1}, {0}, {1, 1, 1, 1}, {2, 1, 1, 1}, {1}};
    const int ld[] = {2, 2, 0, 4, 4, 1}, lf[] = {0, 0, 0, 0, 0, 0};
    const float *lv[] = {DN, UP, AL, A, B, AL};
    CHECK(write_file(lora_path, ln, ls, ld, lv, lf, 6) == 0);
    /* LoKr on proj_in, both factors whole (scale 1 whatever alpha says): kron([[1], [2]], [[1, 1,
     * 0]]) */
    static const float K1[2] = {1, 2}, K2[3] = {1, 1, 0};
    const char *kn[] = {"lora_unet_down_blocks_0_attentions_0_proj_in.lokr_w1",
                        "lora_unet_down_blocks_0_attentions_0_proj_in.lokr_w2",
                        "lora_unet_down_blocks_0_attentions_0_proj_in.alpha"};
    const int64_t ks[][4] = {{2, 1}, {1, 3}, {0}};
    const int kd[] = {2, 2, 0}, kf[] = {0, 0, 0};
    const float *kv[] = {K1, K2, AL};
    CHECK(write_file(lokr_path, kn, ks, kd, kv, kf, 3) == 0);

    st_file_t *base = NULL, *ov = NULL;
    char err[512];
    CHECK(st_open(base_path, &base, err, sizeof err) == IMG_OK);
    if (!base) return;
    lora_spec_t specs[2] = {{lora_path, "first", 0.5f}, {lokr_path, "second", 1.0f}};
    lora_stats_t st[2];
    CHECK(lora_apply(base, specs, 2, 2, &ov, st, err, sizeof err) == IMG_OK);
    CHECK_EQ_INT(st[0].modules, 2);
    CHECK_EQ_INT(st[0].applied, 2);
    CHECK_EQ_INT(st[1].applied, 1);
    if (ov) {
        const st_tensor_t *t = st_find(ov, bn[0]), *c = st_find(ov, bn[1]);
        float got[6], cv[2];
        CHECK(t && t->dtype == ST_F16 && st_to_f32(t, got, 6) == IMG_OK); /* the base's type kept */
        /* W + 0.5 · 2 · [[1, 0, -1], [2, 0, -2]] + [[1, 1, 0], [2, 2, 0]] */
        static const float WANT[6] = {3, 3, 2, 8, 7, 4};
        for (int i = 0; i < 6; i++)
            CHECK(got[i] == WANT[i]);
        CHECK(c && c->dtype == ST_F32 && st_to_f32(c, cv, 2) == IMG_OK);
        CHECK(cv[0] == 1 + 0.5f * 1 && cv[1] == -1 + 0.5f * 2);
        CHECK(st_metadata(ov, "kept") && !strcmp(st_metadata(ov, "kept"), "yes"));
        CHECK(st_count(ov) == st_count(base));
        /* the base is untouched */
        CHECK(st_to_f32(st_find(base, bn[0]), got, 6) == IMG_OK && got[0] == 1 && got[5] == 6);
        st_release(ov, t);
        st_close(ov);
    }
    /* an adapter naming nothing here, strength not a number */
    lora_spec_t none = {base_path, "self", 1.0f};
    CHECK(lora_apply(base, &none, 1, 2, &ov, NULL, err, sizeof err) == IMG_EFORMAT && !ov);
    CHECK(strstr(err, "self") && strstr(err, "no LoRA"));
    lora_spec_t nan_scale = {lora_path, "x", NAN};
    CHECK(lora_apply(base, &nan_scale, 1, 2, &ov, NULL, err, sizeof err) == IMG_EINVAL && !ov);
    lora_spec_t absent = {"/nonexistent/adapter.safetensors", NULL, 1.0f};
    CHECK(lora_apply(base, &absent, 1, 2, &ov, NULL, err, sizeof err) != IMG_OK && !ov);
    CHECK(strstr(err, "/nonexistent/adapter.safetensors") != NULL);

    /* out of memory at every allocation: IMG_ENOMEM, nothing leaked (ASan), no overlay */
    fault_alloc_arm(0);
    CHECK(lora_apply(base, specs, 2, 2, &ov, NULL, err, sizeof err) == IMG_OK);
    long n = fault_alloc_disarm();
    st_close(ov);
    for (long k = 1; k <= n; k++) {
        ov = NULL;
        fault_alloc_arm(k);
        int rc = lora_apply(base, specs, 2, 2, &ov, NULL, err, sizeof err);
        fault_alloc_disarm();
        if (rc == IMG_OK) {
            st_close(ov);
            continue;
        }
        CHECK(ov == NULL);
        if (rc != IMG_ENOMEM) fprintf(stderr, "allocation %ld of %ld: rc %d (%s)\n", k, n, rc, err);
        CHECK(rc == IMG_ENOMEM || rc == IMG_EIO || rc == IMG_EFORMAT); /* st_open reports its own */
    }
    st_close(base);
    unlink(base_path);
    unlink(lora_path);
    unlink(lokr_path);
}
