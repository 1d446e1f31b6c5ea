/* debug_nets.c - `imgapi debug unet`, `vae-decoder`, `vae-encoder`, `tiny-decoder` and
 * `tiny-encoder`. */
#include "cli/debug.h"
#include "common/status.h"
#include "engine/models/tiny_vae.h"
#include "engine/models/unet.h"
#include "engine/models/vae.h"
#include "engine/models/vae_encoder.h"
#include "engine/runtime/engine_ctx.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* For every case K with K.x [B, C, H, W], K.timesteps [B], K.context [B, T, D] (and K.y [B, A]
 * for SDXL): writes K.out and K.intermediate.*. */
int debug_unet(const config_t *cfg, const char *weights, const char *inputs, const char *out,
               const char *const *loras, int nloras, int q8) {
    dbg_env_t e;
    unet_t *u = NULL;
    int rc = 1, cases = 0;
    if (dbg_open(&e, cfg, weights, inputs, q8) || dbg_loras(&e.wf, &e.base, loras, nloras)) goto out;
    if (unet_load(e.wf, e.wflags, &u, e.err, sizeof e.err)) {
        fprintf(stderr, "imgapi: %s\n", e.err);
        goto out;
    }
    st_file_t *inf = e.inf;
    st_writer_t *w = e.w;
    const unet_info_t *I = unet_info(u);
    for (size_t i = 0; i < st_count(inf); i++) {
        const char *name = st_get(inf, i)->name;
        size_t l = strlen(name);
        if (l < 3 || strcmp(name + l - 2, ".x") != 0 || l > 60) continue;
        char key[64], nm[96];
        snprintf(key, sizeof key, "%.*s", (int)(l - 2), name);
        const st_tensor_t *tx, *tt, *tc, *ty = NULL;
        float *x = dbg_read_f32(inf, name, NULL, &tx);
        snprintf(nm, sizeof nm, "%s.timesteps", key);
        float *ts = dbg_read_f32(inf, nm, NULL, &tt);
        snprintf(nm, sizeof nm, "%s.context", key);
        float *ctx = dbg_read_f32(inf, nm, NULL, &tc);
        snprintf(nm, sizeof nm, "%s.y", key);
        float *y = dbg_read_f32(inf, nm, NULL, &ty);
        int ok = x && ts && ctx && tx->ndim == 4 && tx->shape[1] == I->in_ch && tc->ndim == 3 &&
                 tc->shape[2] == I->ctx_dim && tt->numel == tx->shape[0] && tc->shape[0] == tx->shape[0] &&
                 (I->adm_in ? y && ty->numel == tx->shape[0] * I->adm_in : 1);
        float *o = ok ? malloc(sizeof(float) * (size_t)tx->numel / (size_t)I->in_ch * (size_t)I->out_ch) : NULL;
        if (!ok || !o) {
            fprintf(stderr, "imgapi: case %s: inputs missing or of the wrong shape\n", key);
            free(x); free(ts); free(ctx); free(y); free(o);
            goto out;
        }
        int B = (int)tx->shape[0], H = (int)tx->shape[2], W = (int)tx->shape[3], T = (int)tc->shape[1];
        size_t in_plane = (size_t)I->in_ch * H * W, out_plane = (size_t)I->out_ch * H * W;
        for (int b = 0; b < B && ok; b++) {
            tap_ctx_t tap = {w, key, 0};
            if (unet_forward(u, &e.kc, x + b * in_plane, H, W, ts[b], ctx + (size_t)b * T * I->ctx_dim, T,
                             y ? y + (size_t)b * I->adm_in : NULL, o + b * out_plane, b == 0 ? dbg_tap_write : NULL,
                             &tap) || tap.failed)
                ok = 0;
        }
        snprintf(nm, sizeof nm, "%s.out", key);
        if (ok && st_writer_add(w, nm, ST_F32, 4, tx->shape, o)) ok = 0;
        free(x); free(ts); free(ctx); free(y); free(o);
        if (!ok) {
            fprintf(stderr, "imgapi: case %s: the UNet could not run (sizes must halve evenly)\n", key);
            goto out;
        }
        cases++;
    }
    if (!cases) {
        fprintf(stderr, "imgapi: %s has no case K with K.x, K.timesteps and K.context\n", inputs);
        goto out;
    }
    if (st_writer_save(w, out)) {
        fprintf(stderr, "imgapi: cannot write %s\n", out);
        goto out;
    }
    rc = 0;
out:
    unet_free(u);
    dbg_close(&e);
    return rc;
}

/* Reads z [1, 4, h, w] (already divided by the scale factor), writes image and intermediates. */
int debug_vae(const config_t *cfg, const char *weights, const char *inputs, const char *out, int q8) {
    dbg_env_t e;
    vae_t *v = NULL;
    float *z = NULL, *img = NULL;
    int rc = 1;
    if (dbg_open(&e, cfg, weights, inputs, q8)) goto out;
    if (vae_load(e.wf, e.wflags, &v, e.err, sizeof e.err)) {
        fprintf(stderr, "imgapi: %s\n", e.err);
        goto out;
    }
    st_file_t *inf = e.inf;
    st_writer_t *w = e.w;
    const st_tensor_t *tz;
    z = dbg_read_f32(inf, "z", NULL, &tz);
    if (!z || tz->ndim != 4 || tz->shape[0] != 1 || tz->shape[1] != vae_latent_channels(v)) {
        fprintf(stderr, "imgapi: %s: needs 'z' [1, %d, h, w]\n", inputs, vae_latent_channels(v));
        goto out;
    }
    int h = (int)tz->shape[2], wd = (int)tz->shape[3], s = vae_upscale(v);
    img = malloc(sizeof(float) * 3 * (size_t)h * wd * s * s);
    tap_ctx_t tap = {w, "", 0};
    tap_ctx_t *tp = &tap;
    /* a latent larger than vae_tile a side is decoded in tiles (no intermediate taps then) */
    int tiled = cfg->vae_tile > 0 && (h > cfg->vae_tile || wd > cfg->vae_tile);
    if (tiled && cfg->vae_tile_overlap * 2 >= cfg->vae_tile) {
        fprintf(stderr, "imgapi: vae_tile_overlap (%d) must be under half of vae_tile (%d)\n",
                cfg->vae_tile_overlap, cfg->vae_tile);
        goto out;
    }
    if (!img ||
        (tiled ? vae_decode_tiled(v, &e.kc, z, h, wd, cfg->vae_tile, cfg->vae_tile_overlap, img)
               : vae_decode(v, &e.kc, z, h, wd, img, dbg_tap_write, tp)) ||
        tap.failed) {
        fprintf(stderr, "imgapi: the VAE decoder could not run\n");
        goto out;
    }
    int64_t shape[4] = {1, 3, (int64_t)h * s, (int64_t)wd * s};
    if (st_writer_add(w, "image", ST_F32, 4, shape, img) || st_writer_save(w, out)) {
        fprintf(stderr, "imgapi: cannot write %s\n", out);
        goto out;
    }
    rc = 0;
out:
    free(z);
    free(img);
    vae_free(v);
    dbg_close(&e);
    return rc;
}

/* Decoder: reads latent [1, c, h, w] (diffusion space), writes image [1, 3, s*h, s*w] in [0, 1].
 * Encoder: reads image [1, 3, h, w] in [0, 1], writes latent [1, c, h/s, w/s]. */
int debug_tiny(const config_t *cfg, int encoder, const char *weights, const char *inputs, const char *out) {
    dbg_env_t e;
    tiny_vae_t *t = NULL;
    float *x = NULL, *y = NULL;
    int rc = 1;
    const char *what = encoder ? "tiny encoder" : "tiny decoder", *in = encoder ? "image" : "latent";
    if (dbg_open(&e, cfg, weights, inputs, 0)) goto out;
    if (tiny_vae_load_part(e.wf, encoder ? TINY_ENCODER : TINY_DECODER, &t, e.err, sizeof e.err)) {
        fprintf(stderr, "imgapi: %s\n", e.err);
        goto out;
    }
    const st_tensor_t *tx;
    int cin = encoder ? 3 : tiny_vae_latent_channels(t), cout = encoder ? tiny_vae_latent_channels(t) : 3;
    x = dbg_read_f32(e.inf, in, NULL, &tx);
    if (!x || tx->ndim != 4 || tx->shape[0] != 1 || tx->shape[1] != cin) {
        fprintf(stderr, "imgapi: %s: needs '%s' [1, %d, h, w]\n", inputs, in, cin);
        goto out;
    }
    int h = (int)tx->shape[2], wd = (int)tx->shape[3];
    int oh = encoder ? h / tiny_vae_downscale(t) : h * tiny_vae_upscale(t);
    int ow = encoder ? wd / tiny_vae_downscale(t) : wd * tiny_vae_upscale(t);
    y = malloc(sizeof(float) * (size_t)cout * oh * ow); /* freed below */
    int64_t shape[4] = {1, cout, oh, ow};
    int run = !y ? IMG_ENOMEM : encoder ? tiny_vae_encode(t, &e.kc, x, h, wd, y) : tiny_vae_decode(t, &e.kc, x, h, wd, y);
    if (run || st_writer_add(e.w, encoder ? "latent" : "image", ST_F32, 4, shape, y) || st_writer_save(e.w, out)) {
        fprintf(stderr, "imgapi: the %s could not run (%s) or write %s\n", what,
                run == IMG_EINVAL ? "the image sides must be multiples of its downscale" : img_status_str(run), out);
        goto out;
    }
    rc = 0;
out:
    free(x);
    free(y);
    tiny_vae_free(t);
    dbg_close(&e);
    return rc;
}


/* For every case K with K.image [B, 3, H, W] in [-1, 1] (and K.noise [B, z, H/s, W/s], the draw
 * of the Gaussian; without it the latent is the mean): writes K.moments, K.mean, K.logvar, K.std,
 * K.latent_scaled (scale 0.18215), K.decoded (the latent decoded again, when the file has a
 * decoder) and K.intermediate.* for the first image. */
int debug_vae_encoder(const config_t *cfg, const char *weights, const char *inputs, const char *out, int q8) {
    dbg_env_t e;
    vae_encoder_t *enc = NULL;
    vae_t *dec = NULL;
    int rc = 1, cases = 0;
    if (dbg_open(&e, cfg, weights, inputs, q8)) goto out;
    if (vae_encoder_load(e.wf, e.wflags, &enc, e.err, sizeof e.err)) {
        fprintf(stderr, "imgapi: %s\n", e.err);
        goto out;
    }
    char derr[256];
    if (vae_load(e.wf, e.wflags, &dec, derr, sizeof derr)) dec = NULL; /* decoded is optional */
    int s = vae_encoder_downscale(enc), zc = vae_encoder_latent_channels(enc);
    for (size_t i = 0; i < st_count(e.inf); i++) {
        const char *name = st_get(e.inf, i)->name;
        size_t l = strlen(name);
        if (l < 7 || strcmp(name + l - 6, ".image") != 0 || l > 60) continue;
        char key[64], nm[96];
        snprintf(key, sizeof key, "%.*s", (int)(l - 6), name);
        const st_tensor_t *ti, *tn = NULL;
        float *img = dbg_read_f32(e.inf, name, NULL, &ti);
        snprintf(nm, sizeof nm, "%s.noise", key);
        float *noise = dbg_read_f32(e.inf, nm, NULL, &tn);
        int ok = img && ti->ndim == 4 && ti->shape[1] == 3 && ti->shape[2] % s == 0 &&
                 ti->shape[3] % s == 0;
        int B = ok ? (int)ti->shape[0] : 0, H = ok ? (int)ti->shape[2] : 0, W = ok ? (int)ti->shape[3] : 0;
        size_t n = (size_t)zc * (H / s) * (W / s);
        if (ok && noise && (size_t)tn->numel != (size_t)B * n) ok = 0;
        float *mom = ok ? malloc(sizeof(float) * 2 * n * B) : NULL;
        float *outs = ok ? malloc(sizeof(float) * 4 * n * B) : NULL; /* mean, logvar, std, latent */
        float *dimg = ok && dec ? malloc(sizeof(float) * 3 * (size_t)H * W * B) : NULL;
        float *zbuf = ok ? malloc(sizeof(float) * n) : NULL;
        if (!ok || !mom || !outs || !zbuf || (dec && !dimg)) {
            fprintf(stderr, "imgapi: case %s: needs %s.image [B, 3, H, W] (H, W multiples of %d) and "
                            "optionally %s.noise [B, %d, H/%d, W/%d]\n",
                    key, key, s, key, zc, s, s);
            free(img); free(noise); free(mom); free(outs); free(dimg); free(zbuf);
            goto out;
        }
        for (int b = 0; b < B && ok; b++) {
            tap_ctx_t tap = {e.w, key, 0};
            float *mb = mom + (size_t)b * 2 * n;
            /* an image larger than vae_tile latents a side is encoded in tiles (no taps then) */
            int tiled = cfg->vae_tile > 0 && (H / s > cfg->vae_tile || W / s > cfg->vae_tile);
            const float *ib = img + (size_t)b * 3 * H * W;
            int erc = tiled ? vae_encode_tiled(enc, &e.kc, ib, H, W, cfg->vae_tile, cfg->vae_tile_overlap, mb)
                            : vae_encode_moments(enc, &e.kc, ib, H, W, mb, b == 0 ? dbg_tap_write : NULL, &tap);
            if (erc == IMG_EINVAL && tiled)
                fprintf(stderr, "imgapi: vae_tile_overlap (%d) must be under half of vae_tile (%d)\n",
                        cfg->vae_tile_overlap, cfg->vae_tile);
            if (erc || tap.failed) {
                ok = 0;
                break;
            }
            vae_moments_to_latent(mb, n, noise ? noise + (size_t)b * n : NULL, 0.18215f,
                                  outs + (size_t)b * n, outs + (size_t)B * n + (size_t)b * n,
                                  outs + (size_t)2 * B * n + (size_t)b * n,
                                  outs + (size_t)3 * B * n + (size_t)b * n);
            if (dec) {
                for (size_t k = 0; k < n; k++) zbuf[k] = outs[(size_t)3 * B * n + (size_t)b * n + k] / 0.18215f;
                if (vae_decode(dec, &e.kc, zbuf, H / s, W / s, dimg + (size_t)b * 3 * H * W, NULL, NULL)) ok = 0;
            }
        }
        int64_t shm[4] = {B, 2 * zc, H / s, W / s}, shz[4] = {B, zc, H / s, W / s}, shi[4] = {B, 3, H, W};
        static const char *const OUTS[4] = {"mean", "logvar", "std", "latent_scaled"};
        snprintf(nm, sizeof nm, "%s.moments", key);
        if (ok && st_writer_add(e.w, nm, ST_F32, 4, shm, mom)) ok = 0;
        for (int k = 0; k < 4 && ok; k++) {
            snprintf(nm, sizeof nm, "%s.%s", key, OUTS[k]);
            if (st_writer_add(e.w, nm, ST_F32, 4, shz, outs + (size_t)k * B * n)) ok = 0;
        }
        snprintf(nm, sizeof nm, "%s.decoded", key);
        if (ok && dec && st_writer_add(e.w, nm, ST_F32, 4, shi, dimg)) ok = 0;
        free(img); free(noise); free(mom); free(outs); free(dimg); free(zbuf);
        if (!ok) {
            fprintf(stderr, "imgapi: case %s: the VAE encoder could not run\n", key);
            goto out;
        }
        cases++;
    }
    if (!cases) {
        fprintf(stderr, "imgapi: %s has no case K with K.image\n", inputs);
        goto out;
    }
    if (st_writer_save(e.w, out)) {
        fprintf(stderr, "imgapi: cannot write %s\n", out);
        goto out;
    }
    rc = 0;
out:
    vae_encoder_free(enc);
    vae_free(dec);
    dbg_close(&e);
    return rc;
}

/* The inpainting conditioning of golden section 8 for every case K (K.image [B,3,H,W] in [-1,1],
 * K.mask_soft [B,1,H,W] with 1 = repaint, K.encoder_noise, K.x [B,4,h,w], K.timesteps [B],
 * K.context [B,T,D]): writes K.mask, K.masked_image, K.mask_latent, K.masked_image_latent,
 * K.unet_input (x, then the mask, then the masked image's latent: 9 channels) and K.out, the
 * 9-channel UNet's prediction. The UNet comes from `weights`, the VAE encoder from `vae`. */
int debug_inpaint_condition(const config_t *cfg, const char *weights, const char *vae_path,
                            const char *inputs, const char *out, int q8) {
    dbg_env_t e;
    unet_t *u = NULL;
    vae_encoder_t *enc = NULL;
    st_file_t *vf = NULL;
    int rc = 1, cases = 0;
    if (dbg_open(&e, cfg, weights, inputs, q8)) goto out;
    if (!vae_path) {
        fprintf(stderr, "imgapi: inpaint-condition needs --vae FILE (the VAE whose encoder makes the "
                        "masked image's latent)\n");
        goto out;
    }
    if (st_open(vae_path, &vf, e.err, sizeof e.err) ||
        vae_encoder_load(vf, e.wflags, &enc, e.err, sizeof e.err) ||
        unet_load(e.wf, e.wflags, &u, e.err, sizeof e.err)) {
        fprintf(stderr, "imgapi: %s\n", e.err);
        goto out;
    }
    const unet_info_t *I = unet_info(u);
    int s = vae_encoder_downscale(enc), zc = vae_encoder_latent_channels(enc);
    if (I->in_ch != 2 * zc + 1) {
        fprintf(stderr, "imgapi: the UNet takes %d input channels; an inpainting UNet takes %d\n",
                I->in_ch, 2 * zc + 1);
        goto out;
    }
    for (size_t i = 0; i < st_count(e.inf); i++) {
        const char *name = st_get(e.inf, i)->name;
        size_t l = strlen(name);
        if (l < 7 || strcmp(name + l - 6, ".image") != 0 || l > 60) continue;
        char key[64], nm[96];
        snprintf(key, sizeof key, "%.*s", (int)(l - 6), name);
        const st_tensor_t *ti, *tm, *tn, *tx, *tt, *tc;
        float *img = dbg_read_f32(e.inf, name, NULL, &ti);
        snprintf(nm, sizeof nm, "%s.mask_soft", key);
        float *msoft = dbg_read_f32(e.inf, nm, NULL, &tm);
        snprintf(nm, sizeof nm, "%s.encoder_noise", key);
        float *noise = dbg_read_f32(e.inf, nm, NULL, &tn);
        snprintf(nm, sizeof nm, "%s.x", key);
        float *x = dbg_read_f32(e.inf, nm, NULL, &tx);
        snprintf(nm, sizeof nm, "%s.timesteps", key);
        float *ts = dbg_read_f32(e.inf, nm, NULL, &tt);
        snprintf(nm, sizeof nm, "%s.context", key);
        float *ctx = dbg_read_f32(e.inf, nm, NULL, &tc);
        int ok = img && msoft && noise && x && ts && ctx && ti->ndim == 4 && ti->shape[1] == 3;
        int B = ok ? (int)ti->shape[0] : 0, H = ok ? (int)ti->shape[2] : 0, W = ok ? (int)ti->shape[3] : 0;
        int h = H / s, w = W / s;
        size_t HW = (size_t)H * W, hw = (size_t)h * w, n = (size_t)zc * hw;
        ok = ok && H % s == 0 && W % s == 0 && tm->numel == (int64_t)B * (int64_t)HW &&
             tn->numel == (int64_t)(B * n) && tx->numel == (int64_t)(B * n) && tt->numel == B &&
             tc->ndim == 3 && tc->shape[0] == B && tc->shape[2] == I->ctx_dim;
        float *mask = ok ? malloc(sizeof(float) * B * HW) : NULL;
        float *mimg = ok ? malloc(sizeof(float) * 3 * B * HW) : NULL;
        float *mlat = ok ? malloc(sizeof(float) * B * hw) : NULL;
        float *milat = ok ? malloc(sizeof(float) * B * n) : NULL;
        float *mom = ok ? malloc(sizeof(float) * 2 * n) : NULL;
        float *uin = ok ? malloc(sizeof(float) * B * (size_t)I->in_ch * hw) : NULL;
        float *o = ok ? malloc(sizeof(float) * B * (size_t)I->out_ch * hw) : NULL;
        if (!ok || !mask || !mimg || !mlat || !milat || !mom || !uin || !o) {
            fprintf(stderr, "imgapi: case %s: inputs missing or of the wrong shape\n", key);
            ok = 0;
        }
        int T = ok ? (int)tc->shape[1] : 0;
        for (int b = 0; b < B && ok; b++) {
            const float *ms = msoft + b * HW;
            float *mk = mask + b * HW, *mi = mimg + b * 3 * HW, *ml = mlat + b * hw;
            for (size_t k = 0; k < HW; k++) mk[k] = ms[k] >= 0.5f ? 1.0f : 0.0f;
            for (int c = 0; c < 3; c++)
                for (size_t k = 0; k < HW; k++)
                    mi[c * HW + k] = img[b * 3 * HW + c * HW + k] * (mk[k] < 0.5f ? 1.0f : 0.0f);
            /* nearest: latent pixel (y, x) reads image pixel (y*H/h, x*W/w) */
            for (int yy = 0; yy < h; yy++)
                for (int xx = 0; xx < w; xx++)
                    ml[yy * w + xx] = mk[(size_t)(yy * H / h) * W + (size_t)(xx * W / w)];
            if (vae_encode_moments(enc, &e.kc, mi, H, W, mom, NULL, NULL)) {
                ok = 0;
                break;
            }
            vae_moments_to_latent(mom, n, noise + b * n, 0.18215f, NULL, NULL, NULL, milat + b * n);
            float *ui = uin + b * (size_t)I->in_ch * hw;
            memcpy(ui, x + b * n, sizeof(float) * n);
            memcpy(ui + n, ml, sizeof(float) * hw);
            memcpy(ui + n + hw, milat + b * n, sizeof(float) * n);
            if (unet_forward(u, &e.kc, ui, h, w, ts[b], ctx + (size_t)b * T * I->ctx_dim, T, NULL,
                             o + b * (size_t)I->out_ch * hw, NULL, NULL))
                ok = 0;
        }
        int64_t sh1[4] = {B, 1, H, W}, sh3[4] = {B, 3, H, W}, shl[4] = {B, 1, h, w},
                shz[4] = {B, zc, h, w}, shu[4] = {B, I->in_ch, h, w}, sho[4] = {B, I->out_ch, h, w};
        struct {
            const char *suffix;
            const int64_t *shape;
            const float *data;
        } outs[] = {{"mask", sh1, mask},       {"masked_image", sh3, mimg},
                    {"mask_latent", shl, mlat}, {"masked_image_latent", shz, milat},
                    {"unet_input", shu, uin},   {"out", sho, o}};
        for (size_t k = 0; k < sizeof outs / sizeof outs[0] && ok; k++) {
            snprintf(nm, sizeof nm, "%s.%s", key, outs[k].suffix);
            if (st_writer_add(e.w, nm, ST_F32, 4, outs[k].shape, outs[k].data)) ok = 0;
        }
        /* the inputs too, so that the file holds every tensor of the golden set */
        const st_tensor_t *ins[] = {ti, tm, tn, tx, tt, tc};
        const float *ind[] = {img, msoft, noise, x, ts, ctx};
        for (size_t k = 0; k < 6 && ok; k++)
            if (st_writer_add(e.w, ins[k]->name, ST_F32, ins[k]->ndim, ins[k]->shape, ind[k])) ok = 0;
        free(img); free(msoft); free(noise); free(x); free(ts); free(ctx);
        free(mask); free(mimg); free(mlat); free(milat); free(mom); free(uin); free(o);
        if (!ok) {
            fprintf(stderr, "imgapi: case %s: the conditioning or the UNet could not run\n", key);
            goto out;
        }
        cases++;
    }
    if (!cases) {
        fprintf(stderr, "imgapi: %s has no case K with K.image\n", inputs);
        goto out;
    }
    if (st_writer_save(e.w, out)) {
        fprintf(stderr, "imgapi: cannot write %s\n", out);
        goto out;
    }
    rc = 0;
out:
    unet_free(u);
    vae_encoder_free(enc);
    st_close(vf);
    dbg_close(&e);
    return rc;
}
