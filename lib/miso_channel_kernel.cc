/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gnuradio/semdacom/miso_channel_kernel.h>
#include <cmath>
#include <stdexcept>
#include <string>

namespace gr {
namespace semdacom {

miso_channel_kernel::miso_channel_kernel(int k, int n_t, uint64_t seed)
    : d_k(k),
      d_n_t(n_t),
      d_noise_var(k > 0 ? k : 1, 1.0),
      d_mix(k, n_t),
      d_noise_rng(k > 0 ? k : 1)
{
    set_seed(seed);
    std::vector<gr_complex> h(static_cast<size_t>(k) * n_t, gr_complex(0, 0));
    for (int i = 0; i < k; i++) {
        h[static_cast<size_t>(i) * n_t + (i % n_t)] = gr_complex(1, 0);
    }
    set_channel(h);
}

void miso_channel_kernel::set_seed(uint64_t seed)
{
    // distinct, well-mixed streams: gaussian_rng seeds xoshiro through splitmix64
    for (size_t i = 0; i < d_noise_rng.size(); i++) {
        d_noise_rng[i].seed(seed * 0x100000001b3ULL + 2 * i + 1);
    }
    d_fading_rng.seed(seed * 0x100000001b3ULL);
}

void miso_channel_kernel::apply_h(const std::vector<gr_complex>& h)
{
    std::vector<gr_complex> m(h.size());
    for (size_t j = 0; j < h.size(); j++) {
        m[j] = std::conj(h[j]); // row i of the mixer is h_i^H
    }
    d_mix.set_matrix(m);
    d_h = h;
}

void miso_channel_kernel::set_channel(const std::vector<gr_complex>& h)
{
    if (h.size() != static_cast<size_t>(d_k) * d_n_t) {
        throw std::invalid_argument(
            "miso_channel_kernel: h has " + std::to_string(h.size()) +
            " entries, expected K*N_t=" + std::to_string(d_k * d_n_t));
    }
    apply_h(h); // validates finiteness
    d_h0 = h;
}

void miso_channel_kernel::set_noise_var(const std::vector<double>& noise_var)
{
    if (noise_var.size() != static_cast<size_t>(d_k)) {
        throw std::invalid_argument("miso_channel_kernel: noise_var has " +
                                    std::to_string(noise_var.size()) +
                                    " entries, expected K=" + std::to_string(d_k));
    }
    for (double v : noise_var) {
        if (!std::isfinite(v) || v < 0.0) {
            throw std::invalid_argument(
                "miso_channel_kernel: noise variances must be finite and non-negative");
        }
    }
    d_noise_var = noise_var;
}

void miso_channel_kernel::redraw_rayleigh()
{
    std::vector<gr_complex> h(d_h0.size());
    for (int i = 0; i < d_k; i++) {
        double g = 0.0;
        for (int a = 0; a < d_n_t; a++) {
            g += std::norm(d_h0[static_cast<size_t>(i) * d_n_t + a]);
        }
        const double var = g / d_n_t;
        for (int a = 0; a < d_n_t; a++) {
            h[static_cast<size_t>(i) * d_n_t + a] = d_fading_rng.cn(var);
        }
    }
    apply_h(h);
}

void miso_channel_kernel::process(const gr_complex* const* in,
                                  gr_complex* const* out,
                                  size_t n)
{
    d_mix.process(in, out, n);
    for (int i = 0; i < d_k; i++) {
        if (d_noise_var[i] > 0.0) {
            d_noise_rng[i].add_cn(out[i], n, static_cast<float>(d_noise_var[i]));
        }
    }
}

} // namespace semdacom
} // namespace gr
