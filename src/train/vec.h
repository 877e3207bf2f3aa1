/* vec.h - the elementwise loops of training, vectorised per instruction-set level.
 *
 * The build is -O2 without -m flags, so loops over floats stay scalar unless
 * written with intrinsics. These helpers have AVX-512 and AVX2 bodies (function
 * target attributes, masked or scalar tails) and a plain C one; isa picks the
 * body (it must be supported, see fm_isa_detect). Reductions use a fixed lane
 * order, so a level always gives the same bits for the same input.
 */
#ifndef FM_VEC_H
#define FM_VEC_H

#include <stddef.h>

#include "nn/ops/simd.h"

/* y[i] += a * x[i] */
void fm_vec_axpy(fm_isa isa, size_t n, float a, const float *x, float *y);
/* y[i] = a * x[i] */
void fm_vec_scale(fm_isa isa, size_t n, float a, const float *x, float *y);
/* sum x[i] * y[i] */
float fm_vec_dot(fm_isa isa, size_t n, const float *x, const float *y);
/* sum x[i] */
float fm_vec_sum(fm_isa isa, size_t n, const float *x);
/* y[i] = act(y[i] + b) */
void fm_vec_bias_act(fm_isa isa, size_t n, float *y, float b, fm_activation act);
/* d[i] (=|+=) g[i] * act'(y[i]) from the output y: ReLU passes where y > 0 (else
 * slope), ReLU6 where 0 < y < 6, sigmoid scales by y (1 - y). d may equal g when add is 0. */
void fm_vec_act_backward(fm_isa isa, size_t n, const float *y, const float *g, float *d,
                         fm_activation act, int add);

#endif
