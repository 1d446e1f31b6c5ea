/* image.c - image allocation. */
#include "image/image.h"
#include "common/status.h"
#include <stdlib.h>

int img_alloc(img_t *im, int width, int height, int channels) {
    im->width = width;
    im->height = height;
    im->channels = channels;
    if (width <= 0 || height <= 0 || width > 16384 || height > 16384 || (channels != 3 && channels != 4)) {
        im->pixels = NULL;
        return IMG_EINVAL;
    }
    im->pixels = calloc((size_t)width * (size_t)height * (size_t)channels, 1);
    return im->pixels ? IMG_OK : IMG_ENOMEM;
}

void img_free(img_t *im) {
    free(im->pixels);
    im->pixels = NULL;
}
