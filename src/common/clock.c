/* clock.c - time helpers. */
#include "common/clock.h"

double clock_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int64_t clock_wall(void) { return (int64_t)time(NULL); }

struct timespec clock_abs_after(double seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (seconds < 0) seconds = 0;
    long s = (long)seconds;
    long ns = (long)((seconds - (double)s) * 1e9);
    ts.tv_sec += s;
    ts.tv_nsec += ns;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}
