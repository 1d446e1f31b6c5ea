/* diffusers.c - a diffusers folder as one checkpoint in the LDM layout (diffusers.h). */
#include "engine/io/diffusers.h"
#include "common/status.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_SHARDS 64

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A component's own folder (an AutoencoderKL repository: config.json beside its weights). */
static int component_folder(const char *dir) {
    char p[1024];
    snprintf(p, sizeof p, "%s/config.json", dir);
    if (!is_file(p)) return 0;
    snprintf(p, sizeof p, "%s/diffusion_pytorch_model.safetensors", dir);
    if (is_file(p)) return 1;
    snprintf(p, sizeof p, "%s/diffusion_pytorch_model.fp16.safetensors", dir);
    return is_file(p);
}

int diffusers_is_folder(const char *dir) {
    char p[1024];
    snprintf(p, sizeof p, "%s/model_index.json", dir);
    if (is_file(p)) return 1;
    snprintf(p, sizeof p, "%s/unet", dir);
    return is_dir(p) || component_folder(dir);
}

/* PART/config.json (NULL when absent or not JSON). */
static json_t *part_config(const char *dir, const char *part) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s/config.json", dir, part);
    json_t *j = json_load_file(p, 0, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* Opens a part's weights (one file, its fp16 variant, or its shards) into files[] (n of them);
 * 0 files when the part is absent. */
static int open_part(const char *dir, const char *part, st_file_t **files, int *n, char *err,
                     size_t errlen) {
    static const char *const STEMS[] = {"diffusion_pytorch_model", "model"};
    static const char *const VARIANTS[] = {"", ".fp16"};
    char p[1024];
    *n = 0;
    for (size_t v = 0; v < 2; v++)
        for (size_t s = 0; s < 2; s++) {
            snprintf(p, sizeof p, "%s/%s/%s%s.safetensors", dir, part, STEMS[s], VARIANTS[v]);
            if (is_file(p)) {
                int rc = st_open(p, &files[0], err, errlen);
                if (!rc) *n = 1;
                return rc;
            }
            snprintf(p, sizeof p, "%s/%s/%s%s.safetensors.index.json", dir, part, STEMS[s],
                     VARIANTS[v]);
            if (!is_file(p)) continue;
            json_t *idx = json_load_file(p, 0, NULL), *map = json_object_get(idx, "weight_map");
            if (!json_is_object(map)) {
                snprintf(err, errlen, "%s: no weight_map", p);
                json_decref(idx);
                return IMG_EFORMAT;
            }
            const char *key, *names[MAX_SHARDS];
            json_t *val;
            int ns = 0, rc = IMG_OK;
            json_object_foreach(map, key, val) {
                const char *shard = json_string_value(val);
                int seen = 0;
                if (!shard || strchr(shard, '/') || shard[0] == '.') {
                    snprintf(err, errlen, "%s: shard names must be plain file names", p);
                    rc = IMG_EFORMAT;
                    break;
                }
                for (int i = 0; i < ns; i++)
                    seen |= !strcmp(names[i], shard);
                if (seen) continue;
                if (ns == MAX_SHARDS) {
                    snprintf(err, errlen, "%s: more than %d shards", p, MAX_SHARDS);
                    rc = IMG_EFORMAT;
                    break;
                }
                names[ns++] = shard;
            }
            for (int i = 0; !rc && i < ns; i++) {
                char sp[1200];
                snprintf(sp, sizeof sp, "%s/%s/%s", dir, part, names[i]);
                rc = st_open(sp, &files[*n], err, errlen);
                if (!rc) (*n)++;
            }
            json_decref(idx);
            return rc;
        }
    return IMG_OK;
}

/* The LDM name of a res block's inner diffusers name (rest), appended after out. */
static int res_inner(const char *rest, int vae, char *out, size_t len) {
    static const char *const UNET[][2] = {
        {"norm1", "in_layers.0"},  {"conv1", "in_layers.2"},  {"time_emb_proj", "emb_layers.1"},
        {"norm2", "out_layers.0"}, {"conv2", "out_layers.3"}, {"conv_shortcut", "skip_connection"}};
    static const char *const VAE[][2] = {{"norm1", "norm1"},
                                         {"conv1", "conv1"},
                                         {"norm2", "norm2"},
                                         {"conv2", "conv2"},
                                         {"conv_shortcut", "nin_shortcut"}};
    size_t n = vae ? sizeof VAE / sizeof VAE[0] : sizeof UNET / sizeof UNET[0];
    for (size_t k = 0; k < n; k++) {
        const char *from = vae ? VAE[k][0] : UNET[k][0], *to = vae ? VAE[k][1] : UNET[k][1];
        size_t l = strlen(from);
        if (!strncmp(rest, from, l) && rest[l] == '.') {
            size_t o = strlen(out);
            snprintf(out + o, len > o ? len - o : 0, "%s%s", to, rest + l);
            return 0;
        }
    }
    return -1;
}

/* The LDM name (after "model.diffusion_model.") of a diffusers UNet tensor; -1 when none. lpb:
 * res blocks per down level; up_attn(U): whether up block U has attentions. */
static int unet_name(const char *d, int lpb, const unsigned char *up_attn, char *out, size_t len) {
    static const char *const WHOLE[][2] = {{"conv_in.", "input_blocks.0.0."},
                                           {"time_embedding.linear_1.", "time_embed.0."},
                                           {"time_embedding.linear_2.", "time_embed.2."},
                                           {"add_embedding.linear_1.", "label_emb.0.0."},
                                           {"add_embedding.linear_2.", "label_emb.0.2."},
                                           {"conv_norm_out.", "out.0."},
                                           {"conv_out.", "out.2."}};
    for (size_t k = 0; k < sizeof WHOLE / sizeof WHOLE[0]; k++) {
        size_t l = strlen(WHOLE[k][0]);
        if (!strncmp(d, WHOLE[k][0], l)) {
            snprintf(out, len, "%s%s", WHOLE[k][1], d + l);
            return 0;
        }
    }
    int b, j, used = 0;
    if (sscanf(d, "down_blocks.%d.resnets.%d.%n", &b, &j, &used) == 2 && used) {
        snprintf(out, len, "input_blocks.%d.0.", 1 + b * (lpb + 1) + j);
        return res_inner(d + used, 0, out, len);
    }
    if (sscanf(d, "down_blocks.%d.attentions.%d.%n", &b, &j, &used) == 2 && used) {
        snprintf(out, len, "input_blocks.%d.1.%s", 1 + b * (lpb + 1) + j, d + used);
        return 0;
    }
    if (sscanf(d, "down_blocks.%d.downsamplers.0.conv.%n", &b, &used) == 1 && used) {
        snprintf(out, len, "input_blocks.%d.0.op.%s", (b + 1) * (lpb + 1), d + used);
        return 0;
    }
    if (sscanf(d, "mid_block.resnets.%d.%n", &j, &used) == 1 && used && j >= 0 && j <= 1) {
        snprintf(out, len, "middle_block.%d.", 2 * j);
        return res_inner(d + used, 0, out, len);
    }
    if (!strncmp(d, "mid_block.attentions.0.", 23)) {
        snprintf(out, len, "middle_block.1.%s", d + 23);
        return 0;
    }
    if (sscanf(d, "up_blocks.%d.resnets.%d.%n", &b, &j, &used) == 2 && used) {
        snprintf(out, len, "output_blocks.%d.0.", b * (lpb + 1) + j);
        return res_inner(d + used, 0, out, len);
    }
    if (sscanf(d, "up_blocks.%d.attentions.%d.%n", &b, &j, &used) == 2 && used) {
        snprintf(out, len, "output_blocks.%d.1.%s", b * (lpb + 1) + j, d + used);
        return 0;
    }
    if (sscanf(d, "up_blocks.%d.upsamplers.0.conv.%n", &b, &used) == 1 && used && b >= 0 &&
        b < 64) {
        snprintf(out, len, "output_blocks.%d.%d.conv.%s", b * (lpb + 1) + lpb, up_attn[b] ? 2 : 1,
                 d + used);
        return 0;
    }
    return -1;
}

/* The LDM name (after "first_stage_model.") of a diffusers VAE tensor; nup: the decoder's up
 * blocks (their order is reversed); *conv: 1 when a linear attention weight becomes a 1x1
 * convolution. */
static int vae_name(const char *d, int nup, char *out, size_t len, int *conv) {
    *conv = 0;
    static const char *const WHOLE[][2] = {{"quant_conv.", "quant_conv."},
                                           {"post_quant_conv.", "post_quant_conv."}};
    for (size_t k = 0; k < 2; k++)
        if (!strncmp(d, WHOLE[k][0], strlen(WHOLE[k][0]))) {
            snprintf(out, len, "%s", d);
            return 0;
        }
    const char *side = !strncmp(d, "encoder.", 8)   ? "encoder."
                       : !strncmp(d, "decoder.", 8) ? "decoder."
                                                    : NULL;
    if (!side) return -1;
    const char *r = d + 8;
    int b, j, used = 0;
    static const char *const SIMPLE[][2] = {
        {"conv_in.", "conv_in."}, {"conv_out.", "conv_out."}, {"conv_norm_out.", "norm_out."}};
    for (size_t k = 0; k < 3; k++)
        if (!strncmp(r, SIMPLE[k][0], strlen(SIMPLE[k][0]))) {
            snprintf(out, len, "%s%s%s", side, SIMPLE[k][1], r + strlen(SIMPLE[k][0]));
            return 0;
        }
    if (sscanf(r, "down_blocks.%d.resnets.%d.%n", &b, &j, &used) == 2 && used) {
        snprintf(out, len, "%sdown.%d.block.%d.", side, b, j);
        return res_inner(r + used, 1, out, len);
    }
    if (sscanf(r, "down_blocks.%d.downsamplers.0.conv.%n", &b, &used) == 1 && used) {
        snprintf(out, len, "%sdown.%d.downsample.conv.%s", side, b, r + used);
        return 0;
    }
    if (sscanf(r, "up_blocks.%d.resnets.%d.%n", &b, &j, &used) == 2 && used) {
        snprintf(out, len, "%sup.%d.block.%d.", side, nup - 1 - b, j);
        return res_inner(r + used, 1, out, len);
    }
    if (sscanf(r, "up_blocks.%d.upsamplers.0.conv.%n", &b, &used) == 1 && used) {
        snprintf(out, len, "%sup.%d.upsample.conv.%s", side, nup - 1 - b, r + used);
        return 0;
    }
    if (sscanf(r, "mid_block.resnets.%d.%n", &j, &used) == 1 && used && j >= 0 && j <= 1) {
        snprintf(out, len, "%smid.block_%d.", side, j + 1);
        return res_inner(r + used, 1, out, len);
    }
    if (!strncmp(r, "mid_block.attentions.0.", 23)) {
        static const char *const ATT[][2] = {
            {"group_norm.", "norm."},   {"to_q.", "q."},  {"to_k.", "k."}, {"to_v.", "v."},
            {"to_out.0.", "proj_out."}, {"query.", "q."}, {"key.", "k."},  {"value.", "v."},
            {"proj_attn.", "proj_out."}};
        r += 23;
        for (size_t k = 0; k < sizeof ATT / sizeof ATT[0]; k++)
            if (!strncmp(r, ATT[k][0], strlen(ATT[k][0]))) {
                snprintf(out, len, "%smid.attn_1.%s%s", side, ATT[k][1], r + strlen(ATT[k][0]));
                *conv = k > 0;
                return 0;
            }
    }
    return -1;
}

/* Adds every tensor of files under its mapped name (map returns -1 to skip one). kind: 0 UNet,
 * 1 VAE, 2 HF text encoder (names kept). */
static int add_mapped(st_compose_t *c, st_file_t *const *files, int n, int kind, const char *prefix,
                      int lpb, const unsigned char *up_attn, int nup) {
    int rc = IMG_OK;
    for (int f = 0; f < n && !rc; f++)
        for (size_t i = 0; i < st_count(files[f]) && !rc; i++) {
            const st_tensor_t *t = st_get(files[f], i);
            char name[512], ldm[480] = "";
            int conv = 0, ok = kind == 0   ? unet_name(t->name, lpb, up_attn, ldm, sizeof ldm)
                               : kind == 1 ? vae_name(t->name, nup, ldm, sizeof ldm, &conv)
                                           : (snprintf(ldm, sizeof ldm, "%s", t->name), 0);
            if (ok || (kind == 2 && strstr(t->name, "position_ids")))
                continue; /* none in the LDM file */
            snprintf(name, sizeof name, "%s%s", prefix, ldm);
            int64_t shape[ST_MAX_DIMS] = {0};
            int ndim = t->ndim;
            memcpy(shape, t->shape, sizeof shape);
            if (conv && ndim == 2) { /* the LDM VAE's attention is made of 1x1 convolutions */
                shape[2] = shape[3] = 1;
                ndim = 4;
            }
            rc = st_compose_add(c, name, t->dtype, ndim, shape, t->data, NULL);
        }
    return rc;
}

static const st_tensor_t *find_any(st_file_t *const *files, int n, const char *name) {
    for (int f = 0; f < n; f++) {
        const st_tensor_t *t = st_find(files[f], name);
        if (t) return t;
    }
    return NULL;
}

/* An OpenCLIP tower from its HF-layout files: renamed, q/k/v fused into in_proj, the projection
 * transposed. */
static int add_openclip(st_compose_t *c, st_file_t *const *files, int n, const char *prefix,
                        char *err, size_t errlen) {
    static const char *const SIMPLE[][2] = {
        {"text_model.embeddings.token_embedding.weight", "token_embedding.weight"},
        {"text_model.embeddings.position_embedding.weight", "positional_embedding"},
        {"text_model.final_layer_norm.weight", "ln_final.weight"},
        {"text_model.final_layer_norm.bias", "ln_final.bias"}};
    char name[512];
    int rc = IMG_OK;
    for (size_t k = 0; k < 4 && !rc; k++) {
        const st_tensor_t *t = find_any(files, n, SIMPLE[k][0]);
        if (!t) continue; /* the loader names what is missing */
        snprintf(name, sizeof name, "%s%s", prefix, SIMPLE[k][1]);
        rc = st_compose_add(c, name, t->dtype, t->ndim, t->shape, t->data, NULL);
    }
    const st_tensor_t *proj = find_any(files, n, "text_projection.weight");
    if (!rc && proj && proj->ndim == 2) { /* HF: y = P x; OpenCLIP: y = x P */
        size_t es = st_dtype_size(proj->dtype);
        int64_t r = proj->shape[0], cl = proj->shape[1], shape[2] = {cl, r};
        unsigned char *tp = malloc((size_t)(r * cl) * es + 1);
        if (!tp) return IMG_ENOMEM;
        for (int64_t i = 0; i < r; i++)
            for (int64_t j = 0; j < cl; j++)
                memcpy(tp + (size_t)(j * r + i) * es,
                       (const unsigned char *)proj->data + (size_t)(i * cl + j) * es, es);
        snprintf(name, sizeof name, "%stext_projection", prefix);
        rc = st_compose_add(c, name, proj->dtype, 2, shape, NULL, tp);
    }
    for (int layer = 0; !rc; layer++) {
        char hf[256];
        snprintf(hf, sizeof hf, "text_model.encoder.layers.%d.layer_norm1.weight", layer);
        if (!find_any(files, n, hf)) break;
        static const char *const MAP[][2] = {{"layer_norm1", "ln_1"},
                                             {"layer_norm2", "ln_2"},
                                             {"self_attn.out_proj", "attn.out_proj"},
                                             {"mlp.fc1", "mlp.c_fc"},
                                             {"mlp.fc2", "mlp.c_proj"}};
        for (size_t k = 0; k < 5 && !rc; k++)
            for (int wb = 0; wb < 2 && !rc; wb++) {
                const char *suf = wb ? "bias" : "weight";
                snprintf(hf, sizeof hf, "text_model.encoder.layers.%d.%s.%s", layer, MAP[k][0],
                         suf);
                const st_tensor_t *t = find_any(files, n, hf);
                if (!t) continue;
                snprintf(name, sizeof name, "%stransformer.resblocks.%d.%s.%s", prefix, layer,
                         MAP[k][1], suf);
                rc = st_compose_add(c, name, t->dtype, t->ndim, t->shape, t->data, NULL);
            }
        for (int wb = 0; wb < 2 && !rc; wb++) { /* q, k, v -> in_proj (rows q, k, v) */
            static const char *const QKV[3] = {"q_proj", "k_proj", "v_proj"};
            const st_tensor_t *p[3];
            for (int q = 0; q < 3; q++) {
                snprintf(hf, sizeof hf, "text_model.encoder.layers.%d.self_attn.%s.%s", layer,
                         QKV[q], wb ? "bias" : "weight");
                p[q] = find_any(files, n, hf);
            }
            if (!p[0] || !p[1] || !p[2]) continue;
            if (p[1]->dtype != p[0]->dtype || p[2]->dtype != p[0]->dtype ||
                p[1]->nbytes != p[0]->nbytes || p[2]->nbytes != p[0]->nbytes) {
                snprintf(err, errlen, "text encoder layer %d: q, k and v differ in shape or type",
                         layer);
                return IMG_EFORMAT;
            }
            unsigned char *cat = malloc(3 * p[0]->nbytes + 1);
            if (!cat) return IMG_ENOMEM;
            for (int q = 0; q < 3; q++)
                memcpy(cat + (size_t)q * p[0]->nbytes, p[q]->data, p[0]->nbytes);
            int64_t shape[2] = {3 * p[0]->shape[0], p[0]->ndim == 2 ? p[0]->shape[1] : 0};
            snprintf(name, sizeof name, "%stransformer.resblocks.%d.attn.in_proj_%s", prefix, layer,
                     wb ? "bias" : "weight");
            rc = st_compose_add(c, name, p[0]->dtype, p[0]->ndim, shape, NULL, cat);
        }
    }
    return rc;
}

/* The UNet's heads and the native size, as a single file's metadata gives them. */
static int add_metadata(st_compose_t *c, json_t *unet, json_t *vae, json_t *te, json_t *te2) {
    json_t *m = json_object(), *boc = json_object_get(unet, "block_out_channels");
    json_t *ahd = json_object_get(unet, "attention_head_dim"),
           *nah = json_object_get(unet, "num_attention_heads");
    json_t *heads = json_is_null(nah) || !nah ? ahd : nah;
    int rc = m ? IMG_OK : IMG_ENOMEM;
    if (!rc && json_is_integer(heads)) {
        rc = json_object_set_new(m, "num_heads", json_integer(json_integer_value(heads)))
                 ? IMG_ENOMEM
                 : IMG_OK;
    } else if (!rc && json_is_array(heads) && json_is_array(boc) &&
               json_integer_value(json_array_get(heads, 0)) > 0) {
        json_int_t ch = json_integer_value(json_array_get(boc, 0)) /
                        json_integer_value(json_array_get(heads, 0));
        rc = json_object_set_new(m, "num_head_channels", json_integer(ch)) ? IMG_ENOMEM : IMG_OK;
    }
    /* the text towers' heads, when they agree and differ from CLIP's 64 per head */
    json_int_t th = json_integer_value(json_object_get(te, "num_attention_heads"));
    json_int_t th2 = te2 ? json_integer_value(json_object_get(te2, "num_attention_heads")) : th;
    json_int_t tw = json_integer_value(json_object_get(te, "hidden_size"));
    if (!rc && th > 0 && th == th2 && tw > 0 && tw / th != 64)
        rc = json_object_set_new(m, "heads", json_integer(th)) ? IMG_ENOMEM : IMG_OK;
    char *s = !rc ? json_dumps(m, JSON_COMPACT) : NULL;
    if (!rc) rc = s ? st_compose_set_metadata(c, "config", s) : IMG_ENOMEM;
    free(s);
    json_decref(m);
    json_int_t sample = json_integer_value(json_object_get(unet, "sample_size"));
    size_t levels = json_array_size(json_object_get(vae, "block_out_channels"));
    if (!rc && sample > 0 && levels > 0) {
        char v[32];
        snprintf(v, sizeof v, "%lld", (long long)sample << (levels - 1));
        rc = st_compose_set_metadata(c, "imgapi.native", v);
    }
    return rc;
}

/* The decoder's up blocks of a diffusers VAE (0 when it has none). */
static int vae_up_blocks(const st_file_t *const *files, int n) {
    int nup = 0;
    for (int f = 0; f < n; f++)
        for (size_t i = 0; i < st_count(files[f]); i++) {
            int b, used = 0;
            if (sscanf(st_get(files[f], i)->name, "decoder.up_blocks.%d.%n", &b, &used) == 1 && used && b + 1 > nup)
                nup = b + 1;
        }
    return nup;
}

int diffusers_vae_view(st_file_t *vf, st_file_t **out, char *err, size_t errlen) {
    *out = NULL;
    int nup = vae_up_blocks((const st_file_t *const *)&vf, 1);
    if (!nup) return IMG_OK;
    st_compose_t *c = NULL;
    int rc = st_compose_new(&c);
    if (rc) {
        st_close(vf);
        return rc;
    }
    rc = st_compose_keep(c, vf);
    if (!rc) rc = add_mapped(c, &vf, 1, 1, "first_stage_model.", 0, NULL, nup);
    if (rc) {
        snprintf(err, errlen, "out of memory reading the VAE");
        st_compose_free(c);
        return rc;
    }
    return st_compose_finish(c, out, err, errlen);
}

int diffusers_open(const char *dir, st_file_t **out, char *err, size_t errlen) {
    *out = NULL;
    char p0[1024];
    snprintf(p0, sizeof p0, "%s/unet", dir);
    if (component_folder(dir) && !is_dir(p0)) { /* a VAE's own folder */
        st_file_t *files[MAX_SHARDS];
        int n = 0;
        const char *slash = strrchr(dir, '/');
        char parent[1024], part[256];
        snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - dir) : 1, slash ? dir : ".");
        snprintf(part, sizeof part, "%s", slash ? slash + 1 : dir);
        int rc = open_part(parent, part, files, &n, err, errlen);
        if (rc) {
            for (int i = 0; i < n; i++) st_close(files[i]);
            return rc;
        }
        if (n != 1) {
            for (int i = 0; i < n; i++) st_close(files[i]);
            snprintf(err, errlen, "%s: a component folder must hold one weights file", dir);
            return IMG_EFORMAT;
        }
        if (!vae_up_blocks((const st_file_t *const *)files, 1)) {
            st_close(files[0]);
            snprintf(err, errlen, "%s holds no diffusers VAE (decoder.up_blocks.*)", dir);
            return IMG_EFORMAT;
        }
        return diffusers_vae_view(files[0], out, err, errlen);
    }
    if (!diffusers_is_folder(dir)) {
        snprintf(err, errlen,
                 "%s is a folder but not a diffusers model (no model_index.json or unet/)", dir);
        return IMG_EIO;
    }
    char p[1024];
    snprintf(p, sizeof p, "%s/text_encoder_2", dir);
    int sdxl = is_dir(p);
    json_t *cu = part_config(dir, "unet"), *cv = part_config(dir, "vae"),
           *ct = part_config(dir, "text_encoder"),
           *ct2 = sdxl ? part_config(dir, "text_encoder_2") : NULL;
    st_compose_t *c = NULL;
    st_file_t *files[4][MAX_SHARDS];
    int nf[4] = {0, 0, 0, 0}, rc = st_compose_new(&c);
    static const char *const PARTS[4] = {"unet", "vae", "text_encoder", "text_encoder_2"};
    for (int k = 0; k < 4 && !rc; k++) {
        if (k == 3 && !sdxl) break;
        rc = open_part(dir, PARTS[k], files[k], &nf[k], err, errlen);
        for (int i = 0; i < nf[k]; i++) /* the composed file keeps (and closes) them */
            if (st_compose_keep(c, files[k][i]) && !rc) rc = IMG_ENOMEM;
    }
    if (!rc && nf[0] == 0) {
        snprintf(err, errlen, "%s: no unet/ weights (diffusion_pytorch_model.safetensors)", dir);
        rc = IMG_EFORMAT;
    }
    if (!rc) {
        json_int_t lpb = json_integer_value(json_object_get(cu, "layers_per_block"));
        unsigned char up_attn[64] = {0};
        for (int f = 0; f < nf[0]; f++)
            for (size_t i = 0; i < st_count(files[0][f]); i++) {
                int b, used = 0;
                if (sscanf(st_get(files[0][f], i)->name, "up_blocks.%d.attentions.%n", &b, &used) ==
                        1 &&
                    used && b >= 0 && b < 64)
                    up_attn[b] = 1;
            }
        int nup = (int)json_array_size(json_object_get(cv, "block_out_channels"));
        rc = add_mapped(c, files[0], nf[0], 0, "model.diffusion_model.", lpb > 0 ? (int)lpb : 2,
                        up_attn, 0);
        if (!rc)
            rc =
                add_mapped(c, files[1], nf[1], 1, "first_stage_model.", 0, NULL, nup > 0 ? nup : 4);
        const char *act = json_string_value(json_object_get(ct, "hidden_act"));
        int te_openclip = act && !strcmp(act, "gelu") && !sdxl; /* SD 2.x's OpenCLIP */
        if (!rc && nf[2])
            rc = te_openclip
                     ? add_openclip(c, files[2], nf[2], "cond_stage_model.model.", err, errlen)
                     : add_mapped(c, files[2], nf[2], 2,
                                  sdxl ? "conditioner.embedders.0.transformer."
                                       : "cond_stage_model.transformer.",
                                  0, NULL, 0);
        if (!rc && nf[3])
            rc = add_openclip(c, files[3], nf[3], "conditioner.embedders.1.model.", err, errlen);
        if (!rc) rc = add_metadata(c, cu, cv, ct, ct2);
    }
    json_decref(cu);
    json_decref(cv);
    json_decref(ct);
    json_decref(ct2);
    if (rc) {
        if (rc == IMG_ENOMEM) snprintf(err, errlen, "out of memory reading %s", dir);
        st_compose_free(c);
        return rc;
    }
    rc = st_compose_finish(c, out, err, errlen);
    return rc;
}
