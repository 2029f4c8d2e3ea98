/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gnuradio/semdacom/superposition_kernel.h>
#include <cmath>
#include <stdexcept>
#include <string>

namespace gr {
namespace semdacom {

superposition_kernel::superposition_kernel(int k, int n_t)
    : d_k(k), d_n_t(n_t), d_mix(n_t, k)
{
    std::vector<double> p(k, 1.0);
    std::vector<gr_complex> w(static_cast<size_t>(k) * n_t, gr_complex(0, 0));
    // default beams: user i on antenna (i mod N_t)
    for (int i = 0; i < k; i++) {
        w[static_cast<size_t>(i) * n_t + (i % n_t)] = gr_complex(1, 0);
    }
    set_allocation(p, w);
}

void superposition_kernel::set_allocation(const std::vector<double>& power,
                                          const std::vector<gr_complex>& w)
{
    if (power.size() != static_cast<size_t>(d_k)) {
        throw std::invalid_argument("superposition_kernel: power has " +
                                    std::to_string(power.size()) +
                                    " entries, expected K=" + std::to_string(d_k));
    }
    if (w.size() != static_cast<size_t>(d_k) * d_n_t) {
        throw std::invalid_argument(
            "superposition_kernel: w has " + std::to_string(w.size()) +
            " entries, expected K*N_t=" + std::to_string(d_k * d_n_t));
    }
    for (double p : power) {
        if (!std::isfinite(p) || p < 0.0) {
            throw std::invalid_argument(
                "superposition_kernel: powers must be finite and non-negative");
        }
    }
    for (const auto& c : w) {
        if (!std::isfinite(c.real()) || !std::isfinite(c.imag())) {
            throw std::invalid_argument("superposition_kernel: beams must be finite");
        }
    }
    std::vector<gr_complex> m(static_cast<size_t>(d_n_t) * d_k);
    for (int a = 0; a < d_n_t; a++) {
        for (int i = 0; i < d_k; i++) {
            const double s = std::sqrt(power[i]);
            const gr_complex c = w[static_cast<size_t>(i) * d_n_t + a];
            m[static_cast<size_t>(a) * d_k + i] = gr_complex(
                static_cast<float>(s * c.real()), static_cast<float>(s * c.imag()));
        }
    }
    d_mix.set_matrix(m);
    d_power = power;
    d_w = w;
}

} // namespace semdacom
} // namespace gr
