/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_LDPC_DECODER_H
#define INCLUDED_SEMDACOM_LDPC_DECODER_H

#include <gnuradio/semdacom/api.h>
#include <gnuradio/semdacom/ldpc_code.h>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace gr {
namespace semdacom {

/*!
 * \brief Layered (row-serial) normalised/offset min-sum LDPC decoder, SIMD across
 * codewords.
 *
 * Each check row of H is one layer: for the edges e = (r, v) of row r,
 * t_v = L_v - R_e; R_e <- sign * max(alpha * min_{v' != v} |t_v'| - beta, 0);
 * L_v <- t_v + R_e. lanes() = 16 codewords are decoded together, one float lane each,
 * so every operation is a 16-wide vector operation whatever the code (alist or
 * quasi-cyclic). After each iteration the syndrome of the hard decisions is checked
 * per codeword; a codeword whose syndrome is zero keeps that word (early termination)
 * and the batch stops when all its codewords are done.
 *
 * LLR convention: L = log P(bit = 0) / P(bit = 1) (positive means 0). Inputs are
 * sanitised: NaN counts as 0 (an erasure), +-inf and huge values are clipped to
 * +-llr_clip(); posteriors stay within +-8 llr_clip().
 *
 * decode() is serialised by a mutex (the message buffers are per object), so one decoder
 * may be shared between threads, e.g. by several blocks using the same cached code.
 */
class SEMDACOM_API ldpc_decoder
{
public:
    static constexpr int LANES = 16;

    ldpc_decoder(const ldpc_code& code,
                 int max_iterations = 20,
                 float alpha = 0.75f,
                 float beta = 0.0f);
    ~ldpc_decoder();
    ldpc_decoder(const ldpc_decoder&) = delete;
    ldpc_decoder& operator=(const ldpc_decoder&) = delete;

    const ldpc_code& code() const { return d_code; }
    int max_iterations() const { return d_max_iter; }
    void set_max_iterations(int it);
    float alpha() const { return d_alpha; }
    float beta() const { return d_beta; }
    void set_scaling(float alpha, float beta);
    static int lanes() { return LANES; }
    static float llr_clip() { return 1.0e6f; }

    /*!
     * llr: n_cw * n LLRs, codeword-major. bits: n_cw * n hard decisions (0/1).
     * iterations (optional, n_cw): iterations run until the syndrome was zero
     * (0 when the input already was a codeword), max_iterations on failure.
     * ok (optional, n_cw): 1 when the syndrome of the output is zero.
     * Returns the number of codewords whose syndrome is zero.
     */
    int decode(const float* llr,
               uint8_t* bits,
               int n_cw,
               int32_t* iterations = nullptr,
               uint8_t* ok = nullptr);

private:
    struct impl;
    ldpc_code d_code;
    int d_max_iter;
    float d_alpha;
    float d_beta;
    std::unique_ptr<impl> d_impl;
    std::mutex d_mutex;
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_LDPC_DECODER_H */
