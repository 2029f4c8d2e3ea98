/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_SCHMIDL_COX_H
#define INCLUDED_SEMDACOM_SCHMIDL_COX_H

#include <gnuradio/semdacom/api.h>
#include <complex>
#include <cstddef>

namespace gr {
namespace semdacom {

//! Number of Schmidl-Cox windows [d, d + 2n) in a buffer of \p len samples.
inline size_t schmidl_cox_count(size_t len, size_t n)
{
    return n > 0 && len >= 2 * n ? len - 2 * n + 1 : 0;
}

/*!
 * \brief Schmidl-Cox timing metric (Schmidl and Cox, 1997) over every window of a
 * buffer, with junk samples neutralised locally (semdacom.phy.sync, issues 23 and 24).
 *
 * For every start d in [0, len - 2n] (schmidl_cox_count() windows):
 * P(d) = sum_{m<n} conj(r[d+m]) r[d+m+n] and M(d) = min(|P(d)|^2 / (E(d) E(d+n)), 1),
 * E(d) = sum_{m<n} |r[d+m]|^2, with M = 0 where E(d) E(d+n) is 0.
 *
 * Junk: a sample that is not finite or whose modulus exceeds \p max_sample (the exact
 * test !(hypot(re, im) <= max_sample) in double precision, as numpy's
 * ~(abs(r) <= max_sample) on complex128) counts as 0, and every window [d, d + 2n) that
 * holds one has M = 0 and P = 0. Every other window is exactly as without the junk.
 *
 * Exactness: every windowed sum is formed from the window's own samples only (van Herk /
 * Gil-Werman: the buffer cut in blocks of n, the window at offset j of block k is the
 * suffix sum of block k from j plus the prefix sum of block k+1 up to j-1), in double
 * precision, in the order of the numpy reference (semdacom.phy.sync._window_sum), so a
 * quiet window keeps its digits after an arbitrarily long loud stretch. O(len) work,
 * O(n) scratch, one pass over the input.
 *
 * Thread-safe (no state); \p m and \p p must hold schmidl_cox_count(len, n) values.
 * \throws std::invalid_argument when n is 0.
 */
SEMDACOM_API void schmidl_cox(const std::complex<float>* r,
                              size_t len,
                              size_t n,
                              double max_sample,
                              double* m,
                              std::complex<double>* p);

//! schmidl_cox() of a complex128 buffer.
SEMDACOM_API void schmidl_cox(const std::complex<double>* r,
                              size_t len,
                              size_t n,
                              double max_sample,
                              double* m,
                              std::complex<double>* p);

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_SCHMIDL_COX_H */
