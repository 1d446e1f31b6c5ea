/* image.h - 8-bit images, resampling, alpha matting, and PNG/JPEG/WebP encoding and decoding. */
#ifndef IMGAPI_IMAGE_IMAGE_H
#define IMGAPI_IMAGE_IMAGE_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int width, height;
    int channels;    /* 3 = RGB, 4 = RGBA */
    uint8_t *pixels; /* owned; row-major, tightly packed */
} img_t;

typedef enum { IMG_FMT_PNG = 0, IMG_FMT_JPEG, IMG_FMT_WEBP } img_format_t;

/* Allocates a zeroed image; free with img_free. */
int img_alloc(img_t *im, int width, int height, int channels);
void img_free(img_t *im);
/* Resamples src to exactly width x height (Lanczos-3, separable) into a new image *dst. */
int img_resize(const img_t *src, int width, int height, img_t *dst);
/* Turns an RGB image into RGBA whose background (estimated from the borders) is transparent,
 * with soft edges and the background colour removed from edge pixels. */
int img_matte(const img_t *src, img_t *dst);
/* Encodes; *out is malloc'd, the caller frees. quality 0..100: JPEG/WebP quality, PNG zlib
 * effort (100 = smallest file, still lossless). */
int img_encode(const img_t *im, img_format_t fmt, int quality, uint8_t **out, size_t *out_len);

/* An edit's result put back into its input (same size): out = orig where mask is 0 and farther
 * than feather pixels from the mask, gen inside the mask, a blend by distance in between. orig
 * may be RGB or RGBA: its first three channels are used. */
int img_composite_masked(const img_t *gen, const img_t *orig, const uint8_t *mask, int feather,
                         img_t *out);
/* OpenAI's mask convention turned into the engine's, once, at the edge: *mask (malloc'd, the
 * image's width x height) is 1 where the RGBA image's alpha is 0 (repaint), else 0. IMG_EINVAL
 * when the image has no alpha channel. */
int img_mask_from_alpha(const img_t *rgba, uint8_t **mask);
/* AUTOMATIC1111's inpainting mask (white = repaint; its luminance, inverted when invert, a
 * transparent pixel as black) at w x h, blurred by about `blur` pixels and thresholded at half:
 * *out (malloc'd) is 1 where to repaint. */
int img_mask_from_luma(const img_t *m, int invert, int blur, int w, int h, uint8_t **out);
/* A1111's inpainting_fill 0: the masked pixels of im (mask 1) replaced by the colours around
 * them (the mean of what stays, then ever finer averages of the image), in place. */
int img_fill_masked(img_t *im, const uint8_t *mask);
/* A w x h mask resampled to nw x nh by nearest neighbour into *out (malloc'd). */
int img_resize_mask(const uint8_t *mask, int w, int h, int nw, int nh, uint8_t **out);

typedef enum { IMG_KIND_UNKNOWN = 0, IMG_KIND_PNG, IMG_KIND_JPEG, IMG_KIND_WEBP } img_kind_t;
/* The format of encoded bytes, from their signature. */
img_kind_t img_sniff(const uint8_t *data, size_t len);
/* Decodes PNG, JPEG or WebP bytes into a new RGB or RGBA (when the file has alpha) image.
 * IMG_EFORMAT: not an image of these formats, truncated or corrupt; IMG_ERANGE: the header
 * declares more than max_pixels pixels (nothing was decoded); IMG_ENOMEM. *has_alpha (may be
 * NULL): the file carries an alpha channel. */
int img_decode(const uint8_t *data, size_t len, size_t max_pixels, img_t *out, int *has_alpha);

#endif
