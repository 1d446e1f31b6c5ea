/* gguf_quant.h - floats encoded as GGUF block types, for `imgapi convert`.
 *
 * Q8_0: blocks of 32 values, a half d = max|x| / 127 then 32 int8 q = round(x / d) (34 bytes).
 * Q4_K: super-blocks of 256 values in 8 groups of 32, x ~ d * sc * q - dmin * m with q in 0..15
 * and a 6-bit sc and m per group; d and dmin halves, the 12 bytes of scales packed as ggml
 * packs them, then 128 bytes of values (144 bytes). The groups' scales and offsets are chosen
 * by a least-squares search (gguf_quant.c). */
#ifndef IMGAPI_ENGINE_IO_GGUF_QUANT_H
#define IMGAPI_ENGINE_IO_GGUF_QUANT_H
#include <stddef.h>
#include <stdint.h>

#define GGUF_Q8_0_BYTES 34
#define GGUF_Q4_K_BYTES 144

/* n (a multiple of 32) values as n / 32 Q8_0 blocks at out. */
void gguf_quant_q8_0(const float *x, size_t n, uint8_t *out);
/* n (a multiple of 256) values as n / 256 Q4_K super-blocks at out. */
void gguf_quant_q4_k(const float *x, size_t n, uint8_t *out);

#endif
