/* decode.c - PNG, JPEG and WebP decoding of client-supplied images (edits). The format is told
 * by the bytes, never by a name; the declared size is read from the header and checked against
 * the pixel limit before a single row is decoded, so a small file that claims 100000 x 100000
 * pixels (a decompression bomb) costs nothing. Truncated or corrupt data is IMG_EFORMAT. */
#include "common/status.h"
#include "image/image.h"
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>

img_kind_t img_sniff(const uint8_t *d, size_t n) {
    if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) return IMG_KIND_PNG;
    if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return IMG_KIND_JPEG;
    if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4)) return IMG_KIND_WEBP;
    return IMG_KIND_UNKNOWN;
}

static int too_big(int w, int h, size_t max_pixels) {
    return w <= 0 || h <= 0 || (size_t)w > max_pixels / (size_t)h;
}

static int decode_png(const uint8_t *d, size_t n, size_t max_pixels, img_t *out, int *alpha) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, d, n)) return IMG_EFORMAT;
    if (too_big((int)im.width, (int)im.height, max_pixels)) {
        png_image_free(&im);
        return IMG_ERANGE;
    }
    *alpha = (im.format & PNG_FORMAT_FLAG_ALPHA) != 0;
    im.format = *alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
    int rc = img_alloc(out, (int)im.width, (int)im.height, *alpha ? 4 : 3);
    if (rc) {
        png_image_free(&im);
        return rc;
    }
    if (!png_image_finish_read(&im, NULL, out->pixels, 0, NULL) || PNG_IMAGE_FAILED(im)) {
        png_image_free(&im);
        img_free(out);
        return IMG_EFORMAT;
    }
    png_image_free(&im);
    return IMG_OK;
}

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
} jerr_t;

static void jpeg_fail(j_common_ptr c) {
    longjmp(((jerr_t *)(void *)c->err)->jb, 1);
}
/* libjpeg reports a warning (level -1: corrupt or truncated data it papered over) through this
 * hook: count it, print nothing */
static void jpeg_quiet(j_common_ptr c, int level) {
    if (level < 0) c->err->num_warnings++;
}

static int decode_jpeg(const uint8_t *d, size_t n, size_t max_pixels, img_t *out) {
    struct jpeg_decompress_struct cinfo;
    jerr_t jerr;
    volatile int rc = IMG_EFORMAT;
    memset(out, 0, sizeof *out);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_fail;
    jerr.pub.emit_message = jpeg_quiet;
    if (setjmp(jerr.jb)) {
        jpeg_destroy_decompress(&cinfo);
        img_free(out);
        return rc == IMG_ENOMEM ? IMG_ENOMEM : IMG_EFORMAT;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, d, (unsigned long)n);
    if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK) longjmp(jerr.jb, 1);
    if (too_big((int)cinfo.image_width, (int)cinfo.image_height, max_pixels)) {
        jpeg_destroy_decompress(&cinfo);
        return IMG_ERANGE;
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 3 ||
        img_alloc(out, (int)cinfo.output_width, (int)cinfo.output_height, 3)) {
        rc = IMG_ENOMEM;
        longjmp(jerr.jb, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out->pixels + (size_t)cinfo.output_scanline * out->width * 3;
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) longjmp(jerr.jb, 1);
    }
    /* a truncated file is padded by libjpeg with a warning: refuse it */
    if (jerr.pub.num_warnings) longjmp(jerr.jb, 1);
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return IMG_OK;
}

static int decode_webp(const uint8_t *d, size_t n, size_t max_pixels, img_t *out, int *alpha) {
    WebPBitstreamFeatures f;
    if (WebPGetFeatures(d, n, &f) != VP8_STATUS_OK) return IMG_EFORMAT;
    if (too_big(f.width, f.height, max_pixels)) return IMG_ERANGE;
    *alpha = f.has_alpha != 0;
    int rc = img_alloc(out, f.width, f.height, *alpha ? 4 : 3);
    if (rc) return rc;
    size_t stride = (size_t)f.width * out->channels, size = stride * (size_t)f.height;
    uint8_t *ok = *alpha ? WebPDecodeRGBAInto(d, n, out->pixels, size, (int)stride)
                         : WebPDecodeRGBInto(d, n, out->pixels, size, (int)stride);
    if (!ok) {
        img_free(out);
        return IMG_EFORMAT;
    }
    return IMG_OK;
}

int img_decode(const uint8_t *data, size_t len, size_t max_pixels, img_t *out, int *has_alpha) {
    int alpha = 0, rc;
    memset(out, 0, sizeof *out);
    switch (img_sniff(data, len)) {
    case IMG_KIND_PNG:
        rc = decode_png(data, len, max_pixels, out, &alpha);
        break;
    case IMG_KIND_JPEG:
        rc = decode_jpeg(data, len, max_pixels, out);
        break;
    case IMG_KIND_WEBP:
        rc = decode_webp(data, len, max_pixels, out, &alpha);
        break;
    default:
        rc = IMG_EFORMAT;
    }
    if (has_alpha) *has_alpha = rc == IMG_OK && alpha;
    return rc;
}
