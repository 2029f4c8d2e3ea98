/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gnuradio/semdacom/dc_blocker_kernel.h>
#include <cmath>
#include <stdexcept>
#include <string>

namespace gr {
namespace semdacom {

dc_blocker_kernel::dc_blocker_kernel(int length, bool long_form)
    : d_length(length), d_long_form(long_form), d_scale(1.0 / length)
{
    if (length < 2) {
        throw std::invalid_argument("dc_blocker: length must be >= 2, got " +
                                    std::to_string(length));
    }
    const size_t n = static_cast<size_t>(length) - 1;
    for (auto& m : d_ma) {
        m.ring.assign(n, std::complex<float>(0, 0));
    }
    if (long_form) {
        d_delay.assign(n, std::complex<float>(0, 0));
    }
}

inline std::complex<float> dc_blocker_kernel::average(moving_sum& m,
                                                      std::complex<float> x)
{
    // y[n] = x[n] - x[n - D] + y[n - 1]: x[n - D] is the input that left the ring at the
    // previous call (m.delayed), the one leaving now is x[n - D + 1]
    const std::complex<float> gone = m.delayed;
    m.delayed = m.ring[m.pos];
    m.ring[m.pos] = x;
    m.sum += std::complex<double>(x) - std::complex<double>(gone);
    if (++m.pos == m.ring.size()) {
        // re-formed from the window x[n - D + 1 .. n]: what left it is forgotten exactly
        m.pos = 0;
        std::complex<double> s(m.delayed);
        for (const auto& v : m.ring) {
            s += std::complex<double>(v);
        }
        m.sum = s;
    }
    return std::complex<float>(m.sum * d_scale);
}

// a sample that is not finite is junk: 0 in the windows (as in the Schmidl-Cox metric)
static inline std::complex<float> finite_or_zero(std::complex<float> x)
{
    return std::isfinite(x.real()) && std::isfinite(x.imag()) ? x
                                                              : std::complex<float>(0, 0);
}

void dc_blocker_kernel::filter(const std::complex<float>* in,
                               std::complex<float>* out,
                               size_t n)
{
    if (d_long_form) {
        const size_t nd = d_delay.size();
        for (size_t i = 0; i < n; i++) {
            const std::complex<float> y1 = average(d_ma[0], finite_or_zero(in[i]));
            const std::complex<float> y2 = average(d_ma[1], y1);
            const std::complex<float> y3 = average(d_ma[2], y2);
            const std::complex<float> y4 = average(d_ma[3], y3);
            // x[n - (D - 1)] delayed by D - 1 more
            const std::complex<float> d = d_delay[d_delay_pos];
            d_delay[d_delay_pos] = d_ma[0].delayed;
            if (++d_delay_pos == nd) {
                d_delay_pos = 0;
            }
            out[i] = d - y4;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            const std::complex<float> y1 = average(d_ma[0], finite_or_zero(in[i]));
            const std::complex<float> y2 = average(d_ma[1], y1);
            out[i] = d_ma[0].delayed - y2;
        }
    }
}

} // namespace semdacom
} // namespace gr
