/* bigmem.c - large buffers on transparent huge pages (see bigmem.h). */
#include "engine/runtime/bigmem.h"
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

void *big_alloc(size_t bytes) {
    if (!bytes) bytes = 1;
    void *p = NULL; /* owned by the caller */
    if (bytes < BIGMEM_HUGE_MIN) return posix_memalign(&p, 64, bytes) ? NULL : p;
    if (posix_memalign(&p, HUGE_PAGE, bytes)) return NULL;
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* advice: refused (no THP), the pages stay small */
    return p;
}
