/* debug_flux.c - `imgapi debug flux-ae-decoder|flux-ae-encoder|flux-transformer`: FLUX.2's
 * components on tensors from a file, under SPEC §9's names (the autoencoder's image <-> latent,
 * the encoder's moments and mean too; the transformer's x, x_ids, timesteps, ctx, ctx_ids,
 * guidance -> out; qwen3-text's tokens, attention_mask -> ctx and hidden_states.N), one case per
 * prefix ("a.", "b.") as in the golden sets; qwen-tokenizer's prompts -> byte-level BPE ids and
 * the 512 ids FLUX.2 [klein] feeds its text encoder (JSON, as `debug tokenizer`). */
#include "cli/debug.h"
#include "common/status.h"
#include "engine/engine.h"
#include "engine/models/flux2/flux2_ae.h"
#include "engine/sampling/sampler.h"
#include "engine/models/flux2/flux2_prompt.h"
#include "engine/models/flux2/flux2_sampler.h"
#include "engine/models/flux2/flux2_transformer.h"
#include "engine/models/flux2/qwen3.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The cases of inputs: the prefixes of tensors named PREFIX.suffix (key: PREFIX, at most 60). */
static int case_key(const char *name, const char *suffix, char *key, size_t cap) {
    size_t l = strlen(name), s = strlen(suffix);
    if (l <= s + 1 || l - s > 60 || strcmp(name + l - s, suffix) || name[l - s - 1] != '.')
        return 0;
    snprintf(key, cap, "%.*s", (int)(l - s - 1), name);
    return 1;
}

/* The end of a component's run: at least one case found, then its outputs saved; 1 (the reason
 * printed) when not. */
static int finish(st_writer_t *w, int cases, const char *inputs, const char *suffix,
                  const char *out) {
    if (!cases) {
        fprintf(stderr, "imgapi: %s: no case (PREFIX.%s)\n", inputs, suffix);
        return 1;
    }
    if (st_writer_save(w, out)) {
        fprintf(stderr, "imgapi: cannot write %s\n", out);
        return 1;
    }
    return 0;
}

static int put(st_writer_t *w, const char *key, const char *what, int c, int h, int wd,
               const float *x) {
    char nm[96];
    snprintf(nm, sizeof nm, "%s.%s", key, what);
    int64_t shape[4] = {1, c, h, wd};
    return st_writer_add(w, nm, ST_F32, 4, shape, x);
}

int debug_flux_ae(const config_t *cfg, int encoder, const char *weights, const char *inputs,
                  const char *out, int q8) {
    dbg_env_t e;
    flux2_ae_t *ae = NULL;
    int rc = 1, cases = 0;
    if (dbg_open(&e, cfg, weights, inputs, q8)) goto out;
    if (flux2_ae_load(e.wf, e.wflags, &ae, e.err, sizeof e.err)) {
        fprintf(stderr, "imgapi: %s\n", e.err);
        goto out;
    }
    if (encoder && !flux2_ae_has_encoder(ae)) {
        fprintf(stderr, "imgapi: %s has no encoder\n", weights);
        goto out;
    }
    int C = flux2_ae_latent_channels(ae), s = flux2_ae_scale(ae), z = C / 4;
    for (size_t i = 0; i < st_count(e.inf); i++) {
        char key[64];
        if (!case_key(st_get(e.inf, i)->name, encoder ? "image" : "latent", key, sizeof key))
            continue;
        const st_tensor_t *t;
        float *x = dbg_read_f32(e.inf, st_get(e.inf, i)->name, NULL, &t);
        int ok = x && t->ndim == 4 && t->shape[0] == 1 &&
                 (encoder ? t->shape[1] == 3 && t->shape[2] % s == 0 && t->shape[3] % s == 0
                          : t->shape[1] == C);
        if (!ok) {
            fprintf(stderr,
                    encoder
                        ? "imgapi: case %s: needs %s.image [1, 3, H, W] (H, W multiples of %d)\n"
                        : "imgapi: case %s: needs %s.latent [1, %d, h, w]\n",
                    key, key, encoder ? s : C);
            free(x);
            goto out;
        }
        int h = (int)t->shape[2], w = (int)t->shape[3], bad;
        if (encoder) {
            size_t n = (size_t)(h / s) * (w / s) * C;
            float *lat = malloc(sizeof *lat * n), *mom = malloc(sizeof *mom * 2 * n),
                  *mean = malloc(sizeof *mean * n);
            int hs = 2 * h / s, ws = 2 * w / s; /* the moments' size: half the latent's scale */
            bad = !lat || !mom || !mean || flux2_ae_encode(ae, &e.kc, x, h, w, lat, mom, mean) ||
                  put(e.w, key, "latent", C, h / s, w / s, lat) ||
                  put(e.w, key, "moments", 2 * z, hs, ws, mom) ||
                  put(e.w, key, "mean", z, hs, ws, mean);
            free(lat);
            free(mom);
            free(mean);
        } else {
            float *img = malloc(sizeof *img * 3 * (size_t)h * s * w * s);
            bad = !img || flux2_ae_decode(ae, &e.kc, x, h, w, img) ||
                  put(e.w, key, "image", 3, h * s, w * s, img);
            free(img);
        }
        free(x);
        if (bad) {
            fprintf(stderr, "imgapi: case %s: the FLUX.2 autoencoder could not run\n", key);
            goto out;
        }
        cases++;
    }
    rc = finish(e.w, cases, inputs, encoder ? "image" : "latent", out);
out:
    flux2_ae_free(ae);
    dbg_close(&e);
    return rc;
}

/* One case's input tensor PREFIX.what as floats with its tensor (NULL when absent). */
static float *case_f32(const st_file_t *f, const char *key, const char *what,
                       const st_tensor_t **t) {
    char nm[96];
    snprintf(nm, sizeof nm, "%s.%s", key, what);
    return dbg_read_f32(f, nm, NULL, t);
}

int debug_flux_transformer(const config_t *cfg, const char *weights, const char *inputs,
                           const char *out, int q8) {
    dbg_env_t e;
    flux2_dit_t *m = NULL;
    int rc = 1, cases = 0;
    if (dbg_open(&e, cfg, weights, inputs, q8)) goto out;
    if (flux2_dit_load(e.wf, e.wflags, &m, e.err, sizeof e.err)) {
        fprintf(stderr, "imgapi: %s\n", e.err);
        goto out;
    }
    const flux2_dit_info_t *I = flux2_dit_info(m);
    for (size_t i = 0; i < st_count(e.inf); i++) {
        char key[64];
        if (!case_key(st_get(e.inf, i)->name, "x", key, sizeof key)) continue;
        const st_tensor_t *tx, *txi, *tt, *tc, *tci, *tg;
        float *x = case_f32(e.inf, key, "x", &tx), *xi = case_f32(e.inf, key, "x_ids", &txi),
              *ts = case_f32(e.inf, key, "timesteps", &tt), *c = case_f32(e.inf, key, "ctx", &tc),
              *ci = case_f32(e.inf, key, "ctx_ids", &tci),
              *g = case_f32(e.inf, key, "guidance", &tg);
        int nx = x && tx->ndim == 3 && tx->shape[0] == 1 && tx->shape[2] == I->in_channels
                     ? (int)tx->shape[1]
                     : 0;
        int nt = c && tc->ndim == 3 && tc->shape[0] == 1 && tc->shape[2] == I->context_dim
                     ? (int)tc->shape[1]
                     : 0;
        int ok = nx && nt && xi && txi->numel == (int64_t)nx * 4 && ci &&
                 tci->numel == (int64_t)nt * 4 && ts && tt->numel == 1 &&
                 (!I->has_guidance || (g && tg->numel == 1));
        float *o = ok ? malloc(sizeof *o * (size_t)nx * I->in_channels) : NULL;
        int bad = !ok || !o ||
                  flux2_dit_forward(m, &e.kc, x, xi, nx, ts[0], c, ci, nt, g ? g[0] : 0.f, o);
        if (!bad) {
            char nm[96];
            snprintf(nm, sizeof nm, "%s.out", key);
            int64_t shape[3] = {1, nx, I->in_channels};
            bad = st_writer_add(e.w, nm, ST_F32, 3, shape, o) != IMG_OK;
        }
        free(x);
        free(xi);
        free(ts);
        free(c);
        free(ci);
        free(g);
        free(o);
        if (bad) {
            fprintf(stderr,
                    "imgapi: case %s: needs %s.x [1, N, %d], .x_ids [1, N, 4], .timesteps [1], "
                    ".ctx [1, T, %d], "
                    ".ctx_ids [1, T, 4]%s\n",
                    key, key, I->in_channels, I->context_dim,
                    I->has_guidance ? ", .guidance [1]" : "");
            goto out;
        }
        cases++;
    }
    rc = finish(e.w, cases, inputs, "x", out);
out:
    flux2_dit_free(m);
    dbg_close(&e);
    return rc;
}

int debug_flux_schedule(const char *inputs, const char *out) {
    char err[256] = "";
    st_file_t *inf = NULL;
    st_writer_t *w = NULL;
    int rc = 1, cases = 0;
    if (st_open(inputs, &inf, err, sizeof err) || st_writer_new(&w)) {
        fprintf(stderr, "imgapi: %s\n", err[0] ? err : "out of memory");
        goto out;
    }
    for (size_t i = 0; i < st_count(inf); i++) {
        char key[64];
        if (!case_key(st_get(inf, i)->name, "steps", key, sizeof key)) continue;
        const st_tensor_t *ts, *tl;
        float *steps = case_f32(inf, key, "steps", &ts), *len = case_f32(inf, key, "seq_len", &tl);
        int n = steps && ts->numel == 1 && steps[0] >= 1 && steps[0] <= 1000 ? (int)steps[0] : 0;
        int l = len && tl->numel == 1 && len[0] >= 1 && len[0] <= 1e7 ? (int)len[0] : 0;
        float *t = n && l ? malloc(sizeof *t * (size_t)(n + 1)) : NULL;
        int bad = !t;
        if (!bad) {
            flux2_schedule(n, l, t);
            char nm[96];
            snprintf(nm, sizeof nm, "%s.timesteps", key);
            int64_t shape[1] = {n + 1};
            bad = st_writer_add(w, nm, ST_F32, 1, shape, t) != IMG_OK;
        }
        free(steps);
        free(len);
        free(t);
        if (bad) {
            fprintf(stderr, "imgapi: case %s: needs %s.steps [1] (1 to 1000) and %s.seq_len [1]\n",
                    key, key, key);
            goto out;
        }
        cases++;
    }
    rc = finish(w, cases, inputs, "steps", out);
out:
    st_writer_free(w);
    st_close(inf);
    return rc;
}

int debug_flux_sampler(const config_t *cfg, const char *weights, const char *inputs,
                       const char *out, int q8) {
    dbg_env_t e;
    flux2_dit_t *m = NULL;
    int rc = 1, cases = 0;
    if (dbg_open(&e, cfg, weights, inputs, q8)) goto out;
    if (flux2_dit_load(e.wf, e.wflags, &m, e.err, sizeof e.err)) {
        fprintf(stderr, "imgapi: %s\n", e.err);
        goto out;
    }
    const flux2_dit_info_t *I = flux2_dit_info(m);
    int C = I->in_channels;
    for (size_t i = 0; i < st_count(e.inf); i++) {
        char key[64];
        if (!case_key(st_get(e.inf, i)->name, "x", key, sizeof key)) continue;
        const st_tensor_t *tx, *txi, *tr = NULL, *tri = NULL, *tc, *tci, *tt, *tg;
        float *x = case_f32(e.inf, key, "x", &tx), *xi = case_f32(e.inf, key, "x_ids", &txi),
              *r = case_f32(e.inf, key, "ref", &tr), *ri = case_f32(e.inf, key, "ref_ids", &tri),
              *c = case_f32(e.inf, key, "ctx", &tc), *ci = case_f32(e.inf, key, "ctx_ids", &tci),
              *t = case_f32(e.inf, key, "timesteps", &tt),
              *g = case_f32(e.inf, key, "guidance", &tg);
        int nx = x && tx->ndim == 3 && tx->shape[2] == C ? (int)tx->shape[1] : 0;
        int nr = r && tr->ndim == 3 && tr->shape[2] == C ? (int)tr->shape[1] : 0;
        int nt = c && tc->ndim == 3 && tc->shape[2] == I->context_dim ? (int)tc->shape[1] : 0;
        int steps = t && tt->numel >= 2 ? (int)tt->numel - 1 : 0;
        int ok = nx && nt && steps && xi && txi->numel == (int64_t)nx * 4 && ci &&
                 tci->numel == (int64_t)nt * 4 &&
                 (!r || (nr && ri && tri->numel == (int64_t)nr * 4)) &&
                 (!I->has_guidance || (g && tg->numel == 1));
        int bad = !ok || flux2_denoise(m, &e.kc, x, xi, nx, r, ri, nr, c, ci, nt, t, steps,
                                       g ? g[0] : 0.f);
        if (!bad) {
            char nm[96];
            snprintf(nm, sizeof nm, "%s.out", key);
            int64_t shape[3] = {1, nx, C};
            bad = st_writer_add(e.w, nm, ST_F32, 3, shape, x) != IMG_OK;
        }
        free(x);
        free(xi);
        free(r);
        free(ri);
        free(c);
        free(ci);
        free(t);
        free(g);
        if (bad) {
            fprintf(
                stderr,
                "imgapi: case %s: needs %s.x [1, N, %d], .x_ids [1, N, 4], .ctx [1, T, %d], "
                ".ctx_ids [1, T, 4], "
                ".timesteps [steps + 1]%s, optionally .ref [1, R, %d] with .ref_ids [1, R, 4]\n",
                key, key, C, I->context_dim, I->has_guidance ? ", .guidance [1]" : "", C);
            goto out;
        }
        cases++;
    }
    rc = finish(e.w, cases, inputs, "x", out);
out:
    flux2_dit_free(m);
    dbg_close(&e);
    return rc;
}

int debug_qwen3_text(const config_t *cfg, const char *weights, const char *inputs, const char *out,
                     int q8) {
    dbg_env_t e;
    qwen3_t *m = NULL;
    int rc = 1, cases = 0;
    if (dbg_open(&e, cfg, weights, inputs, q8)) goto out;
    if (qwen3_load(e.wf, e.wflags, &m, e.err, sizeof e.err)) {
        fprintf(stderr, "imgapi: %s\n", e.err);
        goto out;
    }
    const qwen3_info_t *I = qwen3_info(m);
    int stack[3];
    qwen3_flux2_layers(m, stack);
    for (size_t i = 0; i < st_count(e.inf); i++) {
        char key[64];
        if (!case_key(st_get(e.inf, i)->name, "tokens", key, sizeof key)) continue;
        const st_tensor_t *tt, *tm = NULL;
        float *tf = case_f32(e.inf, key, "tokens", &tt),
              *mf = case_f32(e.inf, key, "attention_mask", &tm);
        int n = tf && tt->ndim == 2 && tt->shape[0] == 1 ? (int)tt->shape[1] : 0;
        int ok = n > 0 && (!mf || tm->numel == n);
        int32_t *tok = ok ? malloc(sizeof *tok * (size_t)n) : NULL,
                *mask = ok && mf ? malloc(sizeof *mask * (size_t)n) : NULL;
        float *ctx = ok ? malloc(sizeof *ctx * (size_t)n * 3 * I->hidden) : NULL,
              *one = ok ? malloc(sizeof *one * (size_t)n * I->hidden) : NULL;
        int bad = !ok || !tok || !ctx || !one || (mf && !mask);
        for (int k = 0; !bad && k < n; k++) {
            tok[k] = (int32_t)tf[k];
            if (mask) mask[k] = (int32_t)mf[k];
        }
        if (!bad) bad = qwen3_hidden(m, &e.kc, tok, mask, n, stack, 3, ctx) != IMG_OK;
        if (!bad) {
            char nm[96];
            snprintf(nm, sizeof nm, "%s.ctx", key);
            int64_t shape[3] = {1, n, 3 * I->hidden};
            bad = st_writer_add(e.w, nm, ST_F32, 3, shape, ctx) != IMG_OK;
            for (int s = 0; !bad && s < 3; s++) {
                for (int r = 0; r < n; r++)
                    memcpy(one + (size_t)r * I->hidden,
                           ctx + (size_t)r * 3 * I->hidden + (size_t)s * I->hidden,
                           sizeof *one * (size_t)I->hidden);
                snprintf(nm, sizeof nm, "%s.hidden_states.%d", key, stack[s]);
                int64_t sh[3] = {1, n, I->hidden};
                bad = st_writer_add(e.w, nm, ST_F32, 3, sh, one) != IMG_OK;
            }
        }
        free(tf);
        free(mf);
        free(tok);
        free(mask);
        free(ctx);
        free(one);
        if (bad) {
            fprintf(stderr,
                    "imgapi: case %s: needs %s.tokens [1, L] (ids below %d) and optionally "
                    "%s.attention_mask [1, L] "
                    "(ones, then zeros for padding)\n",
                    key, key, I->vocab, key);
            goto out;
        }
        cases++;
    }
    rc = finish(e.w, cases, inputs, "tokens", out);
out:
    qwen3_free(m);
    dbg_close(&e);
    return rc;
}

static json_t *ids_array(const int32_t *ids, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_integer(ids[i]));
    return a;
}

int debug_qwen_tokenizer(const char *weights, const char *inputs, const char *out) {
    char err[512];
    bbpe_t *t = NULL;
    if (bbpe_load(weights, &t, err, sizeof err)) {
        fprintf(stderr, "imgapi: %s\n", err);
        return 1;
    }
    json_error_t je;
    json_t *in = json_load_file(inputs, 0, &je), *res = json_array();
    json_t *cases = in ? json_object_get(in, "cases") : NULL;
    int rc = json_is_array(cases) ? 0 : 1;
    if (rc) fprintf(stderr, "imgapi: %s: expected {\"cases\": [{\"name\", \"prompt\"}]}\n", inputs);
    int32_t ids[FLUX2_TEXT_LEN], mask[FLUX2_TEXT_LEN];
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *prompt = json_string_value(json_object_get(c, "prompt"));
        int32_t *plain = NULL;
        size_t n = 0;
        int used = 0;
        if (!prompt || bbpe_encode(t, prompt, &plain, &n) ||
            flux2_prompt_tokens(t, prompt, FLUX2_TEXT_LEN, ids, mask, &used, NULL)) {
            fprintf(stderr, "imgapi: %s: case %zu has no prompt, or the tokenizer lacks Qwen's chat tokens\n",
                    inputs, i);
            free(plain);
            rc = 1;
            break;
        }
        json_array_append_new(res, json_pack("{s:O, s:o, s:o, s:i}", "name", json_object_get(c, "name"), "ids",
                                             ids_array(plain, n), "klein_ids", ids_array(ids, FLUX2_TEXT_LEN),
                                             "klein_len", used));
        free(plain);
    }
    json_t *root = json_pack("{s:o}", "cases", res);
    if (!rc && json_dump_file(root, out, JSON_COMPACT | JSON_ENSURE_ASCII)) {
        fprintf(stderr, "imgapi: cannot write %s\n", out);
        rc = 1;
    }
    json_decref(root);
    json_decref(in);
    bbpe_free(t);
    return rc;
}

int debug_flux_pipeline(const config_t *cfg, const char *dir, const char *inputs, const char *out, int q8) {
    char paths[4][1100], err[512] = "";
    static const char *const FILES[4] = {"transformer.safetensors", "ae.safetensors", "text_encoder.safetensors",
                                         "tokenizer.json"};
    for (int i = 0; i < 4; i++)
        snprintf(paths[i], sizeof paths[i], "%s/%s", dir, FILES[i]);
    if (access(paths[0], F_OK)) /* the transformer as GGUF (imgapi convert) when that is what there is */
        snprintf(paths[0], sizeof paths[0], "%s/transformer.gguf", dir);
    eng_load_opts_t o = {.checkpoint = paths[0], .vae = paths[1], .text_encoder = paths[2], .tokenizer = paths[3],
                         .threads = cfg->threads, .isa = cfg->isa, .precision = cfg->precision, .weights_q8 = q8};
    eng_model_t *m = NULL;
    st_file_t *inf = NULL;
    st_writer_t *w = NULL;
    int rc = 1, cases = 0;
    if (eng_load(&o, &m, err, sizeof err) || st_open(inputs, &inf, err, sizeof err) || st_writer_new(&w)) {
        fprintf(stderr, "imgapi: %s\n", err[0] ? err : "out of memory");
        goto out;
    }
    int up = eng_info(m)->multiple, C = eng_info(m)->latent_channels;
    for (size_t i = 0; i < st_count(inf); i++) {
        char key[64], mk[96];
        if (!case_key(st_get(inf, i)->name, "noise", key, sizeof key)) continue;
        const st_tensor_t *nt, *it = NULL;
        float *noise = case_f32(inf, key, "noise", &nt), *image = case_f32(inf, key, "image", &it);
        snprintf(mk, sizeof mk, "%s.prompt", key);
        const char *prompt = st_metadata(inf, mk);
        snprintf(mk, sizeof mk, "%s.steps", key);
        const char *steps = st_metadata(inf, mk);
        int ok = noise && nt->ndim == 4 && nt->shape[0] == 1 && nt->shape[1] == C && prompt && steps;
        int H = ok ? (int)nt->shape[2] * up : 0, W = ok ? (int)nt->shape[3] * up : 0;
        int nimg = image && it->ndim == 4 ? (int)it->shape[0] : 0;
        ok = ok && (!image || (nimg >= 1 && nimg <= 16 && it->shape[1] == 3 && it->shape[2] == H && it->shape[3] == W));
        img_t ims[16] = {{0}}, res = {0};
        const img_t *more[15];
        float *rgb = ok ? malloc(sizeof *rgb * 3 * (size_t)H * W) : NULL;
        ok = ok && rgb;
        for (int k = 0; ok && k < nimg; k++) { /* image k: 8-bit RGB */
            ok = img_alloc(&ims[k], W, H, 3) == IMG_OK;
            for (size_t p = 0; ok && p < (size_t)H * W; p++)
                for (int c = 0; c < 3; c++) {
                    float v = image[((size_t)k * 3 + c) * H * W + p];
                    ims[k].pixels[p * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
                }
            if (k) more[k - 1] = &ims[k];
        }
        eng_params_t ep = {.prompt = prompt, .width = W, .height = H, .steps = ok ? atoi(steps) : 0, .guidance = 1.f,
                           .sampler = SAMPLER_EULER, .init_image = nimg ? &ims[0] : NULL, .strength = 1.f,
                           .more_images = more, .nmore = nimg > 1 ? nimg - 1 : 0, .noise = noise, .decoded = rgb};
        int grc = ok ? eng_generate(m, &ep, NULL, NULL, &res) : IMG_EINVAL;
        if (!grc) {
            snprintf(mk, sizeof mk, "%s.out", key);
            int64_t shape[4] = {1, 3, H, W};
            grc = st_writer_add(w, mk, ST_F32, 4, shape, rgb);
        }
        free(noise);
        free(image);
        free(rgb);
        for (int k = 0; k < nimg; k++) img_free(&ims[k]);
        img_free(&res);
        if (grc) {
            fprintf(stderr,
                    "imgapi: case %s: needs %s.noise [1, %d, h, w], metadata %s.prompt and %s.steps, and optionally "
                    "%s.image [n, 3, %d h, %d w] (0-255, n up to the model's images) (%s)\n",
                    key, key, C, key, key, key, up, up, img_status_str(grc));
            goto out;
        }
        cases++;
    }
    rc = finish(w, cases, inputs, "noise", out);
out:
    st_writer_free(w);
    st_close(inf);
    eng_free(m);
    return rc;
}
