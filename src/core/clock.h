/* clock.h - a monotonic clock for timings and timeouts, and the wall clock for records. */
#ifndef FM_CLOCK_H
#define FM_CLOCK_H

#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC (an arbitrary origin; only differences mean anything). */
static inline double fm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Unix seconds (UTC) on CLOCK_REALTIME, with the fraction: the time stamped on records. */
static inline double fm_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
