/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The max-log QAM demapper of semdacom.channel_coding.qam in one pass over the symbols
 * (qam_demap.h).
 */

#include <gnuradio/semdacom/qam_demap.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace gr {
namespace semdacom {

namespace {
// numpy's minimum: NaN as soon as one value is NaN
inline double nan_min(double a, double b) { return (std::isnan(a) || a < b) ? a : b; }
} // namespace

void qam_demap_maxlog(const std::complex<double>* z,
                      const double* s,
                      size_t count,
                      const double* levels,
                      int half,
                      float* out)
{
    if (half < 1 || half > 4) {
        throw std::invalid_argument("qam_demap_maxlog: half must be in 1..4");
    }
    const int M = 1 << half;
    const double inf = std::numeric_limits<double>::infinity();
    double d2[16];
    for (size_t i = 0; i < count; ++i) {
        const double comp[2] = { z[i].real(), z[i].imag() };
        for (int dim = 0; dim < 2; ++dim) {
            for (int k = 0; k < M; ++k) {
                const double d = comp[dim] - levels[k];
                d2[k] = d * d;
            }
            for (int b = 0; b < half; ++b) {
                const int shift = half - 1 - b;
                double one = inf, zero = inf;
                for (int k = 0; k < M; ++k) {
                    if ((k >> shift) & 1) {
                        one = nan_min(one, d2[k]);
                    } else {
                        zero = nan_min(zero, d2[k]);
                    }
                }
                double v = (one - zero) * s[i];
                v = std::min(std::max(v, -1e30), 1e30); // NaN stays NaN
                out[(2 * i + dim) * half + b] = static_cast<float>(v);
            }
        }
    }
}

} // namespace semdacom
} // namespace gr
