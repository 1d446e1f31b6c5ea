/* lora_names.c - the index of the names adapter files use for a checkpoint's weights. */
#include "engine/lora/lora_names.h"
#include "common/status.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *alias;          /* owned */
    const st_tensor_t *t; /* the base file's */
    int64_t row0, rows;   /* a block of t's rows (q, k or v of a fused in_proj); rows 0: all */
} alias_t;

struct lora_names {
    alias_t *a;
    size_t n, cap;
};

/* The prefixes under which a checkpoint holds its UNet and its HF-layout text encoders, and the
 * prefixes adapter files give them (kohya's, joined with '_'; diffusers/PEFT's, with '.'). */
#define UNET_PREFIX "model.diffusion_model."
static const struct {
    const char *ckpt, *kohya, *peft;
} TEXT_ENCODERS[] = {
    {"cond_stage_model.transformer.", "lora_te_", "text_encoder."},         /* SD 1.x */
    {"conditioner.embedders.0.transformer.", "lora_te1_", "text_encoder."}, /* SDXL's CLIP-L */
};
static int push_rows(lora_names_t *n, const char *prefix, const char *path, int underscores,
                     const st_tensor_t *t, int64_t row0, int64_t rows) {
    if (n->n == n->cap) {
        size_t cap = n->cap ? 2 * n->cap : 256;
        alias_t *a = realloc(n->a, cap * sizeof *a);
        if (!a) return IMG_ENOMEM;
        n->a = a;
        n->cap = cap;
    }
    size_t lp = strlen(prefix), l = strlen(path);
    char *s = malloc(lp + l + 1); /* owned by the index */
    if (!s) return IMG_ENOMEM;
    memcpy(s, prefix, lp);
    for (size_t i = 0; i <= l; i++)
        s[lp + i] = underscores && path[i] == '.' ? '_' : path[i];
    n->a[n->n].alias = s;
    n->a[n->n].row0 = row0;
    n->a[n->n].rows = rows;
    n->a[n->n++].t = t;
    return IMG_OK;
}

static int push(lora_names_t *n, const char *prefix, const char *path, int underscores,
                const st_tensor_t *t) {
    return push_rows(n, prefix, path, underscores, t, 0, 0);
}

/* OpenCLIP text towers, whose modules adapters name in the HF layout: SD 2.x's and SDXL's
 * second; q, k and v are row blocks of the fused attn.in_proj_weight. */
static const struct {
    const char *ckpt, *kohya, *peft;
} OPENCLIP[] = {
    {"cond_stage_model.model.", "lora_te_", "text_encoder."},
    {"conditioner.embedders.1.model.", "lora_te2_", "text_encoder_2."},
};

/* The HF names of an OpenCLIP block's weight (path after the tower's prefix, without ".weight");
 * 0 when it is one of them. */
static int openclip_aliases(lora_names_t *n, const char *kohya, const char *peft, const char *path,
                            const st_tensor_t *t) {
    int blk, used = 0;
    if (sscanf(path, "transformer.resblocks.%d.%n", &blk, &used) != 1 || !used) return IMG_OK;
    const char *rest = path + used;
    char hf[160];
    static const char *const MAP[][2] = {{"attn.out_proj", "self_attn.out_proj"},
                                         {"mlp.c_fc", "mlp.fc1"},
                                         {"mlp.c_proj", "mlp.fc2"}};
    int rc = IMG_OK;
    for (size_t k = 0; k < sizeof MAP / sizeof MAP[0] && !rc; k++)
        if (!strcmp(rest, MAP[k][0])) {
            snprintf(hf, sizeof hf, "text_model.encoder.layers.%d.%s", blk, MAP[k][1]);
            rc = push(n, kohya, hf, 1, t);
            if (!rc) rc = push(n, peft, hf, 0, t);
        }
    if (!strcmp(rest, "attn.in_proj") && t->ndim == 2 && t->shape[0] % 3 == 0) {
        static const char *const QKV[3] = {"q_proj", "k_proj", "v_proj"};
        int64_t w = t->shape[0] / 3;
        for (int k = 0; k < 3 && !rc; k++) {
            snprintf(hf, sizeof hf, "text_model.encoder.layers.%d.self_attn.%s", blk, QKV[k]);
            rc = push_rows(n, kohya, hf, 1, t, k * w, w);
            if (!rc) rc = push_rows(n, peft, hf, 0, t, k * w, w);
        }
    }
    return rc;
}

static int cmp_alias(const void *a, const void *b) {
    return strcmp(((const alias_t *)a)->alias, ((const alias_t *)b)->alias);
}

/* Renames the start of *rest from `from` to `to` into out (appending); 1 when it matched. */
static int swap_prefix(const char **rest, const char *from, const char *to, char *out,
                       size_t outlen) {
    size_t l = strlen(from);
    if (strncmp(*rest, from, l) || ((*rest)[l] != '.' && (*rest)[l] != 0)) return 0;
    size_t o = strlen(out);
    snprintf(out + o, outlen > o ? outlen - o : 0, "%s", to);
    *rest += l;
    return 1;
}

/* A res block's inner names: in_layers.0 -> norm1, in_layers.2 -> conv1, emb_layers.1 ->
 * time_emb_proj, out_layers.0 -> norm2, out_layers.3 -> conv2, skip_connection -> conv_shortcut. */
static int resnet_inner(const char *rest, char *out, size_t outlen) {
    static const char *const MAP[][2] = {
        {"in_layers.0", "norm1"},  {"in_layers.2", "conv1"},  {"emb_layers.1", "time_emb_proj"},
        {"out_layers.0", "norm2"}, {"out_layers.3", "conv2"}, {"skip_connection", "conv_shortcut"}};
    for (size_t k = 0; k < sizeof MAP / sizeof MAP[0]; k++)
        if (swap_prefix(&rest, MAP[k][0], MAP[k][1], out, outlen)) {
            size_t o = strlen(out);
            snprintf(out + o, outlen > o ? outlen - o : 0, "%s", rest);
            return 0;
        }
    return -1;
}

int lora_ldm_to_diffusers(const char *ldm, int lpb, char *out, size_t outlen) {
    static const char *const WHOLE[][2] = {{"time_embed.0", "time_embedding.linear_1"},
                                           {"time_embed.2", "time_embedding.linear_2"},
                                           {"label_emb.0.0", "add_embedding.linear_1"},
                                           {"label_emb.0.2", "add_embedding.linear_2"},
                                           {"input_blocks.0.0", "conv_in"},
                                           {"out.0", "conv_norm_out"},
                                           {"out.2", "conv_out"}};
    out[0] = 0;
    const char *rest = ldm;
    for (size_t k = 0; k < sizeof WHOLE / sizeof WHOLE[0]; k++)
        if (swap_prefix(&rest, WHOLE[k][0], WHOLE[k][1], out, outlen)) {
            size_t o = strlen(out);
            snprintf(out + o, outlen > o ? outlen - o : 0, "%s", rest);
            return 0;
        }
    int i, sub, used = 0;
    if (sscanf(ldm, "middle_block.%d.%n", &sub, &used) == 1 && used) {
        rest = ldm + used;
        if (sub == 1)
            snprintf(out, outlen, "mid_block.attentions.0.%s", rest);
        else if (sub == 0 || sub == 2) {
            snprintf(out, outlen, "mid_block.resnets.%d.", sub / 2);
            return resnet_inner(rest, out, outlen);
        } else
            return -1;
        return 0;
    }
    if (lpb < 1) return -1;
    if (sscanf(ldm, "input_blocks.%d.%d.%n", &i, &sub, &used) == 2 && used && i >= 1) {
        rest = ldm + used;
        int level = (i - 1) / (lpb + 1), j = (i - 1) % (lpb + 1);
        if (j == lpb) { /* the level's downsampler */
            if (sub != 0 || strncmp(rest, "op", 2) || (rest[2] != '.' && rest[2])) return -1;
            snprintf(out, outlen, "down_blocks.%d.downsamplers.0.conv%s", level, rest + 2);
            return 0;
        }
        if (sub == 1) {
            snprintf(out, outlen, "down_blocks.%d.attentions.%d.%s", level, j, rest);
            return 0;
        }
        if (sub != 0) return -1;
        snprintf(out, outlen, "down_blocks.%d.resnets.%d.", level, j);
        return resnet_inner(rest, out, outlen);
    }
    if (sscanf(ldm, "output_blocks.%d.%d.%n", &i, &sub, &used) == 2 && used && i >= 0) {
        rest = ldm + used;
        int level = i / (lpb + 1), j = i % (lpb + 1);
        if (sub == 0) {
            snprintf(out, outlen, "up_blocks.%d.resnets.%d.", level, j);
            return resnet_inner(rest, out, outlen);
        }
        if (!strncmp(rest, "conv", 4) && (rest[4] == '.' || !rest[4])) /* the level's upsampler */
            snprintf(out, outlen, "up_blocks.%d.upsamplers.0.%s", level, rest);
        else if (sub == 1)
            snprintf(out, outlen, "up_blocks.%d.attentions.%d.%s", level, j, rest);
        else
            return -1;
        return 0;
    }
    return -1;
}

/* The UNet's res blocks per level: the first input block that downsamples is 1 + that number;
 * a UNet that never downsamples has them all at one level. */
static int layers_per_block(const st_file_t *base) {
    int last = -1;
    for (size_t k = 0; k < st_count(base); k++) {
        const char *name = st_get(base, k)->name;
        int i, used = 0;
        if (strncmp(name, UNET_PREFIX, strlen(UNET_PREFIX))) continue;
        if (sscanf(name + strlen(UNET_PREFIX), "input_blocks.%d.0.op.%n", &i, &used) == 1 && used)
            return i - 1;
        if (sscanf(name + strlen(UNET_PREFIX), "input_blocks.%d.", &i) == 1 && i > last) last = i;
    }
    return last;
}

int lora_names_build(const st_file_t *base, lora_names_t **out) {
    *out = NULL;
    lora_names_t *n = calloc(1, sizeof *n); /* owned by the caller (lora_names_free) */
    if (!n) return IMG_ENOMEM;
    int lpb = layers_per_block(base), rc = IMG_OK;
    for (size_t k = 0; k < st_count(base) && !rc; k++) {
        const st_tensor_t *t = st_get(base, k);
        size_t l = strlen(t->name);
        /* "<module>.weight", and OpenCLIP's fused "<attn>.in_proj_weight" */
        int fused = l > 15 && !strcmp(t->name + l - 15, ".in_proj_weight");
        if (!fused && (l < 8 || strcmp(t->name + l - 7, ".weight"))) continue;
        char path[256];
        if (l - 7 >= sizeof path) continue;
        memcpy(path, t->name, l - 7);
        path[l - 7] = 0;
        if (!strncmp(path, UNET_PREFIX, strlen(UNET_PREFIX))) {
            const char *ldm = path + strlen(UNET_PREFIX);
            char d[256];
            rc = push(n, "lora_unet_", ldm, 1, t);
            if (!rc && !lora_ldm_to_diffusers(ldm, lpb, d, sizeof d)) {
                rc = push(n, "lora_unet_", d, 1, t);
                if (!rc) rc = push(n, "unet.", d, 0, t);
                if (!rc) rc = push(n, "", d, 0, t); /* a bare PEFT file of the UNet */
            }
            continue;
        }
        for (size_t e = 0; e < sizeof OPENCLIP / sizeof OPENCLIP[0] && !rc; e++) {
            size_t lp = strlen(OPENCLIP[e].ckpt);
            if (!strncmp(path, OPENCLIP[e].ckpt, lp))
                rc = openclip_aliases(n, OPENCLIP[e].kohya, OPENCLIP[e].peft, path + lp, t);
        }
        for (size_t e = 0; e < sizeof TEXT_ENCODERS / sizeof TEXT_ENCODERS[0] && !rc; e++) {
            size_t lp = strlen(TEXT_ENCODERS[e].ckpt);
            if (strncmp(path, TEXT_ENCODERS[e].ckpt, lp)) continue;
            rc = push(n, TEXT_ENCODERS[e].kohya, path + lp, 1, t);
            if (!rc) rc = push(n, TEXT_ENCODERS[e].peft, path + lp, 0, t);
        }
    }
    if (rc) {
        lora_names_free(n);
        return rc;
    }
    qsort(n->a, n->n, sizeof *n->a, cmp_alias);
    *out = n;
    return IMG_OK;
}

void lora_names_free(lora_names_t *n) {
    if (!n) return;
    for (size_t i = 0; i < n->n; i++)
        free(n->a[i].alias);
    free(n->a);
    free(n);
}

const st_tensor_t *lora_names_find(const lora_names_t *n, const char *module, int64_t *row0,
                                   int64_t *rows) {
    alias_t key = {.alias = (char *)module};
    const alias_t *a = bsearch(&key, n->a, n->n, sizeof *n->a, cmp_alias);
    *row0 = a ? a->row0 : 0;
    *rows = a ? a->rows : 0;
    return a ? a->t : NULL;
}
