/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_SUPERPOSITION_KERNEL_H
#define INCLUDED_SEMDACOM_SUPERPOSITION_KERNEL_H

#include <gnuradio/gr_complex.h>
#include <gnuradio/semdacom/api.h>
#include <gnuradio/semdacom/matrix_mixer.h>
#include <cstddef>
#include <vector>

namespace gr {
namespace semdacom {

/*!
 * \brief Superposition beamforming kernel, eq. (5) of MU-ASCC ([1]):
 *        u[t] = sum_i sqrt(p_i) w_i g_i[t].
 *
 * A plain class (no GNU Radio block): K user streams in, N_t antenna streams
 * out. The coefficients c_{a,i} = sqrt(p_i) w_i[a] are precomputed by
 * set_allocation(); process() applies them with a matrix_mixer.
 */
class SEMDACOM_API superposition_kernel
{
public:
    superposition_kernel(int k, int n_t);

    int k() const { return d_k; }
    int n_t() const { return d_n_t; }

    /*!
     * \param power K non-negative powers (watts)
     * \param w K*N_t beam coefficients, user-major (w_1 then w_2 ...)
     * Throws std::invalid_argument on wrong sizes, negative or non-finite values.
     * Beams are used as given (the caller validates unit norm).
     */
    void set_allocation(const std::vector<double>& power,
                        const std::vector<gr_complex>& w);

    const std::vector<double>& power() const { return d_power; }
    const std::vector<gr_complex>& w() const { return d_w; }

    /*! Coefficient sqrt(p_i) w_i[a] of user i on antenna a. */
    gr_complex coeff(int antenna, int user) const { return d_mix.at(antenna, user); }

    /*!
     * out[a][t] = sum_i coeff(a, i) * in[i][t], for t in [0, n).
     * in: K pointers, out: N_t pointers; buffers must not alias.
     */
    void process(const gr_complex* const* in, gr_complex* const* out, size_t n) const
    {
        d_mix.process(in, out, n);
    }

private:
    int d_k;
    int d_n_t;
    std::vector<double> d_power;
    std::vector<gr_complex> d_w;
    matrix_mixer d_mix; // N_t x K
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_SUPERPOSITION_KERNEL_H */
