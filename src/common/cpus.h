/* cpus.h - how many CPUs this process may run on. */
#ifndef IMGAPI_COMMON_CPUS_H
#define IMGAPI_COMMON_CPUS_H

/* The CPUs in the calling thread's affinity mask (taskset, a container's cpuset), else the online
 * CPUs; at least 1. What "one thread per core" should count: the machine's CPU count would put
 * several threads on each allowed CPU. */
int cpus_usable(void);

#endif
