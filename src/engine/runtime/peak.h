/* peak.h - the machine's peak arithmetic rate, measured: independent FMA (fp32) or BF16 dot
 * product chains on every thread. Used by the benchmarks to report "% of peak". */
#ifndef IMGAPI_ENGINE_RUNTIME_PEAK_H
#define IMGAPI_ENGINE_RUNTIME_PEAK_H
#include "engine/kernels/cpu.h"
#include "engine/runtime/threadpool.h"

typedef enum { PEAK_FP32 = 0, PEAK_BF16, PEAK_AMX } peak_kind_t;

/* FLOP/s over `threads` tasks (best of 3): PEAK_FP32 the FMA of level isa, the kernels' (the
 * widest the CPU has for ISA_PORTABLE: what the portable kernels are held against); PEAK_BF16
 * AVX512-BF16's dot product; PEAK_AMX the AMX tiles' bfloat16 product (cpu_amx_enable). 0 when
 * the CPU lacks the kind. */
double peak_flops(pool_t *pool, int threads, peak_kind_t kind, isa_t isa);

#endif
