/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "box_muller.h"
#include <gnuradio/semdacom/gaussian_rng.h>
#include <cmath>

namespace gr {
namespace semdacom {

namespace {
inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
inline uint64_t splitmix64(uint64_t& x)
{
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
} // namespace

gaussian_rng::gaussian_rng(uint64_t s) { seed(s); }

void gaussian_rng::seed(uint64_t s)
{
    uint64_t x = s;
    for (auto& w : d_s) {
        w = splitmix64(x);
    }
}

uint64_t gaussian_rng::next()
{
    const uint64_t result = d_s[0] + d_s[3];
    const uint64_t t = d_s[1] << 17;
    d_s[2] ^= d_s[0];
    d_s[3] ^= d_s[1];
    d_s[1] ^= d_s[2];
    d_s[0] ^= d_s[3];
    d_s[2] ^= t;
    d_s[3] = rotl(d_s[3], 45);
    return result;
}

double gaussian_rng::uniform()
{
    // 53 random bits -> (0, 1]
    return (static_cast<double>(next() >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

gr_complex gaussian_rng::cn(double variance)
{
    const double r = std::sqrt(-variance * std::log(uniform()));
    const double th = 2.0 * M_PI * uniform();
    return gr_complex(static_cast<float>(r * std::cos(th)),
                      static_cast<float>(r * std::sin(th)));
}

void gaussian_rng::add_cn(gr_complex* out, size_t n, float variance)
{
    // Box-Muller in blocks: fill uniforms first (serial), then transform (vectorised C).
    constexpr size_t block = 256;
    float u1[block], u2[block];
    float* o = reinterpret_cast<float*>(out);
    for (size_t t0 = 0; t0 < n; t0 += block) {
        const size_t m = (n - t0 < block) ? n - t0 : block;
        for (size_t j = 0; j < m; j++) {
            const uint64_t r = next();
            // two 24-bit uniforms from one 64-bit draw; u1 in (0, 1]
            u1[j] =
                (static_cast<float>((r >> 40) & 0xFFFFFF) + 1.0f) * (1.0f / 16777216.0f);
            u2[j] = static_cast<float>((r >> 8) & 0xFFFFFF) * (1.0f / 16777216.0f);
        }
        semdacom_box_muller(u1, u2, m, variance);
        for (size_t j = 0; j < m; j++) {
            o[2 * (t0 + j)] += u1[j];
            o[2 * (t0 + j) + 1] += u2[j];
        }
    }
}

} // namespace semdacom
} // namespace gr
