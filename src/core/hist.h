/* hist.h - the median and 90th percentile of a quantity measured on every frame of a run that
 * may last for months (watch's per-stage times), in fixed memory.
 *
 *     fm_hist h;
 *     fm_hist_init(&h);
 *     for (each frame)
 *         fm_hist_add(&h, ms);
 *     double med = fm_hist_quantile(&h, 0.5), p90 = fm_hist_quantile(&h, 0.9);
 *
 * Values are counted in logarithmic bins, each 2% wider than the one before, from
 * FM_HIST_MIN to FM_HIST_MIN * 1.02^(FM_HIST_BINS - 2) (about 1e-3 to 3e6 for milliseconds);
 * values below the first bin (zero, negative, NaN) count in bin 0 and read back as 0, values
 * above the last count in the last. A quantile is the centre (geometric mean of its edges) of
 * the bin holding the sample of rank round((n - 1) * q) in sorted order, so it is within 1% of
 * that sample. The memory is the struct itself (about 9 KB), touched once by fm_hist_init: a
 * run's resident size does not grow with its length, which a list of every value did (6 MB
 * over the first 87 minutes of a live run, found by `make soak`).
 */
#ifndef FM_HIST_H
#define FM_HIST_H

#define FM_HIST_BINS 1100
#define FM_HIST_MIN 1e-3

typedef struct {
    long long count[FM_HIST_BINS];
    long long n;
} fm_hist;

void fm_hist_init(fm_hist *h);
void fm_hist_add(fm_hist *h, double x);
/* The q-quantile (0 <= q <= 1) as above; 0 when nothing was added. */
double fm_hist_quantile(const fm_hist *h, double q);

#endif
