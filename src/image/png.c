/* png.c - PNG encoder: each row gets the filter (None, Sub, Up, Average, Paeth) that minimises the
 * sum of absolute filtered bytes, the heuristic of the PNG specification's guidelines; the
 * filtered rows become one zlib stream from libdeflate, which at zlib's level 9 compresses about
 * as small as zlib itself in well under half its time (the seed's default request is a 1024x1024
 * PNG at output_compression 100, so this is on every default request). */
#include "image/png.h"
#include "common/status.h"
#include <libdeflate.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int chunk(buf_t *out, const char type[4], const uint8_t *data, size_t len) {
    uint8_t head[8], tail[4];
    be32(head, (uint32_t)len);
    memcpy(head + 4, type, 4);
    uint32_t crc = libdeflate_crc32(0, type, 4);
    crc = libdeflate_crc32(crc, data, len);
    be32(tail, crc);
    if (buf_append(out, head, 8) || (len && buf_append(out, data, len)) || buf_append(out, tail, 4))
        return IMG_ENOMEM;
    return IMG_OK;
}

static inline uint8_t paeth(int a, int b, int c) {
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return (uint8_t)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

/* Filters a row with filter f (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth) into o; returns the sum
 * of the filtered bytes read as signed values, the selection heuristic. prev: the row above (zeros
 * for the first row); bpp: bytes per pixel. One tight loop per filter, so the compiler vectorises
 * the simple ones. */
static uint64_t apply_filter(int f, const uint8_t *row, const uint8_t *prev, size_t n, int bpp,
                             uint8_t *o) {
    size_t b = (size_t)bpp;
    switch (f) {
    case 0:
        memcpy(o, row, n);
        break;
    case 1:
        memcpy(o, row, b);
        for (size_t i = b; i < n; i++)
            o[i] = (uint8_t)(row[i] - row[i - b]);
        break;
    case 2:
        for (size_t i = 0; i < n; i++)
            o[i] = (uint8_t)(row[i] - prev[i]);
        break;
    case 3:
        for (size_t i = 0; i < b; i++)
            o[i] = (uint8_t)(row[i] - (prev[i] >> 1));
        for (size_t i = b; i < n; i++)
            o[i] = (uint8_t)(row[i] - ((row[i - b] + prev[i]) >> 1));
        break;
    default:
        for (size_t i = 0; i < b; i++)
            o[i] = (uint8_t)(row[i] - prev[i]); /* paeth(0, up, 0) = up */
        for (size_t i = b; i < n; i++)
            o[i] = (uint8_t)(row[i] - paeth(row[i - b], prev[i], prev[i - b]));
        break;
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (uint64_t)(o[i] < 128 ? o[i] : 256 - o[i]);
    return sum;
}

/* Writes the filter type byte and the filtered row (1 + n bytes) to dst: the filter with the
 * smallest sum, or None when not adaptive. scratch: n bytes. */
static void filter_row(const uint8_t *row, const uint8_t *prev, size_t n, int bpp, int adaptive,
                       uint8_t *dst, uint8_t *scratch) {
    dst[0] = 0;
    memcpy(dst + 1, row, n);
    if (!adaptive) return;
    uint64_t best = apply_filter(0, row, prev, n, bpp, scratch);
    for (int f = 1; f < 5; f++) {
        uint64_t sum = apply_filter(f, row, prev, n, bpp, scratch);
        if (sum < best) {
            best = sum;
            dst[0] = (uint8_t)f;
            memcpy(dst + 1, scratch, n);
        }
    }
}

int png_encode(const img_t *im, int effort, buf_t *out) {
    if ((im->channels != 3 && im->channels != 4) || im->width < 1 || im->height < 1)
        return IMG_EINVAL;
    if (effort < 0) effort = 0;
    if (effort > 100) effort = 100;
    /* 0..100 -> libdeflate 0..9, zlib's scale (SPEC: "zlib effort"). Its levels 10-12 (optimal
     * parsing) shave about 12% more off a 1024x1024 render but take 8x as long as 9, which on
     * the default request would cost more than generating the image. */
    int level = (effort * 9 + 50) / 100;
    size_t n = (size_t)im->width * (size_t)im->channels, raw_len = (n + 1) * (size_t)im->height;
    uint8_t *raw = malloc(raw_len), *scratch = malloc(n), *zeros = calloc(n, 1);
    struct libdeflate_compressor *z = libdeflate_alloc_compressor(level);
    size_t cap = z ? libdeflate_zlib_compress_bound(z, raw_len) : 0;
    uint8_t *zdata = z ? malloc(cap) : NULL;
    int rc = raw && scratch && zeros && z && zdata ? IMG_OK : IMG_ENOMEM;
    if (rc == IMG_OK) {
        for (int y = 0; y < im->height; y++) {
            const uint8_t *row = im->pixels + (size_t)y * n;
            filter_row(row, y ? row - n : zeros, n, im->channels, level > 0,
                       raw + (size_t)y * (n + 1), scratch);
        }
        size_t zlen = libdeflate_zlib_compress(z, raw, raw_len, zdata, cap);
        uint8_t ihdr[13];
        be32(ihdr, (uint32_t)im->width);
        be32(ihdr + 4, (uint32_t)im->height);
        ihdr[8] = 8;                         /* bits per channel */
        ihdr[9] = im->channels == 4 ? 6 : 2; /* RGBA or RGB */
        ihdr[10] = ihdr[11] = ihdr[12] = 0;  /* deflate, adaptive filtering, no interlace */
        static const uint8_t SIG[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        if (!zlen || buf_append(out, SIG, 8) || chunk(out, "IHDR", ihdr, 13) ||
            chunk(out, "IDAT", zdata, zlen) || chunk(out, "IEND", NULL, 0))
            rc = IMG_ENOMEM;
    }
    libdeflate_free_compressor(z);
    free(zdata);
    free(scratch);
    free(zeros);
    free(raw);
    return rc;
}
