/* fault_alloc.c - the allocators' wrappers behind fault_alloc.h (test double, unit tests only).
 * The counters are shared by every thread: the engine's pool workers allocate too. */
#include "tests/unit/fault_alloc.h"
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
char *__real_strdup(const char *s);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
int __wrap_posix_memalign(void **p, size_t align, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
char *__wrap_strdup(const char *s);

/* Test-double state: armed (0/1), the allocations counted since arming, the one to fail. */
static struct {
    int armed, fired;
    long count, fail_at;
} fa;

void fault_alloc_arm(long k) {
    __atomic_store_n(&fa.count, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&fa.fired, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&fa.fail_at, k, __ATOMIC_SEQ_CST);
    __atomic_store_n(&fa.armed, 1, __ATOMIC_SEQ_CST);
}

long fault_alloc_disarm(void) {
    __atomic_store_n(&fa.armed, 0, __ATOMIC_SEQ_CST);
    return __atomic_load_n(&fa.count, __ATOMIC_SEQ_CST);
}

int fault_alloc_fired(void) {
    return __atomic_load_n(&fa.fired, __ATOMIC_SEQ_CST);
}

/* 1 when this allocation is the one to fail. */
static int should_fail(void) {
    if (!__atomic_load_n(&fa.armed, __ATOMIC_SEQ_CST)) return 0;
    long k = __atomic_add_fetch(&fa.count, 1, __ATOMIC_SEQ_CST);
    if (k != __atomic_load_n(&fa.fail_at, __ATOMIC_SEQ_CST)) return 0;
    __atomic_store_n(&fa.fired, 1, __ATOMIC_SEQ_CST);
    return 1;
}

void *__wrap_malloc(size_t n) {
    return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size) {
    return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n) {
    return should_fail() ? NULL : __real_realloc(p, n);
}

int __wrap_posix_memalign(void **p, size_t align, size_t n) {
    return should_fail() ? ENOMEM : __real_posix_memalign(p, align, n);
}

void *__wrap_aligned_alloc(size_t align, size_t n) {
    return should_fail() ? NULL : __real_aligned_alloc(align, n);
}

char *__wrap_strdup(const char *s) {
    return should_fail() ? NULL : __real_strdup(s);
}
