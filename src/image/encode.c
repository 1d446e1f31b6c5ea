/* encode.c - PNG (libpng), JPEG (libjpeg-turbo) and WebP (libwebp) encoders into memory. */
#include "common/buf.h"
#include "common/status.h"
#include "image/image.h"
#include <stdio.h>
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <webp/encode.h>

static void png_write_buf(png_structp png, png_bytep data, png_size_t len) {
    buf_t *b = png_get_io_ptr(png);
    if (buf_append(b, data, len)) png_error(png, "out of memory");
}

static void png_flush_noop(png_structp png) { (void)png; }

static int encode_png(const img_t *im, int quality, buf_t *out) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png) return IMG_ENOMEM;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return IMG_ENOMEM;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return IMG_ENOMEM;
    }
    png_set_write_fn(png, out, png_write_buf, png_flush_noop);
    int level = (quality * 9 + 50) / 100; /* 0..100 -> zlib 0..9 */
    png_set_compression_level(png, level);
    png_set_IHDR(png, info, (png_uint_32)im->width, (png_uint_32)im->height, 8,
                 im->channels == 4 ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < im->height; y++)
        png_write_row(png, im->pixels + (size_t)y * im->width * im->channels);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return IMG_OK;
}

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
    case IMG_FMT_PNG: rc = encode_png(im, quality, &b); break;
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
