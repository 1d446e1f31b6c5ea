/* image.h - 8-bit images, resampling, alpha matting and PNG/JPEG/WebP encoding. */
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

#endif
