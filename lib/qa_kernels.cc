/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Unit tests of the plain C++ kernels (run by ctest).
 */

#include <gnuradio/semdacom/allocation_schedule.h>
#include <gnuradio/semdacom/dc_blocker_kernel.h>
#include <gnuradio/semdacom/gaussian_rng.h>
#include <gnuradio/semdacom/miso_channel_kernel.h>
#include <gnuradio/semdacom/superposition_kernel.h>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <complex>
#include <vector>

using namespace gr::semdacom;

namespace {
std::vector<gr_complex> random_vec(gaussian_rng& g, size_t n)
{
    std::vector<gr_complex> v(n);
    for (auto& x : v) {
        x = g.cn(1.0);
    }
    return v;
}

std::vector<gr_complex> unit_beams(gaussian_rng& g, int k, int n_t)
{
    auto w = random_vec(g, static_cast<size_t>(k) * n_t);
    for (int i = 0; i < k; i++) {
        double s = 0;
        for (int a = 0; a < n_t; a++) {
            s += std::norm(w[i * n_t + a]);
        }
        for (int a = 0; a < n_t; a++) {
            w[i * n_t + a] /= static_cast<float>(std::sqrt(s));
        }
    }
    return w;
}
} // namespace

BOOST_AUTO_TEST_CASE(superposition_matches_eq5)
{
    gaussian_rng g(1);
    for (int k : { 1, 2, 3, 8 }) {
        for (int n_t : { 1, 2, 4, 8 }) {
            const size_t n = 3000; // not a multiple of the chunk size
            superposition_kernel sk(k, n_t);
            std::vector<double> p(k);
            for (int i = 0; i < k; i++) {
                p[i] = 0.1 + i;
            }
            auto w = unit_beams(g, k, n_t);
            sk.set_allocation(p, w);
            std::vector<std::vector<gr_complex>> in(k),
                out(n_t, std::vector<gr_complex>(n));
            std::vector<const gr_complex*> pi(k);
            std::vector<gr_complex*> po(n_t);
            for (int i = 0; i < k; i++) {
                in[i] = random_vec(g, n);
                pi[i] = in[i].data();
            }
            for (int a = 0; a < n_t; a++) {
                po[a] = out[a].data();
            }
            sk.process(pi.data(), po.data(), n);
            for (size_t t = 0; t < n; t += 97) {
                for (int a = 0; a < n_t; a++) {
                    std::complex<double> ref = 0;
                    for (int i = 0; i < k; i++) {
                        ref += std::sqrt(p[i]) * std::complex<double>(w[i * n_t + a]) *
                               std::complex<double>(in[i][t]);
                    }
                    BOOST_CHECK_SMALL(std::abs(ref - std::complex<double>(out[a][t])),
                                      1e-4);
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(superposition_rejects_bad_allocation)
{
    superposition_kernel sk(2, 2);
    std::vector<gr_complex> w(4, gr_complex(0.7071f, 0));
    BOOST_CHECK_THROW(sk.set_allocation({ 1.0 }, w), std::invalid_argument);
    BOOST_CHECK_THROW(sk.set_allocation({ 1.0, -1.0 }, w), std::invalid_argument);
    BOOST_CHECK_THROW(sk.set_allocation({ 1.0, NAN }, w), std::invalid_argument);
    BOOST_CHECK_THROW(sk.set_allocation({ 1.0, 1.0 }, std::vector<gr_complex>(3)),
                      std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(channel_noise_variance_and_mixing)
{
    const int k = 2, n_t = 2;
    miso_channel_kernel ch(k, n_t, 7);
    std::vector<gr_complex> h = { { 1, 0 }, { 0, 1 }, { 0.5f, 0.5f }, { -1, 0 } };
    ch.set_channel(h);
    ch.set_noise_var({ 0.5, 2.0 });
    const size_t n = 200000;
    std::vector<gr_complex> x0(n, gr_complex(0, 0)), x1(n, gr_complex(0, 0));
    std::vector<gr_complex> y0(n), y1(n);
    const gr_complex* pi[2] = { x0.data(), x1.data() };
    gr_complex* po[2] = { y0.data(), y1.data() };
    ch.process(pi, po, n);
    double m0 = 0, m1 = 0;
    std::complex<double> mean0 = 0;
    for (size_t t = 0; t < n; t++) {
        m0 += std::norm(y0[t]);
        m1 += std::norm(y1[t]);
        mean0 += std::complex<double>(y0[t]);
    }
    BOOST_CHECK_CLOSE(m0 / n, 0.5, 2.0); // percent
    BOOST_CHECK_CLOSE(m1 / n, 2.0, 2.0);
    BOOST_CHECK_SMALL(std::abs(mean0 / double(n)), 0.01);

    // noiseless mixing: y_i = h_i^H x
    ch.set_noise_var({ 0.0, 0.0 });
    std::vector<gr_complex> a(4, gr_complex(1, 2)), b(4, gr_complex(-1, 0.5f));
    std::vector<gr_complex> z0(4), z1(4);
    const gr_complex* qi[2] = { a.data(), b.data() };
    gr_complex* qo[2] = { z0.data(), z1.data() };
    ch.process(qi, qo, 4);
    const auto ref0 = std::conj(h[0]) * a[0] + std::conj(h[1]) * b[0];
    const auto ref1 = std::conj(h[2]) * a[0] + std::conj(h[3]) * b[0];
    BOOST_CHECK_SMALL(std::abs(ref0 - z0[0]), 1e-6f);
    BOOST_CHECK_SMALL(std::abs(ref1 - z1[0]), 1e-6f);
}

BOOST_AUTO_TEST_CASE(rayleigh_keeps_mean_gain)
{
    miso_channel_kernel ch(2, 4, 3);
    std::vector<gr_complex> h(8, gr_complex(0, 0));
    h[0] = gr_complex(2, 0); // ||h_1||^2 = 4
    h[4] = gr_complex(0, 1); // ||h_2||^2 = 1
    ch.set_channel(h);
    double g1 = 0, g2 = 0;
    const int draws = 4000;
    for (int d = 0; d < draws; d++) {
        ch.redraw_rayleigh();
        for (int a = 0; a < 4; a++) {
            g1 += std::norm(ch.h()[a]);
            g2 += std::norm(ch.h()[4 + a]);
        }
    }
    BOOST_CHECK_CLOSE(g1 / draws, 4.0, 5.0);
    BOOST_CHECK_CLOSE(g2 / draws, 1.0, 5.0);
    BOOST_CHECK(ch.nominal_h() == h);
}

BOOST_AUTO_TEST_CASE(schedule_applies_at_frames_in_order)
{
    allocation_schedule s({ 1.0, 1.0 }, std::vector<gr_complex>(4));
    beam_allocation a, b;
    a.seq = 1;
    a.apply_frame = 3;
    a.has_power = true;
    a.power = { 0.5, 0.5 };
    b.seq = 2;
    b.apply_frame = 5;
    b.has_power = true;
    b.power = { 2.0, 0.0 };
    s.push(a);
    s.push(b);
    BOOST_CHECK(!s.on_frame(2));
    BOOST_CHECK(s.on_frame(3));
    BOOST_CHECK_EQUAL(s.power()[0], 0.5);
    BOOST_CHECK_EQUAL(s.applied_seq(), 1u);
    BOOST_CHECK(!s.on_frame(4));
    BOOST_CHECK(s.on_frame(9)); // first boundary at or after apply_frame
    BOOST_CHECK_EQUAL(s.power()[0], 2.0);
    BOOST_CHECK_EQUAL(s.pending(), 0u);
}

BOOST_AUTO_TEST_CASE(schedule_greater_seq_wins_and_new_epoch_resets)
{
    // issue 24: seq 3 for frame 20, then seq 4 for frame 15: seq 4 stays in force
    allocation_schedule s({ 1.0 }, std::vector<gr_complex>(1, gr_complex(1, 0)));
    beam_allocation a;
    a.has_power = true;
    a.seq = 3;
    a.apply_frame = 20;
    a.power = { 7.0 };
    BOOST_CHECK(s.push(a));
    a.seq = 4;
    a.apply_frame = 15;
    a.power = { 8.0 };
    BOOST_CHECK(s.push(a));
    BOOST_CHECK_EQUAL(s.pending(), 1u);
    BOOST_CHECK_EQUAL(s.superseded(), 1u);
    BOOST_CHECK(s.on_frame(25));
    BOOST_CHECK_EQUAL(s.power()[0], 8.0);
    // a restarted publisher: new epoch, seq from 1
    a.epoch = 99;
    a.seq = 1;
    a.apply_frame = 30;
    a.power = { 9.0 };
    std::string why;
    BOOST_CHECK(s.push(a, &why));
    BOOST_CHECK_EQUAL(s.epoch(), 99u);
    BOOST_CHECK_EQUAL(s.epoch_resets(), 1u);
    a.epoch = 0; // retired
    a.seq = 100;
    BOOST_CHECK(!s.push(a, &why));
    BOOST_CHECK(why.find("retired") != std::string::npos);
    // the bound
    a.epoch = 99;
    for (uint64_t i = 0; i < 100; i++) {
        a.seq = 2 + i;
        a.apply_frame = 1000 + i;
        s.push(a);
    }
    BOOST_CHECK_EQUAL(s.pending(), allocation_schedule::MAX_PENDING);
    BOOST_CHECK_EQUAL(s.dropped_full(), 101u - allocation_schedule::MAX_PENDING);
}

BOOST_AUTO_TEST_CASE(parser_rejects_malformed)
{
    beam_allocation out;
    std::string why;
    BOOST_CHECK(!parse_beam_allocation(pmt::from_long(3), 2, 2, out, why));
    BOOST_CHECK(!parse_beam_allocation(pmt::make_dict(), 2, 2, out, why)); // no seq
    auto pdu = pmt::cons(pmt::make_dict(), pmt::make_u8vector(3, 0));
    BOOST_CHECK(!parse_beam_allocation(pdu, 2, 2, out, why));
    pmt::pmt_t d =
        pmt::dict_add(pmt::make_dict(), pmt::intern("seq"), pmt::from_uint64(4));
    BOOST_CHECK(parse_beam_allocation(d, 2, 2, out, why));
    BOOST_CHECK(!out.has_power && !out.has_w);
    auto bad =
        pmt::dict_add(d, pmt::intern("power"), pmt::init_f64vector(3, { 1, 1, 1 }));
    BOOST_CHECK(!parse_beam_allocation(bad, 2, 2, out, why));
    std::vector<std::complex<double>> w = { 1, 0, 0, 2.0 };
    bad = pmt::dict_add(d, pmt::intern("w"), pmt::init_c64vector(4, w));
    BOOST_CHECK(!parse_beam_allocation(bad, 2, 2, out, why));
    w[3] = 1.0;
    auto good = pmt::dict_add(d, pmt::intern("w"), pmt::init_c64vector(4, w));
    BOOST_CHECK(parse_beam_allocation(good, 2, 2, out, why));
    BOOST_CHECK(out.has_w && out.seq == 4);
}

BOOST_AUTO_TEST_CASE(schedule_takes_only_newer_seq)
{
    allocation_schedule s({ 1.0 }, std::vector<gr_complex>(1, gr_complex(1, 0)));
    beam_allocation a;
    a.has_power = true;
    a.power = { 2.0 };
    a.seq = 5;
    BOOST_CHECK(s.push(a));
    BOOST_CHECK(!s.push(a)); // equal seq
    a.seq = 4;
    BOOST_CHECK(!s.push(a)); // older seq
    BOOST_CHECK_EQUAL(s.pending(), 1u);
    BOOST_CHECK_EQUAL(s.last_seq(), 5u);
    s.push_local(a); // from code: no seq of its own, the newest decision (supersedes)
    BOOST_CHECK_EQUAL(s.pending(), 1u);
    BOOST_CHECK_EQUAL(s.superseded(), 1u);
    BOOST_CHECK_EQUAL(s.last_seq(), 5u);
}

BOOST_AUTO_TEST_CASE(parser_bounds_power_and_beam_tolerance)
{
    beam_allocation out;
    std::string why;
    pmt::pmt_t d =
        pmt::dict_add(pmt::make_dict(), pmt::intern("seq"), pmt::from_uint64(1));
    auto huge =
        pmt::dict_add(d, pmt::intern("power"), pmt::init_f64vector(2, { 1e80, 0.1 }));
    BOOST_CHECK(!parse_beam_allocation(huge, 2, 2, out, why));
    auto top = pmt::dict_add(
        d, pmt::intern("power"), pmt::init_f64vector(2, { MAX_POWER_W, 0.0 }));
    BOOST_CHECK(parse_beam_allocation(top, 2, 2, out, why));
    // off unit norm by 5e-5: inside the c32 tolerance, outside the c64 one
    const float f = 1.0f + 5e-5f;
    std::vector<gr_complex> w32 = { f, 0, 0, f };
    auto c32 = pmt::dict_add(d, pmt::intern("w"), pmt::init_c32vector(4, w32));
    BOOST_CHECK(parse_beam_allocation(c32, 2, 2, out, why));
    std::vector<std::complex<double>> w64 = { 1.0 + 5e-5, 0, 0, 1.0 + 5e-5 };
    auto c64 = pmt::dict_add(d, pmt::intern("w"), pmt::init_c64vector(4, w64));
    BOOST_CHECK(!parse_beam_allocation(c64, 2, 2, out, why));
}

namespace {
// out[n] = x[n - 2(D-1)] - ma^4 x[n] (long) or x[n - (D-1)] - ma^2 x[n] (short), each
// moving average of length D formed directly from its window, in double precision
std::vector<std::complex<double>>
dc_reference(const std::vector<gr_complex>& x, int D, bool lf)
{
    const size_t n = x.size();
    std::vector<std::complex<double>> u(x.begin(), x.end()), v(n);
    const int stages = lf ? 4 : 2;
    for (int s = 0; s < stages; s++) {
        for (size_t i = 0; i < n; i++) {
            std::complex<double> acc = 0;
            for (int j = 0; j < D && static_cast<size_t>(j) <= i; j++) {
                acc += u[i - j];
            }
            v[i] = acc / static_cast<double>(D);
        }
        u.swap(v);
    }
    const size_t delay = lf ? 2 * (D - 1) : D - 1;
    std::vector<std::complex<double>> out(n);
    for (size_t i = 0; i < n; i++) {
        const std::complex<double> d =
            i >= delay ? std::complex<double>(x[i - delay]) : std::complex<double>(0);
        out[i] = d - u[i];
    }
    return out;
}
} // namespace

BOOST_AUTO_TEST_CASE(dc_blocker_is_yates_and_does_not_depend_on_the_cut)
{
    gaussian_rng g(5);
    for (bool lf : { true, false }) {
        for (int D : { 2, 3, 32, 100 }) {
            const size_t n = 2000;
            auto x = random_vec(g, n);
            for (size_t i = 0; i < n; i++) {
                x[i] += gr_complex(3.0f, -2.0f); // the DC to remove
            }
            dc_blocker_kernel whole(D, lf), parts(D, lf);
            BOOST_CHECK_EQUAL(whole.group_delay(), lf ? 2 * D - 2 : D - 1);
            std::vector<gr_complex> a(n), b(n);
            whole.filter(x.data(), a.data(), n);
            // the same stream in uneven pieces (1, 7, 63, ...) and in place: the same
            // bits
            b = x;
            size_t at = 0, len = 1;
            while (at < n) {
                const size_t m = std::min(len, n - at);
                parts.filter(b.data() + at, b.data() + at, m);
                at += m;
                len = len * 7 + 1;
            }
            BOOST_CHECK(a == b);
            const auto ref = dc_reference(x, D, lf);
            double err = 0;
            for (size_t i = 0; i < n; i++) {
                err = std::max(err, std::abs(std::complex<double>(a[i]) - ref[i]));
            }
            BOOST_CHECK_SMALL(err, 2e-5);
            // after the filter's memory (4 or 2 averages and the delay) the DC is gone
            std::complex<double> mean = 0;
            const size_t settle = static_cast<size_t>(lf ? 4 * D : 2 * D);
            for (size_t i = settle; i < n; i++) {
                mean += std::complex<double>(a[i]);
            }
            mean /= static_cast<double>(n - settle);
            BOOST_CHECK_SMALL(std::abs(mean), 0.15);
        }
    }
    BOOST_CHECK_THROW(dc_blocker_kernel(1, true), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(dc_blocker_forgets_a_bad_sample)
{
    // a NaN and an infinity count as 0 (the same output as with 0 there, every sample
    // finite); a huge sample, once it has left the windows (4 averages of D and the
    // delay), is forgotten: the output of the stream with it at 0
    gaussian_rng g(6);
    const int D = 32;
    const size_t n = 3000;
    auto x = random_vec(g, n);
    auto clean = x;
    const size_t bad[] = { 100, 400, 700 };
    x[bad[0]] = gr_complex(std::nanf(""), 0);
    x[bad[1]] = gr_complex(INFINITY, -INFINITY);
    x[bad[2]] = gr_complex(3e37f, 3e37f);
    for (size_t b : bad) {
        clean[b] = 0;
    }
    dc_blocker_kernel k(D, true), kc(D, true);
    std::vector<gr_complex> a(n), c(n);
    k.filter(x.data(), a.data(), n);
    kc.filter(clean.data(), c.data(), n);
    double err = 0;
    for (size_t i = 0; i < n; i++) {
        BOOST_REQUIRE(std::isfinite(a[i].real()) && std::isfinite(a[i].imag()));
        if (i < bad[2]) {
            BOOST_REQUIRE(a[i] == c[i]);
        } else if (i >= bad[2] + 6 * D) {
            err = std::max(err, static_cast<double>(std::abs(a[i] - c[i])));
        }
    }
    BOOST_CHECK_SMALL(err, 1e-6);
}
