/* png.h - the PNG encoder (png.c). */
#ifndef IMGAPI_IMAGE_PNG_H
#define IMGAPI_IMAGE_PNG_H
#include "common/buf.h"
#include "image/image.h"

/* Appends the image (3 or 4 channels, 8 bits) as a PNG to out. effort 0..100: 0 stores rows
 * unfiltered and uncompressed, 100 compresses hardest (SPEC: output_compression for PNG).
 * IMG_OK, IMG_EINVAL or IMG_ENOMEM. */
int png_encode(const img_t *im, int effort, buf_t *out);
/* The same in `strips` horizontal strips compressed in parallel (0: one per core for images of
 * 512 KB or more, else one); the file decodes to the same pixels whatever the count. */
int png_encode_strips(const img_t *im, int effort, int strips, buf_t *out);

#endif
