/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_QAM_DEMAP_H
#define INCLUDED_SEMDACOM_QAM_DEMAP_H

#include <gnuradio/semdacom/api.h>
#include <complex>
#include <cstddef>

namespace gr {
namespace semdacom {

/*!
 * \brief Max-log LLRs of Gray-mapped square QAM, per real dimension
 * (semdacom.channel_coding.qam.demap, issue 23: its numpy took 0.6 ms per 2048 64-QAM
 * symbols, half of a burst's channel decoding).
 *
 * \p z holds \p count equalised symbols (y / g), \p s the per-symbol |g|^2 / N0. Each
 * real dimension is a Gray PAM of \p half bits: \p levels[k] is the level of label k (M =
 * 2^half values); bit b of label k is (k >> (half - 1 - b)) & 1. Output: half LLRs of the
 * real part then half of the imaginary part per symbol (count * 2 * half floats),
 * L_b = s (min_{k: bit b = 1} (x - levels[k])^2 - min_{k: bit b = 0} (x - levels[k])^2),
 * clipped to +-1e30, in double precision as the numpy reference computes it, then rounded
 * to float32: the same values bit for bit, NaN where a symbol is NaN or infinite.
 *
 * Thread-safe (no state). \throws std::invalid_argument unless 1 <= half <= 4.
 */
SEMDACOM_API void qam_demap_maxlog(const std::complex<double>* z,
                                   const double* s,
                                   size_t count,
                                   const double* levels,
                                   int half,
                                   float* out);

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_QAM_DEMAP_H */
