/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_DC_BLOCKER_KERNEL_H
#define INCLUDED_SEMDACOM_DC_BLOCKER_KERNEL_H

#include <gnuradio/semdacom/api.h>
#include <complex>
#include <cstddef>
#include <vector>

namespace gr {
namespace semdacom {

/*!
 * \brief The DC blocker of R. Yates, "DC Blocker Algorithms" (IEEE Signal Processing
 * Magazine, March 2008), the filter of GNU Radio's filter.dc_blocker_cc, on ring buffers.
 *
 * A moving average of length D is the running sum y[n] = x[n] - x[n-D] + y[n-1], divided
 * by D. Long form: four of them in cascade, out[n] = x[n - 2(D-1)] - ma4[n] (group delay
 * 2D - 2, a flat passband); short form: two, out[n] = x[n - (D-1)] - ma2[n] (group delay
 * D - 1). dc_blocker_cc keeps its delay lines in std::deque (135 ns per sample on the
 * 2-core test machine, 27 % of a core at 2 MS/s: issue 23); these rings take a few ns.
 *
 * Unlike dc_blocker_cc, whose single-precision running sums are never re-formed and keep
 * any bad sample for ever (after one NaN every later output is NaN: the receiver behind
 * it is dead), a sample that is not finite enters the windows as 0, and each sum is kept
 * in double precision and re-formed exactly from its window every D - 1 samples: a huge
 * sample is forgotten once it has left the windows, and the rounding does not walk with
 * the stream's length. The output equals dc_blocker_cc's to single-precision rounding
 * otherwise. The state carries
 * over between calls: the output of a stream does not depend on how it is cut.
 */
class SEMDACOM_API dc_blocker_kernel
{
public:
    //! \throws std::invalid_argument when length < 2
    dc_blocker_kernel(int length, bool long_form);

    //! Filter \p n samples (\p out may be \p in).
    void filter(const std::complex<float>* in, std::complex<float>* out, size_t n);

    //! Samples by which the output lags the input: 2D - 2 (long form) or D - 1.
    int group_delay() const { return d_long_form ? 2 * d_length - 2 : d_length - 1; }
    int length() const { return d_length; }
    bool long_form() const { return d_long_form; }

private:
    //! One moving average: the D - 1 last inputs in a ring, its running sum
    struct moving_sum {
        std::vector<std::complex<float>> ring; // the last D - 1 inputs, oldest at pos
        size_t pos = 0;
        std::complex<float> delayed{ 0, 0 }; // the input D - 1 samples ago
        std::complex<double> sum{ 0, 0 };    // y[n - 1] (not yet divided by D)
    };

    int d_length;
    bool d_long_form;
    double d_scale; // 1 / D
    moving_sum d_ma[4];
    std::vector<std::complex<float>> d_delay; // long form: D - 1 more of delay
    size_t d_delay_pos = 0;

    std::complex<float> average(moving_sum& m, std::complex<float> x);
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_DC_BLOCKER_KERNEL_H */
