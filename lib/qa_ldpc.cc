/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Unit tests of the LDPC kernels (run by ctest).
 */

#include <gnuradio/semdacom/ldpc_code.h>
#include <gnuradio/semdacom/ldpc_decoder.h>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace gr::semdacom;

namespace {
// A small staircase quasi-cyclic code: 3 x 6 base matrix, info columns then the
// dual-diagonal parity part.
ldpc_code small_qc(int z)
{
    const std::vector<int> shifts = { 0, 3, 5, 0,  -1, -1, //
                                      2, 0, 7, 0,  0,  -1, //
                                      6, 1, 0, -1, 0,  0 };
    return ldpc_code::from_qc(3, 6, z, shifts);
}

std::vector<uint8_t> random_bits(std::mt19937& g, size_t n)
{
    std::vector<uint8_t> v(n);
    for (auto& b : v) {
        b = g() & 1;
    }
    return v;
}
} // namespace

BOOST_AUTO_TEST_CASE(qc_code_is_triangular_and_encodes_codewords)
{
    auto c = small_qc(17);
    BOOST_CHECK(c.triangular());
    BOOST_CHECK_EQUAL(c.n(), 6 * 17);
    BOOST_CHECK_EQUAL(c.k(), 3 * 17);
    std::mt19937 g(1);
    const int ncw = 5;
    auto info = random_bits(g, ncw * c.k());
    std::vector<uint8_t> cw(ncw * c.n());
    c.encode(info.data(), cw.data(), ncw);
    for (int b = 0; b < ncw; b++) {
        BOOST_CHECK_EQUAL(c.syndrome_weight(&cw[b * c.n()]), 0);
        for (int i = 0; i < c.k(); i++) {
            BOOST_CHECK_EQUAL(cw[b * c.n() + c.info_positions()[i]], info[b * c.k() + i]);
        }
    }
}

BOOST_AUTO_TEST_CASE(alist_roundtrip_and_dense_encoder)
{
    // Columns in reverse order: the pivots are not the last columns, so the
    // dense Gauss-Jordan encoder is used.
    auto q = small_qc(11);
    std::vector<std::vector<int>> rows(q.m());
    for (int r = 0; r < q.m(); r++) {
        for (int e = q.row_ptr()[r]; e < q.row_ptr()[r + 1]; e++) {
            rows[r].push_back(q.n() - 1 - q.col_idx()[e]);
        }
    }
    ldpc_code c(q.n(), rows);
    BOOST_CHECK(!c.triangular());
    auto c2 = ldpc_code::from_alist_text(c.to_alist());
    BOOST_CHECK_EQUAL(c2.n(), c.n());
    BOOST_CHECK_EQUAL(c2.k(), c.k());
    BOOST_CHECK(c2.col_idx() == c.col_idx());
    std::mt19937 g(2);
    auto info = random_bits(g, 3 * c.k());
    std::vector<uint8_t> cw(3 * c.n());
    c.encode(info.data(), cw.data(), 3);
    for (int b = 0; b < 3; b++) {
        BOOST_CHECK_EQUAL(c.syndrome_weight(&cw[b * c.n()]), 0);
    }
    BOOST_CHECK_THROW(ldpc_code::from_alist_text("3 2\n1 2\n"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(decoder_corrects_noise_and_survives_bad_llrs)
{
    auto c = small_qc(64);
    ldpc_decoder dec(c, 30);
    std::mt19937 g(3);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const int ncw = 37; // not a multiple of the lane count
    auto info = random_bits(g, ncw * c.k());
    std::vector<uint8_t> cw(ncw * c.n());
    c.encode(info.data(), cw.data(), ncw);
    // BPSK at Eb/N0 = 7 dB (a small toy code), rate 1/2: sigma^2 = 1 / (2 R Eb/N0).
    const float sigma = std::sqrt(1.0f / std::pow(10.0f, 0.7f));
    std::vector<float> llr(cw.size());
    for (size_t i = 0; i < cw.size(); i++) {
        float y = (cw[i] ? -1.0f : 1.0f) + sigma * nd(g);
        llr[i] = 2.0f * y / (sigma * sigma);
    }
    std::vector<uint8_t> out(cw.size());
    std::vector<int32_t> its(ncw);
    std::vector<uint8_t> ok(ncw);
    int n_ok = dec.decode(llr.data(), out.data(), ncw, its.data(), ok.data());
    BOOST_CHECK_EQUAL(n_ok, ncw);
    BOOST_CHECK(out == cw);

    const float bad[] = { std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(),
                          3.0e38f,
                          -3.0e38f,
                          0.0f,
                          -0.0f };
    for (size_t i = 0; i < llr.size(); i++) {
        llr[i] = bad[(i * 7 + i / 5) % 7];
    }
    dec.decode(llr.data(), out.data(), ncw, its.data(), ok.data());
    for (auto b : out) {
        BOOST_CHECK(b == 0 || b == 1);
    }
    for (auto it : its) {
        BOOST_CHECK(it >= 0 && it <= 30);
    }
}
