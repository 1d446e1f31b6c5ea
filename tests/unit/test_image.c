/* test_image.c - resampling, matting and the three encoders (decoded back to check them). */
#include "common/status.h"
#include "image/image.h"
#include "tests/unit/fault_alloc.h"
#include "tests/unit/harness.h"
#include <math.h>
#include <stdio.h>
#include <jpeglib.h>
#include <png.h>
#include "image/png.h"
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>

static void fill(img_t *im) {
    for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++)
            for (int k = 0; k < im->channels; k++)
                im->pixels[((size_t)y * im->width + x) * im->channels + k] =
                    (uint8_t)(k == 3 ? 255 : (x * 3 + y * 5 + k * 40) & 255);
}

void test_image_resize(void) {
    img_t a, b;
    CHECK(img_alloc(&a, 64, 48, 3) == IMG_OK);
    memset(a.pixels, 77, 64 * 48 * 3);
    CHECK(img_resize(&a, 1024, 1536, &b) == IMG_OK);
    CHECK(b.width == 1024 && b.height == 1536 && b.channels == 3);
    int flat = 1;
    for (size_t i = 0; i < (size_t)1024 * 1536 * 3; i++) flat &= b.pixels[i] == 77;
    CHECK(flat); /* a flat image stays flat: weights are normalised */
    img_free(&b);
    CHECK(img_resize(&a, 7, 5, &b) == IMG_OK && b.width == 7 && b.height == 5);
    img_free(&b);
    img_free(&a);
    CHECK(img_alloc(&a, 0, 10, 3) == IMG_EINVAL);
}

static int decode_png(const uint8_t *data, size_t len, int *w, int *h, int *ch) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, data, len)) return -1;
    *w = (int)im.width;
    *h = (int)im.height;
    *ch = PNG_IMAGE_SAMPLE_CHANNELS(im.format);
    png_image_free(&im);
    return 0;
}

void test_image_encode_png(void) {
    img_t a;
    CHECK(img_alloc(&a, 300, 200, 3) == IMG_OK);
    fill(&a);
    uint8_t *d9, *d0;
    size_t n9, n0;
    CHECK(img_encode(&a, IMG_FMT_PNG, 100, &d9, &n9) == IMG_OK);
    CHECK(img_encode(&a, IMG_FMT_PNG, 0, &d0, &n0) == IMG_OK);
    CHECK(n9 < n0); /* 100 = most effort = smallest file */
    int w, h, ch;
    CHECK(decode_png(d9, n9, &w, &h, &ch) == 0 && w == 300 && h == 200 && ch == 3);
    /* lossless at every effort (filtered rows included): decode with libpng and compare */
    const uint8_t *blobs[2] = {d0, d9};
    size_t lens[2] = {n0, n9};
    for (int k = 0; k < 2; k++) {
        png_image im;
        memset(&im, 0, sizeof im);
        im.version = PNG_IMAGE_VERSION;
        CHECK(png_image_begin_read_from_memory(&im, blobs[k], lens[k]));
        im.format = PNG_FORMAT_RGB;
        uint8_t *px = malloc(PNG_IMAGE_SIZE(im));
        CHECK(png_image_finish_read(&im, NULL, px, 0, NULL));
        CHECK(memcmp(px, a.pixels, 300 * 200 * 3) == 0);
        free(px);
    }
    free(d9);
    free(d0);
    img_free(&a);
    /* RGBA with noise and smooth regions, so that every filter type gets picked somewhere */
    CHECK(img_alloc(&a, 61, 37, 4) == IMG_OK);
    uint32_t r = 12345;
    for (size_t i = 0; i < (size_t)61 * 37 * 4; i++) {
        r = r * 1103515245u + 12345u;
        a.pixels[i] = (i / 4 / 61) % 3 == 0 ? (uint8_t)(r >> 24) : (uint8_t)(i / 7);
    }
    for (int effort = 0; effort <= 100; effort += 50) {
        CHECK(img_encode(&a, IMG_FMT_PNG, effort, &d9, &n9) == IMG_OK);
        CHECK(decode_png(d9, n9, &w, &h, &ch) == 0 && w == 61 && h == 37 && ch == 4);
        png_image im;
        memset(&im, 0, sizeof im);
        im.version = PNG_IMAGE_VERSION;
        CHECK(png_image_begin_read_from_memory(&im, d9, n9));
        im.format = PNG_FORMAT_RGBA;
        uint8_t *px = malloc(PNG_IMAGE_SIZE(im));
        CHECK(png_image_finish_read(&im, NULL, px, 0, NULL));
        CHECK(memcmp(px, a.pixels, (size_t)61 * 37 * 4) == 0);
        free(px);
        free(d9);
    }
    img_free(&a);
}

/* Strips compressed in parallel and stitched into one deflate stream: the same pixels for every
 * strip count and effort (libpng checks the zlib stream and its checksum), nearly the same size. */
void test_image_encode_png_strips(void) {
    for (int ch = 3; ch <= 4; ch++) {
        img_t a;
        CHECK(img_alloc(&a, 520, 333, ch) == IMG_OK);
        uint32_t r = 777;
        for (int y = 0; y < a.height; y++)
            for (int x = 0; x < a.width; x++)
                for (int c = 0; c < ch; c++) {
                    r = r * 1103515245u + 12345u;
                    size_t i = ((size_t)y * a.width + x) * ch + c;
                    /* smooth bands with noisy rows: long and short matches, every filter */
                    a.pixels[i] = y % 17 == 0 ? (uint8_t)(r >> 24) : (uint8_t)(x / 3 + y * c);
                }
        for (int effort = 0; effort <= 100; effort += 50) {
            size_t one = 0;
            static const int STRIPS[] = {1, 2, 3, 8};
            for (int k = 0; k < 4; k++) {
                buf_t b = {0};
                CHECK(png_encode_strips(&a, effort, STRIPS[k], &b) == IMG_OK);
                png_image im;
                memset(&im, 0, sizeof im);
                im.version = PNG_IMAGE_VERSION;
                CHECK(png_image_begin_read_from_memory(&im, b.data, b.len));
                im.format = ch == 4 ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
                uint8_t *px = malloc(PNG_IMAGE_SIZE(im));
                CHECK(png_image_finish_read(&im, NULL, px, 0, NULL));
                CHECK(im.width == 520 && im.height == 333);
                CHECK(memcmp(px, a.pixels, (size_t)520 * 333 * ch) == 0);
                free(px);
                if (k == 0) one = b.len;
                CHECK(b.len <= one + one / 50 + 64); /* within 2% of one stream */
                buf_free(&b);
            }
        }
        img_free(&a);
    }
}

void test_image_encode_jpeg_webp(void) {
    img_t a;
    CHECK(img_alloc(&a, 128, 96, 3) == IMG_OK);
    fill(&a);
    uint8_t *hi, *lo;
    size_t nh, nl;
    CHECK(img_encode(&a, IMG_FMT_JPEG, 100, &hi, &nh) == IMG_OK);
    CHECK(img_encode(&a, IMG_FMT_JPEG, 10, &lo, &nl) == IMG_OK);
    CHECK(nl < nh && hi[0] == 0xFF && hi[1] == 0xD8);
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr jerr;
    d.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, hi, nh);
    CHECK(jpeg_read_header(&d, TRUE) == JPEG_HEADER_OK);
    CHECK(d.image_width == 128 && d.image_height == 96);
    jpeg_destroy_decompress(&d);
    free(hi);
    free(lo);
    CHECK(img_encode(&a, IMG_FMT_WEBP, 90, &hi, &nh) == IMG_OK);
    CHECK(img_encode(&a, IMG_FMT_WEBP, 20, &lo, &nl) == IMG_OK);
    int w, h;
    CHECK(WebPGetInfo(hi, nh, &w, &h) && w == 128 && h == 96);
    CHECK(nl < nh);
    free(hi);
    free(lo);
    /* 100 is lossless: decodes to the same pixels */
    CHECK(img_encode(&a, IMG_FMT_WEBP, 100, &hi, &nh) == IMG_OK);
    uint8_t *dec = WebPDecodeRGB(hi, nh, &w, &h);
    CHECK(dec && memcmp(dec, a.pixels, 128 * 96 * 3) == 0);
    WebPFree(dec);
    free(hi);
    img_free(&a);
    /* JPEG has no alpha */
    CHECK(img_alloc(&a, 8, 8, 4) == IMG_OK);
    CHECK(img_encode(&a, IMG_FMT_JPEG, 90, &hi, &nh) == IMG_EINVAL);
    CHECK(img_encode(&a, IMG_FMT_WEBP, 90, &hi, &nh) == IMG_OK);
    WebPBitstreamFeatures f;
    CHECK(WebPGetFeatures(hi, nh, &f) == VP8_STATUS_OK && f.has_alpha);
    free(hi);
    img_free(&a);
}

/* An anti-aliased orange disc on white, with a lighter highlight inside: edge pixels get their
 * coverage as alpha and the disc's own colour (no white rim: a halo), the highlight stays
 * opaque. Out of memory at each of its allocations: IMG_ENOMEM, no image. */
void test_image_matte_edges(void) {
    enum { S = 200, R = 60, SS = 8 };
    const float F[3] = {245, 140, 20}, B[3] = {255, 255, 255};
    img_t a, m;
    CHECK(img_alloc(&a, S, S, 3) == IMG_OK);
    float *cov = malloc(sizeof(float) * S * S);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            int in = 0;
            for (int sy = 0; sy < SS; sy++)
                for (int sx = 0; sx < SS; sx++) {
                    float dx = x + (sx + .5f) / SS - S / 2.f, dy = y + (sy + .5f) / SS - S / 2.f;
                    in += dx * dx + dy * dy < R * R;
                }
            float c = (float)in / (SS * SS);
            cov[y * S + x] = c;
            int hl = (x - 90) * (x - 90) + (y - 90) * (y - 90) < 36; /* a highlight */
            for (int k = 0; k < 3; k++) {
                float f = hl ? F[k] + 0.3f * (255 - F[k]) : F[k];
                a.pixels[((size_t)y * S + x) * 3 + k] = (uint8_t)(c * f + (1 - c) * B[k] + 0.5f);
            }
        }
    CHECK(img_matte(&a, &m) == IMG_OK);
    int edges = 0, bad_alpha = 0, rim = 0;
    for (int i = 0; i < S * S; i++) {
        if (cov[i] <= 0.15f || cov[i] >= 0.85f) continue;
        const uint8_t *p = m.pixels + (size_t)i * 4;
        edges++;
        bad_alpha += fabsf(p[3] / 255.f - cov[i]) > 0.15f;
        float d = 0;
        for (int k = 0; k < 3; k++) d += (p[k] - F[k]) * (p[k] - F[k]);
        rim += sqrtf(d) > 40.f;
    }
    CHECK(edges > 100);
    if (bad_alpha || rim) fprintf(stderr, "matte edges: %d of %d alpha off coverage, %d off colour\n", bad_alpha, edges, rim);
    CHECK(bad_alpha == 0 && rim == 0);
    CHECK(m.pixels[((size_t)90 * S + 90) * 4 + 3] == 255); /* the highlight */
    CHECK(m.pixels[((size_t)100 * S + 100) * 4 + 3] == 255);
    CHECK(m.pixels[3] == 0);
    img_free(&m);
    for (long k = 1; k <= 3; k++) { /* out of memory: its two work buffers, then the image */
        img_t none = {0};
        fault_alloc_arm(k);
        CHECK_EQ_INT(img_matte(&a, &none), IMG_ENOMEM);
        fault_alloc_disarm();
        CHECK(fault_alloc_fired() && none.pixels == NULL);
    }
    free(cov);
    img_free(&a);
}

static void fill_rect(img_t *a, int x0, int y0, int x1, int y1, uint8_t r, uint8_t g, uint8_t b) {
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            uint8_t *p = a->pixels + ((size_t)y * a->width + x) * 3;
            p[0] = r;
            p[1] = g;
            p[2] = b;
        }
}

static int alpha_max(const img_t *m, int x0, int y0, int x1, int y1) {
    int v = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            if (m->pixels[((size_t)y * m->width + x) * 4 + 3] > v)
                v = m->pixels[((size_t)y * m->width + x) * 4 + 3];
    return v;
}

/* Islands that cannot be an object are cleared; objects are not, however small or cropped. On
 * white (200x200): a grey 5x5 speck in a corner goes, the same speck away from the frame stays; a
 * faint 12x12 blotch goes, a faint 30x30 one (a shading too large to be noise) stays; a bar cut
 * by the frame and a small black square stay opaque. */
void test_image_matte_islands(void) {
    img_t a, m;
    CHECK(img_alloc(&a, 200, 200, 3) == IMG_OK);
    memset(a.pixels, 255, (size_t)200 * 200 * 3);
    fill_rect(&a, 195, 0, 200, 5, 200, 200, 200);     /* speck in the corner */
    fill_rect(&a, 180, 180, 185, 185, 200, 200, 200); /* the same speck inside */
    fill_rect(&a, 160, 20, 172, 32, 238, 238, 238);   /* faint blotch */
    fill_rect(&a, 100, 160, 130, 190, 238, 238, 238); /* faint shading, larger */
    fill_rect(&a, 0, 70, 10, 130, 30, 60, 200);       /* a bar cut by the frame */
    fill_rect(&a, 20, 170, 25, 175, 0, 0, 0);         /* a small object */
    fill_rect(&a, 60, 60, 140, 140, 245, 140, 20);    /* the main object */
    CHECK(img_matte(&a, &m) == IMG_OK);
    CHECK_EQ_INT(alpha_max(&m, 195, 0, 200, 5), 0);
    CHECK(alpha_max(&m, 180, 180, 185, 185) > 200);
    CHECK_EQ_INT(alpha_max(&m, 160, 20, 172, 32), 0);
    int shade = alpha_max(&m, 100, 160, 130, 190);
    CHECK(shade > 0 && shade < 64);
    CHECK_EQ_INT(alpha_max(&m, 2, 80, 8, 120), 255);
    CHECK_EQ_INT(alpha_max(&m, 21, 171, 24, 174), 255);
    CHECK_EQ_INT(alpha_max(&m, 70, 70, 130, 130), 255);
    CHECK(m.pixels[((size_t)2 * 200 + 197) * 4 + 0] == 200); /* cleared: the source's colour */
    img_free(&m);
    img_free(&a);
}

void test_image_matte(void) {
    /* A red disc (with a blue-background hole) on blue. */
    img_t a, m;
    CHECK(img_alloc(&a, 100, 100, 3) == IMG_OK);
    for (int y = 0; y < 100; y++)
        for (int x = 0; x < 100; x++) {
            int dx = x - 50, dy = y - 50, d2 = dx * dx + dy * dy;
            int in = d2 < 30 * 30 && d2 >= 8 * 8;
            uint8_t *p = a.pixels + ((size_t)y * 100 + x) * 3;
            p[0] = in ? 220 : 20;
            p[1] = 30;
            p[2] = in ? 30 : 200;
        }
    CHECK(img_matte(&a, &m) == IMG_OK && m.channels == 4);
    CHECK(m.pixels[(5 * 100 + 5) * 4 + 3] == 0);        /* corner: background */
    CHECK(m.pixels[(50 * 100 + 50) * 4 + 3] == 0);      /* the hole stays transparent */
    CHECK(m.pixels[(50 * 100 + 70) * 4 + 3] == 255);    /* inside the ring */
    CHECK(m.pixels[(50 * 100 + 70) * 4 + 0] == 220);    /* colour kept */
    img_free(&m);
    /* a generated background varies: +-14 per channel of noise must still be fully transparent */
    unsigned s = 12345;
    for (int y = 0; y < 100; y++)
        for (int x = 0; x < 100; x++) {
            uint8_t *p = a.pixels + ((size_t)y * 100 + x) * 3;
            if (p[0] == 220) continue;
            for (int k = 0; k < 3; k++) {
                s = s * 1103515245u + 12345u;
                p[k] = (uint8_t)((k == 2 ? 200 : k == 0 ? 20 : 30) + (int)((s >> 16) % 29) - 14);
            }
        }
    CHECK(img_matte(&a, &m) == IMG_OK);
    int clear = 0, total = 0;
    for (int y = 0; y < 100; y++)
        for (int x = 0; x < 100; x++) {
            int dx = x - 50, dy = y - 50, d2 = dx * dx + dy * dy;
            if (d2 < 34 * 34) continue;
            total++;
            clear += m.pixels[((size_t)y * 100 + x) * 4 + 3] == 0;
        }
    CHECK(clear >= total * 95 / 100);
    CHECK(m.pixels[(50 * 100 + 70) * 4 + 3] == 255);
    img_free(&m);
    img_free(&a);
}

/* Decoding what the encoders write, in every format; truncated data refused; a header that
 * declares more pixels than allowed refused before decoding. */
void test_image_decode(void) {
    img_t im;
    CHECK(img_alloc(&im, 37, 21, 3) == 0);
    for (size_t i = 0; i < (size_t)37 * 21 * 3; i++) im.pixels[i] = (uint8_t)(i * 7);
    for (int fmt = 0; fmt < 3; fmt++) {
        uint8_t *data;
        size_t len;
        CHECK(img_encode(&im, (img_format_t)fmt, 100, &data, &len) == 0);
        img_t out;
        int alpha = -1;
        CHECK(img_decode(data, len, 1u << 20, &out, &alpha) == IMG_OK);
        CHECK(out.width == 37 && out.height == 21 && out.channels == 3 && alpha == 0);
        if (fmt == IMG_FMT_PNG) CHECK(memcmp(out.pixels, im.pixels, (size_t)37 * 21 * 3) == 0);
        img_free(&out);
        CHECK(img_decode(data, len / 2, 1u << 20, &out, NULL) == IMG_EFORMAT); /* truncated */
        CHECK(img_decode(data, len, 100, &out, NULL) == IMG_ERANGE);         /* 777 > 100 */
        free(data);
    }
    img_t out;
    CHECK(img_decode((const uint8_t *)"GIF89a....", 10, 1000, &out, NULL) == IMG_EFORMAT);
    CHECK(img_decode((const uint8_t *)"", 0, 1000, &out, NULL) == IMG_EFORMAT);
    img_free(&im);
}

/* Compositing: outside the mask and its seam the original exactly, inside the generated. */
void test_image_composite(void) {
    img_t gen, orig, out;
    CHECK(img_alloc(&gen, 40, 30, 3) == 0 && img_alloc(&orig, 40, 30, 3) == 0);
    memset(gen.pixels, 200, (size_t)40 * 30 * 3);
    memset(orig.pixels, 10, (size_t)40 * 30 * 3);
    uint8_t mask[40 * 30] = {0};
    for (int y = 10; y < 20; y++)
        for (int x = 15; x < 25; x++) mask[y * 40 + x] = 1;
    CHECK(img_composite_masked(&gen, &orig, mask, 4, &out) == IMG_OK);
    CHECK(out.pixels[(15 * 40 + 20) * 3] == 200);         /* inside */
    CHECK(out.pixels[(0 * 40 + 0) * 3] == 10);            /* far outside */
    int seam = out.pixels[(15 * 40 + 26) * 3];            /* 2 px outside: blended */
    CHECK(seam > 10 && seam < 200);
    CHECK(out.pixels[(15 * 40 + 30) * 3] == 10);          /* 6 px outside: original */
    img_free(&out);
    CHECK(img_composite_masked(&gen, &orig, mask, 0, &out) == IMG_OK);
    CHECK(out.pixels[(15 * 40 + 25) * 3] == 10); /* no feather: a clean cut */
    img_free(&out);
    img_free(&gen);
    img_free(&orig);
}

void test_image_mask_from_alpha(void) {
    img_t rgba, rgb;
    uint8_t *mask = (uint8_t *)1;
    CHECK(img_alloc(&rgba, 5, 3, 4) == 0 && img_alloc(&rgb, 5, 3, 3) == 0);
    memset(rgba.pixels, 255, (size_t)5 * 3 * 4);
    rgba.pixels[(1 * 5 + 2) * 4 + 3] = 0; /* transparent: repaint */
    rgba.pixels[(2 * 5 + 4) * 4 + 3] = 1; /* nearly transparent: keep */
    rgba.pixels[(0 * 5 + 0) * 4 + 0] = 0; /* colour does not matter */
    CHECK(img_mask_from_alpha(&rgb, &mask) == IMG_EINVAL && mask == NULL);
    CHECK(img_mask_from_alpha(&rgba, &mask) == IMG_OK);
    int ones = 0;
    for (int k = 0; k < 15; k++) ones += mask[k];
    CHECK(ones == 1 && mask[1 * 5 + 2] == 1);
    free(mask);
    img_free(&rgba);
    img_free(&rgb);
}
