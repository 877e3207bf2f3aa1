/* hist.c - fixed-memory quantiles of a per-frame quantity (see hist.h). */
#include "core/hist.h"

#include <math.h>
#include <string.h>

#define RATIO 1.02

void fm_hist_init(fm_hist *h)
{
    memset(h, 0, sizeof *h);
}

/* Bin 0: below FM_HIST_MIN (or not a number); bin k >= 1: [MIN * RATIO^(k-1), MIN * RATIO^k). */
static int bin_of(double x)
{
    if (!(x >= FM_HIST_MIN))
        return 0;
    double k = floor(log(x / FM_HIST_MIN) / log(RATIO)) + 1;
    return k >= FM_HIST_BINS - 1 ? FM_HIST_BINS - 1 : (int)k;
}

void fm_hist_add(fm_hist *h, double x)
{
    h->count[bin_of(x)]++;
    h->n++;
}

double fm_hist_quantile(const fm_hist *h, double q)
{
    if (h->n == 0)
        return 0;
    q = q < 0 ? 0 : q > 1 ? 1 : q;
    long long rank = (long long)((double)(h->n - 1) * q + 0.5), seen = 0;
    int k = 0;
    for (; k < FM_HIST_BINS - 1; k++) {
        seen += h->count[k];
        if (seen > rank)
            break;
    }
    if (k == 0)
        return 0;
    return FM_HIST_MIN * pow(RATIO, (double)k - 0.5);
}
