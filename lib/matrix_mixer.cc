/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gnuradio/semdacom/matrix_mixer.h>
#include <cmath>
#include <stdexcept>
#include <string>

namespace gr {
namespace semdacom {

matrix_mixer::matrix_mixer(int rows, int cols) : d_rows(rows), d_cols(cols)
{
    if (rows < 1 || cols < 1) {
        throw std::invalid_argument("matrix_mixer: rows and cols must be >= 1");
    }
    d_re.assign(static_cast<size_t>(rows) * cols, 0.0f);
    d_im.assign(static_cast<size_t>(rows) * cols, 0.0f);
}

void matrix_mixer::set_matrix(const std::vector<gr_complex>& m)
{
    const size_t need = static_cast<size_t>(d_rows) * d_cols;
    if (m.size() != need) {
        throw std::invalid_argument("matrix_mixer: got " + std::to_string(m.size()) +
                                    " coefficients, expected " + std::to_string(need));
    }
    for (const auto& c : m) {
        if (!std::isfinite(c.real()) || !std::isfinite(c.imag())) {
            throw std::invalid_argument("matrix_mixer: coefficients must be finite");
        }
    }
    for (size_t j = 0; j < need; j++) {
        d_re[j] = m[j].real();
        d_im[j] = m[j].imag();
    }
}

gr_complex matrix_mixer::at(int r, int s) const
{
    const size_t idx = static_cast<size_t>(r) * d_cols + s;
    return gr_complex(d_re.at(idx), d_im.at(idx));
}

void matrix_mixer::process(const gr_complex* const* in,
                           gr_complex* const* out,
                           size_t n) const
{
    // Time in chunks small enough that every input chunk stays in L1 while all
    // output rows are accumulated from it: each input sample is read from memory
    // once. The interleaved complex multiply-accumulate vectorises (SLP); built with
    // -march=native by default (CMake option SEMDACOM_NATIVE) it uses AVX2/FMA.
    const size_t chunk = d_cols <= 4 ? 1024 : 256;
    for (size_t t0 = 0; t0 < n; t0 += chunk) {
        const size_t m = (t0 + chunk < n) ? chunk : n - t0;
        for (int r = 0; r < d_rows; r++) {
            float* __restrict o = reinterpret_cast<float*>(out[r] + t0);
            const float* cre = &d_re[static_cast<size_t>(r) * d_cols];
            const float* cim = &d_im[static_cast<size_t>(r) * d_cols];
            {
                const float* __restrict x = reinterpret_cast<const float*>(in[0] + t0);
                const float cr = cre[0], ci = cim[0];
                for (size_t t = 0; t < 2 * m; t += 2) {
                    const float xr = x[t], xi = x[t + 1];
                    o[t] = cr * xr - ci * xi;
                    o[t + 1] = cr * xi + ci * xr;
                }
            }
            for (int s = 1; s < d_cols; s++) {
                const float* __restrict x = reinterpret_cast<const float*>(in[s] + t0);
                const float cr = cre[s], ci = cim[s];
                for (size_t t = 0; t < 2 * m; t += 2) {
                    const float xr = x[t], xi = x[t + 1];
                    o[t] += cr * xr - ci * xi;
                    o[t + 1] += cr * xi + ci * xr;
                }
            }
        }
    }
}

} // namespace semdacom
} // namespace gr
