/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_MISO_CHANNEL_KERNEL_H
#define INCLUDED_SEMDACOM_MISO_CHANNEL_KERNEL_H

#include <gnuradio/gr_complex.h>
#include <gnuradio/semdacom/api.h>
#include <gnuradio/semdacom/gaussian_rng.h>
#include <gnuradio/semdacom/matrix_mixer.h>
#include <cstdint>
#include <vector>

namespace gr {
namespace semdacom {

/*!
 * \brief MU-MISO downlink channel kernel, eq. (6) of MU-ASCC ([1]):
 *        y_i[t] = h_i^H x[t] + n_i[t],  n_i ~ CN(0, sigma_i^2).
 *
 * h is K*N_t complex, user-major (h_1 then h_2 ...), as in the CSI message.
 * redraw_rayleigh() replaces every h_i by sqrt(||h0_i||^2 / N_t) * CN(0, I),
 * where h0 is the nominal channel given to set_channel(): i.i.d. Rayleigh
 * block fading that keeps each user's mean channel gain.
 *
 * Each user's noise comes from its own generator (seeded from seed and the user
 * index) and the fading from another, so a realisation depends on the seed only,
 * never on how a stream is split into process() calls.
 */
class SEMDACOM_API miso_channel_kernel
{
public:
    miso_channel_kernel(int k, int n_t, uint64_t seed = 0);

    int k() const { return d_k; }
    int n_t() const { return d_n_t; }

    /*! Nominal channel; also becomes the current one. Throws on size/NaN. */
    void set_channel(const std::vector<gr_complex>& h);
    /*! K finite, non-negative noise variances. */
    void set_noise_var(const std::vector<double>& noise_var);
    void set_seed(uint64_t seed);

    /*! Draw a new Rayleigh realisation around the nominal per-user gains. */
    void redraw_rayleigh();

    const std::vector<gr_complex>& h() const { return d_h; }
    const std::vector<gr_complex>& nominal_h() const { return d_h0; }
    const std::vector<double>& noise_var() const { return d_noise_var; }

    /*! in: N_t antenna streams, out: K user streams. */
    void process(const gr_complex* const* in, gr_complex* const* out, size_t n);

private:
    void apply_h(const std::vector<gr_complex>& h);
    int d_k;
    int d_n_t;
    std::vector<gr_complex> d_h0;
    std::vector<gr_complex> d_h;
    std::vector<double> d_noise_var;
    matrix_mixer d_mix;                    // K x N_t, entries conj(h_i[a])
    std::vector<gaussian_rng> d_noise_rng; // one per user
    gaussian_rng d_fading_rng;
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_MISO_CHANNEL_KERNEL_H */
