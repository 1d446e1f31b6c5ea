/* half.h - bulk conversion between f32 and 16-bit floats (IEEE half, bfloat16) for packed
 * weights. */
#ifndef IMGAPI_ENGINE_KERNELS_HALF_H
#define IMGAPI_ENGINE_KERNELS_HALF_H
#include "engine/kernels/cpu.h"
#include <stddef.h>
#include <stdint.h>

/* Converts n floats to halves in dst; returns 1 when every value converted exactly (dst is then
 * a lossless copy), 0 when some value is not a half (dst is then unspecified). */
int half_from_float_exact(const float *src, uint16_t *dst, size_t n);
/* Rounds n floats to halves (to nearest, ties to even, as f32_to_f16), with F16C where isa has it. */
void half_from_float(isa_t isa, const float *src, uint16_t *dst, size_t n);
/* Widens n halves to floats with the conversion instructions of isa (F16C for AVX2 and up). */
void half_to_float(isa_t isa, const uint16_t *src, float *dst, size_t n);
/* The same for bfloat16 (the upper 16 bits of a float): 1 when every value's lower 16 bits are
 * zero, so that dst holds them exactly. */
int bf16_from_float_exact(const float *src, uint16_t *dst, size_t n);
/* Widens n bfloat16 values to floats (exact). */
void bf16_to_float(isa_t isa, const uint16_t *src, float *dst, size_t n);

#endif
