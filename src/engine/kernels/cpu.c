/* cpu.c - run-time CPU feature detection. */
#include "engine/kernels/cpu.h"
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

/* F16C (half <-> float conversion), which the AVX2 level uses for half-precision weights. Read
 * from the features libgcc detected once, like the others: a CPUID instruction per query traps to
 * the hypervisor in a virtual machine, and the GEMM asks on every call (perf put 2% of a bf16
 * bench run's samples on the instruction; end to end the gain was within the machine's noise). */
static int has_f16c(void) {
#if defined(__clang__) /* clang's __builtin_cpu_supports does not know "f16c": CPUID.1:ECX bit 29 */
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1);
#else
    return __builtin_cpu_supports("f16c");
#endif
}
#endif

int cpu_supports(isa_t isa) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    switch (isa) {
    case ISA_PORTABLE: return 1;
    case ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
    case ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma") && has_f16c();
    default: return 0;
    }
#else
    return isa == ISA_PORTABLE;
#endif
}

int cpu_has_avx512_bf16(void) {
#if defined(__x86_64__) || defined(__i386__)
    return cpu_supports(ISA_AVX512) && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

int cpu_amx_enable(void) {
#if defined(__x86_64__) && defined(__linux__)
    unsigned a, b, c, d;
    /* CPUID.(7,0):EDX bit 22 AMX-BF16, bit 24 AMX-TILE */
    if (!cpu_has_avx512_bf16() || !__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 22)) ||
        !(d & (1u << 24)))
        return 0;
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
    return 0;
#endif
}

isa_t cpu_best_isa(void) {
    if (cpu_supports(ISA_AVX512)) return ISA_AVX512;
    if (cpu_supports(ISA_AVX2)) return ISA_AVX2;
    return ISA_PORTABLE;
}

static const char *NAMES[ISA_COUNT] = {"portable", "avx2", "avx512"};

const char *cpu_isa_name(isa_t isa) { return isa < ISA_COUNT ? NAMES[isa] : "?"; }

int cpu_isa_parse(const char *s) {
    for (int i = 0; i < ISA_COUNT; i++)
        if (strcmp(s, NAMES[i]) == 0) return i;
    return -1;
}
