/* peak.h - the machine's peak arithmetic rate, measured: independent FMA (fp32) or BF16 dot
 * product chains on every thread. Used by the benchmarks to report "% of peak". */
#ifndef IMGAPI_ENGINE_RUNTIME_PEAK_H
#define IMGAPI_ENGINE_RUNTIME_PEAK_H
#include "engine/runtime/threadpool.h"

/* FLOP/s over `threads` tasks (best of 3); bf16: 0 when the CPU lacks AVX512-BF16. fp32 uses
 * the widest FMA the CPU has. */
double peak_flops(pool_t *pool, int threads, int bf16);

#endif
