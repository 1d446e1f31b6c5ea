/* png.c - PNG encoder: each row gets the filter (None, Sub, Up, Average, Paeth) that minimises the
 * sum of absolute filtered bytes, the heuristic of the PNG specification's guidelines; the
 * filtered rows become one zlib stream from libdeflate, which at zlib's level 9 compresses about
 * as small as zlib itself in well under half its time (the seed's default request is a 1024x1024
 * PNG at output_compression 100, so this is on every default request).
 *
 * Large images are filtered and compressed in horizontal strips on parallel threads, then
 * stitched into the one deflate stream PNG allows, as pigz does with zlib: every strip but the
 * last is made non-final (its last block's BFINAL bit, found by walking its blocks with zlib's
 * inflate(Z_BLOCK)) and closed with an empty stored block, which byte-aligns the next strip. A
 * strip only loses matches reaching into the previous one (~0.1% larger at 1024x1024). */
#include "image/png.h"
#include "common/cpus.h"
#include "common/status.h"
#include <libdeflate.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define STRIP_MIN_BYTES (512u * 1024u) /* smaller images: one strip, no threads */
#define MAX_STRIPS 8

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

/* Makes a raw deflate stream non-final and appends an empty stored block (a sync flush), so
 * that another stream can follow it byte-aligned. z has room for *len + 5 bytes. */
static int make_nonfinal(uint8_t *z, size_t *len) {
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -15) != Z_OK) return IMG_ENOMEM;
    uint8_t sink[16384]; /* the decoded bytes are not needed, only the block boundaries */
    s.next_in = z;
    s.avail_in = (uInt)*len;
    uint64_t header = 0, end = 0; /* bit offsets: the last block's header, the stream's end */
    int found = 0, rc = IMG_OK;
    while (!found) {
        s.next_out = sink;
        s.avail_out = sizeof sink;
        uLong before = s.total_in, out_before = s.total_out;
        int r = inflate(&s, Z_BLOCK);
        if (r != Z_OK && r != Z_BUF_ERROR) {
            rc = IMG_EFORMAT;
            break;
        }
        if (s.data_type & 128) { /* at a block boundary */
            uint64_t bit = (uint64_t)s.total_in * 8 - (uint64_t)(s.data_type & 63);
            if (s.data_type & 64) { /* the final block has just ended */
                end = bit;
                found = 1;
            } else {
                header = bit; /* the next block's header starts here */
            }
        } else if (r == Z_BUF_ERROR && s.total_in == before && s.total_out == out_before) {
            rc = IMG_EFORMAT; /* no progress: truncated */
            break;
        }
    }
    inflateEnd(&s);
    if (rc) return rc;
    z[header / 8] &= (uint8_t) ~(1u << (header % 8)); /* BFINAL = 0 */
    size_t last = (size_t)(end / 8);
    z[last] &= (uint8_t)((1u << (end % 8)) - 1);  /* bits past the end: the stored block header */
    size_t aligned = (size_t)((end + 3 + 7) / 8); /* BFINAL 0, BTYPE 00, then byte alignment */
    for (size_t i = last + 1; i < aligned; i++)
        z[i] = 0;
    static const uint8_t SYNC[4] = {0x00, 0x00, 0xff, 0xff}; /* LEN 0, NLEN ~0 */
    memcpy(z + aligned, SYNC, 4);
    *len = aligned + 4;
    return IMG_OK;
}

typedef struct {
    const img_t *im;
    int y0, y1, level, last;
    uint8_t *raw; /* this strip's filtered rows, inside the encoder's buffer */
    size_t raw_len;
    uint8_t *z; /* the strip's deflate stream (owned by png_encode) */
    size_t zlen;
    int rc;
} strip_t;

static void *strip_run(void *arg) {
    strip_t *st = arg;
    const img_t *im = st->im;
    size_t n = (size_t)im->width * (size_t)im->channels;
    uint8_t *scratch = malloc(n), *zeros = calloc(n, 1);
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(st->level);
    size_t cap = c ? libdeflate_deflate_compress_bound(c, st->raw_len) + 8 : 0;
    st->z = c ? malloc(cap) : NULL;
    st->rc = scratch && zeros && c && st->z ? IMG_OK : IMG_ENOMEM;
    if (st->rc == IMG_OK) {
        for (int y = st->y0; y < st->y1; y++) {
            const uint8_t *row = im->pixels + (size_t)y * n;
            filter_row(row, y ? row - n : zeros, n, im->channels, st->level > 0,
                       st->raw + (size_t)(y - st->y0) * (n + 1), scratch);
        }
        st->zlen = libdeflate_deflate_compress(c, st->raw, st->raw_len, st->z, cap - 8);
        if (!st->zlen)
            st->rc = IMG_ENOMEM;
        else if (!st->last)
            st->rc = make_nonfinal(st->z, &st->zlen);
    }
    libdeflate_free_compressor(c);
    free(scratch);
    free(zeros);
    return NULL;
}

int png_encode(const img_t *im, int effort, buf_t *out) {
    return png_encode_strips(im, effort, 0, out);
}

int png_encode_strips(const img_t *im, int effort, int strips, buf_t *out) {
    if ((im->channels != 3 && im->channels != 4) || im->width < 1 || im->height < 1)
        return IMG_EINVAL;
    if (effort < 0) effort = 0;
    if (effort > 100) effort = 100;
    /* 0..100 -> libdeflate 0..9, zlib's scale (SPEC: "zlib effort"). Its levels 10-12 (optimal
     * parsing) shave about 12% more off a 1024x1024 render but take 8x as long as 9, which on
     * the default request would cost more than generating the image. */
    int level = (effort * 9 + 50) / 100;
    size_t n = (size_t)im->width * (size_t)im->channels, raw_len = (n + 1) * (size_t)im->height;
    int cores = cpus_usable();
    int nstrips = strips > 0                               ? strips
                  : raw_len < STRIP_MIN_BYTES || cores < 2 ? 1
                  : cores > MAX_STRIPS                     ? MAX_STRIPS
                                                           : cores;
    if (nstrips > MAX_STRIPS) nstrips = MAX_STRIPS;
    if (nstrips > im->height) nstrips = im->height;
    uint8_t *raw = malloc(raw_len); /* all filtered rows, in order (for the checksum) */
    strip_t st[MAX_STRIPS];
    pthread_t th[MAX_STRIPS];
    int started[MAX_STRIPS] = {0};
    memset(st, 0, sizeof st);
    int rc = raw ? IMG_OK : IMG_ENOMEM;
    for (int i = 0; i < nstrips && rc == IMG_OK; i++) {
        st[i] = (strip_t){.im = im,
                          .y0 = (int)((long)im->height * i / nstrips),
                          .y1 = (int)((long)im->height * (i + 1) / nstrips),
                          .level = level,
                          .last = i == nstrips - 1};
        st[i].raw = raw + (size_t)st[i].y0 * (n + 1);
        st[i].raw_len = (size_t)(st[i].y1 - st[i].y0) * (n + 1);
        /* strip 0 runs on this thread; a thread that cannot start runs its strip here too */
        if (i > 0 && pthread_create(&th[i], NULL, strip_run, &st[i]) == 0) started[i] = 1;
    }
    if (rc == IMG_OK) strip_run(&st[0]);
    for (int i = 1; i < nstrips; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else if (rc == IMG_OK)
            strip_run(&st[i]);
    }
    for (int i = 0; i < nstrips && rc == IMG_OK; i++)
        rc = st[i].rc;
    if (rc == IMG_OK) {
        /* zlib header: deflate, 32 KB window, FLEVEL from the level, FCHECK */
        uint8_t zhead[2] = {0x78, level < 2 ? 0x01 : level < 6 ? 0x5e : level == 6 ? 0x9c : 0xda};
        uint8_t ihdr[13], adler[4];
        be32(ihdr, (uint32_t)im->width);
        be32(ihdr + 4, (uint32_t)im->height);
        ihdr[8] = 8;                         /* bits per channel */
        ihdr[9] = im->channels == 4 ? 6 : 2; /* RGBA or RGB */
        ihdr[10] = ihdr[11] = ihdr[12] = 0;  /* deflate, adaptive filtering, no interlace */
        be32(adler, libdeflate_adler32(1, raw, raw_len));
        buf_t idat = {0};
        static const uint8_t SIG[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        rc = buf_append(&idat, zhead, 2) ? IMG_ENOMEM : IMG_OK;
        for (int i = 0; i < nstrips && rc == IMG_OK; i++)
            if (buf_append(&idat, st[i].z, st[i].zlen)) rc = IMG_ENOMEM;
        if (rc == IMG_OK &&
            (buf_append(&idat, adler, 4) || buf_append(out, SIG, 8) ||
             chunk(out, "IHDR", ihdr, 13) || chunk(out, "IDAT", idat.data, idat.len) ||
             chunk(out, "IEND", NULL, 0)))
            rc = IMG_ENOMEM;
        buf_free(&idat);
    }
    for (int i = 0; i < nstrips; i++)
        free(st[i].z);
    free(raw);
    return rc;
}
