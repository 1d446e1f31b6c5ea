/* cpus.c - how many CPUs this process may run on (see cpus.h). */
#include "common/cpus.h"
#include <sched.h>
#include <unistd.h>

int cpus_usable(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
