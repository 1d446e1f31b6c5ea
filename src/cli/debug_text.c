/* debug_text.c - `imgapi debug tokenizer` and `imgapi debug text-encoder`. */
#include "cli/debug.h"
#include "common/status.h"
#include "engine/models/clip.h"
#include "engine/runtime/engine_ctx.h"
#include "engine/text/tokenizer.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *ids_json(const int32_t *ids, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_integer(ids[i]));
    return a;
}

int debug_tokenizer(const char *weights, const char *inputs, const char *out) {
    char err[512];
    tokenizer_t *t;
    if (tok_load(weights, &t, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    json_error_t je;
    json_t *in = json_load_file(inputs, 0, &je);
    json_t *cases = in ? json_object_get(in, "cases") : NULL;
    if (!json_is_array(cases)) {
        fprintf(stderr, "imgapi: %s: expected {\"cases\": [{\"name\", \"prompt\"}]}\n", inputs);
        json_decref(in);
        tok_free(t);
        return 1;
    }
    json_t *res = json_array();
    size_t i;
    json_t *c;
    int rc = 0;
    json_array_foreach(cases, i, c) {
        const char *prompt = json_string_value(json_object_get(c, "prompt"));
        if (!prompt) continue;
        int32_t *ids;
        size_t n;
        if (tok_encode(t, prompt, &ids, &n)) {
            rc = 1;
            break;
        }
        int32_t pad0[TOK_CONTEXT], padeot[TOK_CONTEXT];
        int eot = tok_context(t, ids, n, 0, pad0);
        tok_context(t, ids, n, tok_eot(t), padeot);
        json_array_append_new(res, json_pack("{s:O, s:o, s:o, s:o, s:i}", "name",
                                             json_object_get(c, "name"), "bpe_ids", ids_json(ids, n),
                                             "tokens_77_pad0", ids_json(pad0, TOK_CONTEXT),
                                             "tokens_77_pad_eot", ids_json(padeot, TOK_CONTEXT),
                                             "eot_index", eot));
        free(ids);
    }
    json_t *root = json_pack("{s:o}", "cases", res);
    if (rc == 0 && json_dump_file(root, out, JSON_COMPACT) != 0) {
        fprintf(stderr, "imgapi: cannot write %s\n", out);
        rc = 1;
    }
    json_decref(root);
    json_decref(in);
    tok_free(t);
    return rc;
}

/* Reads tokens [B, 77] and writes the golden set's output names. */
int debug_text_encoder(const config_t *cfg, const char *weights, const char *inputs, const char *out,
                       const char *prefix, const char *const *loras, int nloras, int q8) {
    char err[512] = "";
    st_file_t *wf = NULL, *inf = NULL, *base = NULL;
    clip_t *clip = NULL;
    kctx_t kc = {0};
    st_writer_t *w = NULL;
    float *buf = NULL;
    int32_t *tok = NULL;
    int rc = 1;
    if (st_open(weights, &wf, err, sizeof err) || st_open(inputs, &inf, err, sizeof err) ||
        kctx_create(cfg->threads, cfg->isa, cfg->precision, &kc, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        goto out;
    }
    if (dbg_loras(&wf, &base, loras, nloras)) goto out;
    if (clip_load(wf, prefix, (kc.bf16 ? W_BF16 : 0) | (q8 ? W_Q8 : 0), &clip, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        goto out;
    }
    const st_tensor_t *t = st_find(inf, "tokens");
    const clip_info_t *I = clip_info(clip);
    if (!t || t->ndim != 2 || t->shape[1] != I->context) {
        fprintf(stderr, "imgapi: %s: needs a 'tokens' tensor [B, %d]\n", inputs, I->context);
        goto out;
    }
    int B = (int)t->shape[0], T = I->context, W = I->width, L = I->layers;
    size_t plane = (size_t)T * W;
    float *tf = malloc(sizeof(float) * (size_t)t->numel);
    tok = malloc(sizeof(int32_t) * (size_t)t->numel);
    /* hidden [L+1][B][T][W], last, penult, penult_ln [B][T][W], pooled [B][W], proj [B][P] */
    size_t P = (size_t)(I->proj_dim ? I->proj_dim : 1);
    buf = malloc(sizeof(float) * ((size_t)(L + 1) * B * plane + 3 * (size_t)B * plane + (size_t)B * W + (size_t)B * P + (size_t)(L + 1) * plane));
    if (!tf || !tok || !buf || st_to_f32(t, tf, (size_t)t->numel)) {
        free(tf);
        fprintf(stderr, "imgapi: out of memory\n");
        goto out;
    }
    for (int64_t i = 0; i < t->numel; i++) tok[i] = (int32_t)tf[i];
    free(tf);
    float *hidden = buf, *last = hidden + (size_t)(L + 1) * B * plane, *pen = last + (size_t)B * plane;
    float *penln = pen + (size_t)B * plane, *pooled = penln + (size_t)B * plane, *proj = pooled + (size_t)B * W;
    float *hall = proj + (size_t)B * P;
    for (int b = 0; b < B; b++) {
        clip_out_t o = {.hidden_all = hall, .last = last + b * plane, .penultimate = pen + b * plane,
                        .penultimate_ln = penln + b * plane, .pooled = pooled + (size_t)b * W,
                        .pooled_proj = I->proj_dim ? proj + (size_t)b * P : NULL};
        if (clip_forward(clip, &kc, tok + (size_t)b * T, &o)) {
            fprintf(stderr, "imgapi: token ids outside the vocabulary\n");
            goto out;
        }
        for (int l = 0; l <= L; l++) memcpy(hidden + ((size_t)l * B + b) * plane, hall + (size_t)l * plane, sizeof(float) * plane);
    }
    int64_t sh4[4] = {L + 1, B, T, W}, sh3[3] = {B, T, W}, sh2[2] = {B, W}, shp[2] = {B, (int64_t)P};
    if (st_writer_new(&w) || st_writer_add(w, "hidden_states", ST_F32, 4, sh4, hidden) ||
        st_writer_add(w, "last_hidden_state", ST_F32, 3, sh3, last) ||
        st_writer_add(w, "penultimate_hidden_state", ST_F32, 3, sh3, pen) ||
        st_writer_add(w, "penultimate_ln_final", ST_F32, 3, sh3, penln) ||
        (I->proj_dim ? st_writer_add(w, "pooled_projected", ST_F32, 2, shp, proj) : 0) ||
        (I->layout == CLIP_LAYOUT_HF ? st_writer_add(w, "pooled_unprojected", ST_F32, 2, sh2, pooled) : 0) ||
        st_writer_save(w, out)) {
        fprintf(stderr, "imgapi: cannot write %s\n", out);
        goto out;
    }
    rc = 0;
out:
    st_writer_free(w);
    free(buf);
    free(tok);
    clip_free(clip);
    kctx_destroy(&kc);
    st_close(wf);
    st_close(base);
    st_close(inf);
    return rc;
}

