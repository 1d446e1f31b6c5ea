/* bigmem.h - memory for the engine's large buffers (weights' panels, activations) on transparent
 * huge pages where the kernel offers them on request (THP "madvise", Debian's default). A GEMM
 * streams A and writes C rows thousands of bytes apart; on 4 KiB pages every few rows is
 * another page, and inside a VM each TLB miss walks two page tables. */
#ifndef IMGAPI_ENGINE_RUNTIME_BIGMEM_H
#define IMGAPI_ENGINE_RUNTIME_BIGMEM_H
#include <stddef.h>

/* Buffers from this size on are 2 MiB-aligned and advised huge; smaller ones 64-byte aligned. */
#define BIGMEM_HUGE_MIN ((size_t)4 << 20)

/* bytes of uninitialised memory, 64-byte aligned (at least); NULL when out of memory. Owned by
 * the caller, released with free(). The advice is only that: where the kernel declines it the
 * memory is the same, on small pages. */
void *big_alloc(size_t bytes);

#endif
