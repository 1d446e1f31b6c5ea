/* peak.h - the machine's peak arithmetic rate, measured: independent FMA (fp32) or BF16 dot
 * product chains on every thread. Used by the benchmarks to report "% of peak". */
#ifndef IMGAPI_ENGINE_RUNTIME_PEAK_H
#define IMGAPI_ENGINE_RUNTIME_PEAK_H
#include "engine/kernels/cpu.h"
#include "engine/runtime/threadpool.h"

typedef enum { PEAK_FP32 = 0, PEAK_BF16, PEAK_AMX, PEAK_INT8 } peak_kind_t;

/* FLOP/s over `threads` tasks (best of 3): PEAK_FP32 the FMA of level isa, the kernels' (the
 * widest the CPU has for ISA_PORTABLE: what the portable kernels are held against); PEAK_BF16
 * AVX512-BF16's dot product; PEAK_AMX the AMX tiles' bfloat16 product (cpu_amx_enable); PEAK_INT8
 * the fastest 8-bit multiply-accumulate the CPU has (AVX512-VNNI's or AVX-VNNI's VPDPBUSD, else
 * AVX2's VPMADDUBSW + VPMADDWD + VPADDD, the sequence an int8 kernel without VNNI runs), as
 * operations (two per product) per second, so that it compares with the FLOP/s of the others.
 * 0 when the CPU lacks the kind. */
double peak_flops(pool_t *pool, int threads, peak_kind_t kind, isa_t isa);
/* The instructions PEAK_INT8 measures on this CPU ("avx512-vnni", "avx-vnni", "avx2"), or NULL. */
const char *peak_int8_name(void);

#endif
