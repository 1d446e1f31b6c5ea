/* gemm_amx.c - precision bf16 on AMX: a 32 x 16 micro-kernel of two 16 x 16 f32 tiles,
 * TDPBF16PS over 16 k pairs at a time (A: two 16-row tiles of 32 bfloat16; B: the panel's 16
 * pairs, already in the VNNI layout the instruction reads). Each thread loads the tile
 * configuration before its first product (gemm_amx_begin) and releases the tiles after. */
#include "engine/kernels/gemm.h"
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16")))

/* Every tile 16 rows of 64 bytes. The kernel: tmm0, tmm1 C (16 rows x 16 floats); tmm4, tmm5 A
 * (16 rows x 32 bfloat16); tmm6 B (16 pairs x 16 columns x 2). */
typedef struct {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg_t;

AMX_TARGET void gemm_amx_begin(void) {
    tilecfg_t cfg __attribute__((aligned(64)));
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    __asm__ volatile("" ::: "memory"); /* ldtilecfg reads all 64 bytes */
    _tile_loadconfig(&cfg);
}

AMX_TARGET void gemm_amx_end(void) {
    _tile_release();
}

AMX_TARGET void gemm_ukr_amx_bf16(int kp, const uint16_t *a, int lda, const uint16_t *b, float *c,
                                  int ldc, int load_c, const float *init16) {
    long cs = (long)ldc * (long)sizeof(float), as = (long)lda * (long)sizeof(uint16_t);
    if (load_c) {
        _tile_loadd(0, c, cs);
        _tile_loadd(1, c + 16 * (size_t)ldc, cs);
    } else {
        float rows[16 * GEMM_NR] __attribute__((aligned(64))); /* init16 in every row */
        for (int i = 0; i < 16; i++)
            memcpy(rows + i * GEMM_NR, init16, sizeof(float) * GEMM_NR);
        __asm__ volatile("" ::: "memory"); /* the tile loads below read rows */
        _tile_loadd(0, rows, 64);
        _tile_loadd(1, rows, 64);
    }
    for (int q = 0; q < kp; q += 16) {
        _tile_loadd(4, a + 2 * (size_t)q, as);
        _tile_loadd(5, a + 16 * (size_t)lda + 2 * (size_t)q, as);
        _tile_loadd(6, b + (size_t)q * 2 * GEMM_NR, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 5, 6);
    }
    _tile_stored(0, c, cs);
    _tile_stored(1, c + 16 * (size_t)ldc, cs);
}
