/* cpu.h - instruction-set levels the kernels have, and the best one this CPU runs. */
#ifndef IMGAPI_ENGINE_KERNELS_CPU_H
#define IMGAPI_ENGINE_KERNELS_CPU_H

typedef enum { ISA_PORTABLE = 0, ISA_AVX2, ISA_AVX512, ISA_COUNT } isa_t;

/* The best level this CPU supports. */
isa_t cpu_best_isa(void);
/* 1 when this CPU can run level isa. */
int cpu_supports(isa_t isa);
const char *cpu_isa_name(isa_t isa);
/* 1 when this CPU has AVX-512 with the BF16 dot product (VDPBF16PS): the avx512 level then runs
 * bfloat16 weights (precision bf16) on it. */
int cpu_has_avx512_bf16(void);
/* 1 when this CPU has AMX with BF16 tiles and the OS granted this process their state (Linux:
 * arch_prctl ARCH_REQ_XCOMP_PERM, asked here; idempotent): precision bf16 then runs on AMX. */
int cpu_amx_enable(void);
/* Parses "portable" | "avx2" | "avx512"; -1 when unknown. */
int cpu_isa_parse(const char *s);

#endif
