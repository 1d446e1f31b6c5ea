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

/* Writes the filter type byte and the filtered row to dst (1 + n bytes). prev is NULL for the
 * first row; bpp bytes per pixel. */
static void filter_row(const uint8_t *row, const uint8_t *prev, size_t n, int bpp, int adaptive,
                       uint8_t *dst, uint8_t *scratch) {
    if (!adaptive) {
        dst[0] = 0;
        memcpy(dst + 1, row, n);
        return;
    }
    uint64_t best_sum = UINT64_MAX;
    for (int f = 0; f < 5; f++) {
        uint8_t *o = scratch;
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++) {
            int a = i >= (size_t)bpp ? row[i - bpp] : 0, b = prev ? prev[i] : 0;
            int c = prev && i >= (size_t)bpp ? prev[i - bpp] : 0;
            uint8_t v;
            switch (f) {
            case 0:
                v = row[i];
                break;
            case 1:
                v = (uint8_t)(row[i] - a);
                break;
            case 2:
                v = (uint8_t)(row[i] - b);
                break;
            case 3:
                v = (uint8_t)(row[i] - ((a + b) >> 1));
                break;
            default:
                v = (uint8_t)(row[i] - paeth(a, b, c));
                break;
            }
            o[i] = v;
            sum += v < 128 ? v : 256 - v; /* as a signed byte */
        }
        if (sum < best_sum) {
            best_sum = sum;
            dst[0] = (uint8_t)f;
            memcpy(dst + 1, o, n);
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
    uint8_t *raw = malloc(raw_len), *scratch = malloc(n);
    struct libdeflate_compressor *z = libdeflate_alloc_compressor(level);
    size_t cap = z ? libdeflate_zlib_compress_bound(z, raw_len) : 0;
    uint8_t *zdata = z ? malloc(cap) : NULL;
    int rc = raw && scratch && z && zdata ? IMG_OK : IMG_ENOMEM;
    if (rc == IMG_OK) {
        for (int y = 0; y < im->height; y++) {
            const uint8_t *row = im->pixels + (size_t)y * n;
            filter_row(row, y ? row - n : NULL, n, im->channels, level > 0,
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
    free(raw);
    return rc;
}
