/* clock.h - monotonic and wall-clock time helpers. */
#ifndef IMGAPI_COMMON_CLOCK_H
#define IMGAPI_COMMON_CLOCK_H
#include <stdint.h>
#include <time.h>

double clock_mono(void);       /* seconds, monotonic */
int64_t clock_wall(void);      /* seconds since the epoch */
/* Absolute CLOCK_REALTIME timespec `seconds` from now, for pthread_cond_timedwait. */
struct timespec clock_abs_after(double seconds);

#endif
