/* clock.h - a monotonic clock for timings and timeouts. */
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

#endif
