/* encode.c - image encoders into memory: PNG (png.c, libdeflate), JPEG (libjpeg-turbo), WebP (libwebp). */
#include "common/buf.h"
#include "common/status.h"
#include "image/image.h"
#include "image/png.h"
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <jpeglib.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <webp/encode.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
} jpeg_err_t;

static void jpeg_fail(j_common_ptr cinfo) { longjmp(((jpeg_err_t *)cinfo->err)->jb, 1); }

static int encode_jpeg(const img_t *im, int quality, buf_t *out) {
    if (im->channels != 3) return IMG_EINVAL;
    struct jpeg_compress_struct c;
    jpeg_err_t jerr;
    unsigned char *mem = NULL;
    unsigned long memlen = 0;
    c.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_fail;
    if (setjmp(jerr.jb)) {
        jpeg_destroy_compress(&c);
        free(mem);
        return IMG_ENOMEM;
    }
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &memlen);
    c.image_width = (JDIMENSION)im->width;
    c.image_height = (JDIMENSION)im->height;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality < 1 ? 1 : quality, TRUE);
    c.optimize_coding = TRUE;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = im->pixels + (size_t)c.next_scanline * im->width * 3;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    int rc = buf_append(out, mem, memlen);
    free(mem);
    return rc;
}

static int encode_webp(const img_t *im, int quality, buf_t *out) {
    uint8_t *mem = NULL;
    size_t n;
    int stride = im->width * im->channels;
    if (quality >= 100) {
        n = im->channels == 4 ? WebPEncodeLosslessRGBA(im->pixels, im->width, im->height, stride, &mem)
                              : WebPEncodeLosslessRGB(im->pixels, im->width, im->height, stride, &mem);
    } else {
        n = im->channels == 4
                ? WebPEncodeRGBA(im->pixels, im->width, im->height, stride, (float)quality, &mem)
                : WebPEncodeRGB(im->pixels, im->width, im->height, stride, (float)quality, &mem);
    }
    if (!n) return IMG_ENOMEM;
    int rc = buf_append(out, mem, n);
    WebPFree(mem);
    return rc;
}

int img_encode(const img_t *im, img_format_t fmt, int quality, uint8_t **out, size_t *out_len) {
    buf_t b = {0};
    int rc;
    if (quality < 0) quality = 0;
    if (quality > 100) quality = 100;
    switch (fmt) {
    case IMG_FMT_PNG: rc = png_encode(im, quality, &b); break;
    case IMG_FMT_JPEG: rc = encode_jpeg(im, quality, &b); break;
    case IMG_FMT_WEBP: rc = encode_webp(im, quality, &b); break;
    default: rc = IMG_EINVAL;
    }
    if (rc) {
        buf_free(&b);
        return rc;
    }
    *out = b.data;
    *out_len = b.len;
    return IMG_OK;
}
