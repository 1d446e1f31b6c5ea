/* edit_input.c - an edit's inputs: checked, decoded and priced (SPEC §11). */
#include "server/edit_input.h"
#include "api/pricing.h"
#include "common/status.h"
#include "image/image.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void edit_from_request(edit_t *ed, const api_request_t *q) {
    memset(ed, 0, sizeof *ed);
    ed->nimages = q->nimages;
    for (int i = 0; i < q->nimages; i++) {
        ed->data[i] = q->image[i];
        ed->len[i] = q->image_len[i];
    }
    ed->mask_data = q->mask;
    ed->mask_len = q->mask_len;
}

void edit_free(edit_t *ed) {
    img_free(&ed->image);
    for (int i = 0; i < API_MAX_INPUT_IMAGES - 1; i++) img_free(&ed->more[i]);
    free(ed->mask_px);
    ed->mask_px = NULL;
}

static int decode_mask(edit_t *ed, api_error_t *e) {
    img_t mk;
    int alpha = 0, rc = img_decode(ed->mask_data, ed->mask_len, API_EDIT_MAX_PIXELS, &mk, &alpha);
    if (rc) {
        api_error_set(e, 400, "invalid_image", "mask",
                      "The mask is not a PNG image, or is truncated.");
        return -1;
    }
    if (!alpha || img_sniff(ed->mask_data, ed->mask_len) != IMG_KIND_PNG) {
        img_free(&mk);
        api_error_set(
            e, 400, "invalid_value", "mask",
            "The mask must be a PNG with an alpha channel (alpha 0 marks what to repaint).");
        return -1;
    }
    if (mk.width != ed->image.width || mk.height != ed->image.height) {
        api_error_set(e, 400, "invalid_value", "mask",
                      "The mask is %dx%d; it must be the first image's size, %dx%d.", mk.width,
                      mk.height, ed->image.width, ed->image.height);
        img_free(&mk);
        return -1;
    }
    rc = img_mask_from_alpha(&mk, &ed->mask_px); /* ed->mask_px: owned by ed */
    img_free(&mk);
    if (rc) {
        api_error_set(e, 500, "internal_error", NULL, "Out of memory.");
        return -1;
    }
    return 0;
}

int edit_decode(edit_t *ed, const model_profile_t *m, api_error_t *e) {
    if (!m->can_edit) {
        api_error_set(e, 400, "unsupported_model", "model",
                      "Model '%s' cannot edit images (it has no image encoder).", m->id);
        return -1;
    }
    if (ed->nimages == 0) {
        api_error_set(e, 400, "missing_required_parameter", "image",
                      "Missing required parameter: 'image' (a PNG, JPEG or WebP file).");
        return -1;
    }
    if (ed->nimages > API_MAX_INPUT_IMAGES) {
        api_error_set(e, 400, "invalid_value", "image", "At most %d images can be edited together.",
                      API_MAX_INPUT_IMAGES);
        return -1;
    }
    if (ed->nimages > m->max_input_images) {
        api_error_set(e, 400, "invalid_value", "image",
                      "Model '%s' takes at most %d input image%s; got %d.", m->id,
                      m->max_input_images, m->max_input_images == 1 ? "" : "s", ed->nimages);
        return -1;
    }
    if (ed->mask_data && !m->can_inpaint) {
        api_error_set(e, 400, "invalid_value", "mask", "Model '%s' cannot edit inside a mask.",
                      m->id);
        return -1;
    }
    for (int i = 0; i < ed->nimages; i++) {
        img_t im;
        int rc = img_decode(ed->data[i], ed->len[i], API_EDIT_MAX_PIXELS, &im, NULL);
        if (rc == IMG_ERANGE) {
            api_error_set(e, 400, "image_too_large", "image",
                          "Image %d is larger than 64 megapixels.", i + 1);
            return -1;
        }
        if (rc) {
            api_error_set(e, rc == IMG_ENOMEM ? 500 : 400,
                          rc == IMG_ENOMEM ? "internal_error" : "invalid_image", "image",
                          "Image %d is not a PNG, JPEG or WebP image, or is truncated.", i + 1);
            return -1;
        }
        if (i == 0)
            ed->image = im; /* owned by ed */
        else
            ed->more[i - 1] = im;
    }
    return ed->mask_data ? decode_mask(ed, e) : 0;
}

int edit_prepare(admit_t *g, edit_t *ed, api_error_t *e) {
    if (edit_decode(ed, g->model, e)) return -1;
    if (g->q.size == SIZE_AUTO) g->size = api_size_for_aspect(ed->image.width, ed->image.height);
    g->cost = price_cost(&g->r->srv->cfg->prices, g->quality, g->size, g->q.n);
    int64_t inputs;
    if (__builtin_mul_overflow(g->r->srv->cfg->prices.input_image, (int64_t)ed->nimages, &inputs) ||
        __builtin_add_overflow(g->cost, inputs, &g->cost))
        g->cost = INT64_MAX; /* refused as insufficient credits */
    return 0;
}

void edit_job_spec(const edit_t *ed, const api_request_t *q, job_spec_t *spec) {
    spec->init_image = &ed->image;
    spec->more_images = ed->nimages > 1 ? ed->more : NULL;
    spec->nmore = ed->nimages > 1 ? ed->nimages - 1 : 0;
    spec->mask = ed->mask_px;
    /* SPEC §11: strength, else input_fidelity high 0.45, low 0.75 */
    spec->strength = q->has_strength ? (float)q->strength : q->input_fidelity_high ? 0.45f : 0.75f;
    spec->image_tokens = ed->nimages * price_output_tokens(QUALITY_LOW, SIZE_1024x1024);
}
