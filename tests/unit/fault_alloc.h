/* fault_alloc.h - allocation failure injection for the unit tests (a test double: the unit test
 * binary is linked with -Wl,--wrap for the allocators, so every malloc, calloc, realloc,
 * posix_memalign, aligned_alloc and strdup that the project's code makes goes through
 * tests/unit/fault_alloc.c; the product binaries never are).
 *
 *   fault_alloc_arm(k);   // the k-th allocation from now (1-based) fails, and only that one
 *   ... code under test ...
 *   fault_alloc_disarm(); // returns how many allocations were made since arming
 *
 * fault_alloc_arm(0) only counts. */
#ifndef IMGAPI_TESTS_FAULT_ALLOC_H
#define IMGAPI_TESTS_FAULT_ALLOC_H

void fault_alloc_arm(long k);
long fault_alloc_disarm(void);
/* 1 once the armed failure has been delivered. */
int fault_alloc_fired(void);

#endif
