/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Layered min-sum with GCC vector extensions: one 16-float vector per variable or edge
 * holds the same quantity for 16 codewords, so the loops compile to AVX-512 (one
 * register) or AVX2 (two) with -march=native, and to SSE2 otherwise.
 */

#include <gnuradio/semdacom/ldpc_decoder.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace gr {
namespace semdacom {

namespace {
typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));
constexpr int W = ldpc_decoder::LANES;
static_assert(sizeof(vf) == W * sizeof(float), "lane count");

inline vf splat(float x) { return vf{} + x; }
inline vi isplat(int32_t x) { return vi{} + x; }
inline vi bits_of(vf x)
{
    vi r;
    std::memcpy(&r, &x, sizeof r);
    return r;
}
inline vf float_of(vi x)
{
    vf r;
    std::memcpy(&r, &x, sizeof r);
    return r;
}
inline vf vmin(vf a, vf b) { return a < b ? a : b; }
inline vf vmax(vf a, vf b) { return a > b ? a : b; }
} // namespace

struct ldpc_decoder::impl {
    std::vector<vf> L;   // n posteriors
    std::vector<vf> R;   // edges check-to-variable messages
    std::vector<vf> T;   // max row degree scratch
    std::vector<int> ci; // column of each edge
    std::vector<int> rp; // row pointers
};

ldpc_decoder::ldpc_decoder(const ldpc_code& code,
                           int max_iterations,
                           float alpha,
                           float beta)
    : d_code(code), d_max_iter(1), d_alpha(0.75f), d_beta(0.0f), d_impl(new impl)
{
    set_max_iterations(max_iterations);
    set_scaling(alpha, beta);
    d_impl->L.resize(d_code.n());
    d_impl->R.resize(d_code.edges());
    d_impl->T.resize(std::max(d_code.max_row_degree(), 1));
    d_impl->ci = d_code.col_idx();
    d_impl->rp = d_code.row_ptr();
}

ldpc_decoder::~ldpc_decoder() = default;

void ldpc_decoder::set_max_iterations(int it)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    if (it < 1 || it > 10000) {
        throw std::invalid_argument("max_iterations must be in [1, 10000]");
    }
    d_max_iter = it;
}

void ldpc_decoder::set_scaling(float alpha, float beta)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    if (!(alpha > 0.0f && alpha <= 1.0f) || !(beta >= 0.0f && beta < 1.0e6f)) {
        throw std::invalid_argument("need 0 < alpha <= 1 and beta >= 0");
    }
    d_alpha = alpha;
    d_beta = beta;
}

int ldpc_decoder::decode(
    const float* llr, uint8_t* bits, int n_cw, int32_t* iterations, uint8_t* ok)
{
    if (n_cw < 0) {
        throw std::invalid_argument("n_cw must be >= 0");
    }
    std::lock_guard<std::mutex> lock(d_mutex);
    const int n = d_code.n();
    const int m = d_code.m();
    const float clip = llr_clip();
    const vf vclip = splat(8.0f * clip);
    const vf nclip = splat(-8.0f * clip);
    const vf valpha = splat(d_alpha);
    const vf vbeta = splat(d_beta);
    const vf zero = splat(0.0f);
    const vi sign_mask = isplat(static_cast<int32_t>(0x80000000u));
    const vi abs_mask = isplat(0x7fffffff);
    vf* L = d_impl->L.data();
    vf* R = d_impl->R.data();
    vf* T = d_impl->T.data();
    const int* ci = d_impl->ci.data();
    const int* rp = d_impl->rp.data();
    int n_ok = 0;

    for (int b0 = 0; b0 < n_cw; b0 += W) {
        const int lanes = std::min(W, n_cw - b0);
        // Load: transpose codeword-major input into variable-major vectors; unused
        // lanes hold the all-zero codeword so that they never hold back termination.
        for (int v = 0; v < n; v++) {
            vf x = splat(clip);
            for (int l = 0; l < lanes; l++) {
                float y = llr[static_cast<size_t>(b0 + l) * n + v];
                if (std::isnan(y)) {
                    y = 0.0f;
                }
                x[l] = std::min(std::max(y, -clip), clip);
            }
            L[v] = x;
        }
        std::fill(d_impl->R.begin(), d_impl->R.end(), zero);

        bool done[W] = { false };
        int32_t its[W];
        int remaining = lanes;
        for (int it = 0; it <= d_max_iter && remaining > 0; it++) {
            if (it > 0) {
                for (int r = 0; r < m; r++) {
                    const int e0 = rp[r], deg = rp[r + 1] - rp[r];
                    vf min1 = splat(3.0e38f), min2 = splat(3.0e38f);
                    vi idx = isplat(0), sgn = isplat(0);
                    for (int j = 0; j < deg; j++) {
                        const vf t = L[ci[e0 + j]] - R[e0 + j];
                        T[j] = t;
                        const vi tb = bits_of(t);
                        sgn ^= tb & sign_mask;
                        const vf a = float_of(tb & abs_mask);
                        const vi lt1 = a < min1;
                        min2 = lt1 ? min1 : vmin(a, min2);
                        min1 = lt1 ? a : min1;
                        idx = lt1 ? isplat(j) : idx;
                    }
                    const vf m1 = vmax(valpha * min1 - vbeta, zero);
                    const vf m2 = vmax(valpha * min2 - vbeta, zero);
                    for (int j = 0; j < deg; j++) {
                        const vf t = T[j];
                        const vf mag = idx == isplat(j) ? m2 : m1;
                        const vi s = sgn ^ (bits_of(t) & sign_mask);
                        const vf rr = float_of(bits_of(mag) | s);
                        R[e0 + j] = rr;
                        L[ci[e0 + j]] = vmin(vmax(t + rr, nclip), vclip);
                    }
                }
            }
            // Syndrome of the hard decisions (sign bits), per lane.
            vi unsat = isplat(0);
            for (int r = 0; r < m; r++) {
                vi s = isplat(0);
                for (int e = rp[r]; e < rp[r + 1]; e++) {
                    s ^= bits_of(L[ci[e]]);
                }
                unsat |= s;
            }
            for (int l = 0; l < lanes; l++) {
                if (done[l] || unsat[l] < 0) {
                    continue;
                }
                done[l] = true;
                its[l] = it;
                remaining--;
                uint8_t* out = bits + static_cast<size_t>(b0 + l) * n;
                for (int v = 0; v < n; v++) {
                    out[v] = L[v][l] < 0.0f || std::signbit(L[v][l]) ? 1 : 0;
                }
            }
        }
        for (int l = 0; l < lanes; l++) {
            if (!done[l]) {
                its[l] = d_max_iter;
                uint8_t* out = bits + static_cast<size_t>(b0 + l) * n;
                for (int v = 0; v < n; v++) {
                    out[v] = std::signbit(L[v][l]) ? 1 : 0;
                }
            } else {
                n_ok++;
            }
            if (iterations) {
                iterations[b0 + l] = its[l];
            }
            if (ok) {
                ok[b0 + l] = done[l] ? 1 : 0;
            }
        }
    }
    return n_ok;
}

} // namespace semdacom
} // namespace gr
