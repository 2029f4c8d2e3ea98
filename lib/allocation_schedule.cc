/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gnuradio/semdacom/allocation_schedule.h>
#include <algorithm>
#include <cmath>
#include <complex>

namespace gr {
namespace semdacom {

namespace {

bool get_index(const pmt::pmt_t& v, uint64_t& out)
{
    if (pmt::is_uint64(v)) {
        out = pmt::to_uint64(v);
        return true;
    }
    if (pmt::is_integer(v)) {
        const long x = pmt::to_long(v);
        if (x < 0) {
            return false;
        }
        out = static_cast<uint64_t>(x);
        return true;
    }
    return false;
}

} // namespace

double beam_norm_tolerance(bool c32) { return c32 ? 1e-4 : 1e-6; }

namespace {
bool parse_beam_allocation_unchecked(
    const pmt::pmt_t& msg, int k, int n_t, beam_allocation& out, std::string& reason)
{
    beam_allocation a;
    if (!pmt::is_dict(msg)) {
        reason = "allocation is not a PMT dict";
        return false;
    }
    // a sentinel no message can carry, so that a key present with a nil value is
    // rejected as the wrong type (as the Python messages do), not taken as absent
    static const pmt::pmt_t nf = pmt::intern("__semdacom_key_absent__");
    const pmt::pmt_t seq = pmt::dict_ref(msg, pmt::intern("seq"), nf);
    if (pmt::eq(seq, nf) || !get_index(seq, a.seq)) {
        reason = "seq missing or not a non-negative integer";
        return false;
    }
    const pmt::pmt_t af = pmt::dict_ref(msg, pmt::intern("apply_frame"), nf);
    if (!pmt::eq(af, nf) && !get_index(af, a.apply_frame)) {
        reason = "apply_frame is not a non-negative integer";
        return false;
    }
    const pmt::pmt_t ep = pmt::dict_ref(msg, pmt::intern("epoch"), nf);
    if (!pmt::eq(ep, nf) && !get_index(ep, a.epoch)) {
        reason = "epoch is not a non-negative integer";
        return false;
    }
    const pmt::pmt_t p = pmt::dict_ref(msg, pmt::intern("power"), nf);
    if (!pmt::eq(p, nf)) {
        if (pmt::is_f64vector(p)) {
            a.power = pmt::f64vector_elements(p);
        } else if (pmt::is_f32vector(p)) {
            const auto f = pmt::f32vector_elements(p);
            a.power.assign(f.begin(), f.end());
        } else {
            reason = "power is not an f64vector";
            return false;
        }
        if (a.power.size() != static_cast<size_t>(k)) {
            reason = "power has " + std::to_string(a.power.size()) +
                     " entries, expected K=" + std::to_string(k);
            return false;
        }
        for (double x : a.power) {
            if (!std::isfinite(x) || x < 0.0) {
                reason = "power must be finite and non-negative";
                return false;
            }
            if (x > MAX_POWER_W) {
                reason = "power exceeds the physical limit MAX_POWER_W = 1e6 W";
                return false;
            }
        }
        a.has_power = true;
    }
    const pmt::pmt_t w = pmt::dict_ref(msg, pmt::intern("w"), nf);
    if (!pmt::eq(w, nf)) {
        // norms are taken on the values as sent (double for c64, float for c32), as
        // the Python messages do, then the beams are stored as floats for the kernel
        std::vector<std::complex<double>> wd;
        bool c32 = false;
        if (pmt::is_c64vector(w)) {
            wd = pmt::c64vector_elements(w);
        } else if (pmt::is_c32vector(w)) {
            const auto c = pmt::c32vector_elements(w);
            wd.assign(c.begin(), c.end());
            c32 = true;
        } else {
            reason = "w is not a c64vector";
            return false;
        }
        for (const auto& c : wd) {
            if (!std::isfinite(c.real()) || !std::isfinite(c.imag())) {
                reason = "w must be finite";
                return false;
            }
        }
        if (wd.size() != static_cast<size_t>(k) * n_t) {
            reason = "w has " + std::to_string(wd.size()) +
                     " entries, expected K*N_t=" + std::to_string(k * n_t);
            return false;
        }
        const double tol = beam_norm_tolerance(c32);
        for (int i = 0; i < k; i++) {
            double nrm2 = 0.0;
            for (int t = 0; t < n_t; t++) {
                nrm2 += std::norm(wd[static_cast<size_t>(i) * n_t + t]);
            }
            if (!(std::abs(std::sqrt(nrm2) - 1.0) <= tol)) {
                reason = "beam of user " + std::to_string(i) + " is not unit-norm";
                return false;
            }
        }
        a.w.resize(wd.size());
        for (size_t j = 0; j < wd.size(); j++) {
            a.w[j] = gr_complex(static_cast<float>(wd[j].real()),
                                static_cast<float>(wd[j].imag()));
        }
        a.has_w = true;
    }
    out = a;
    return true;
}
} // namespace

bool parse_beam_allocation(
    const pmt::pmt_t& msg, int k, int n_t, beam_allocation& out, std::string& reason)
{
    try {
        return parse_beam_allocation_unchecked(msg, k, n_t, out, reason);
    } catch (const std::exception& e) {
        // a pair that is not an association list (e.g. a PDU) throws in dict_ref
        reason = std::string("allocation is not a well-formed PMT dict: ") + e.what();
        return false;
    } catch (...) {
        reason = "allocation could not be read";
        return false;
    }
}

allocation_schedule::allocation_schedule(const std::vector<double>& power,
                                         const std::vector<gr_complex>& w)
    : d_power(power), d_w(w)
{
}

bool allocation_schedule::push(const beam_allocation& a, std::string* reason)
{
    const bool new_epoch = d_has_seq && a.epoch != d_epoch;
    if (new_epoch &&
        std::find(d_retired.begin(), d_retired.end(), a.epoch) != d_retired.end()) {
        if (reason) {
            *reason = "allocation epoch=" + std::to_string(a.epoch) +
                      " was retired (a newer epoch took over)";
        }
        return false;
    }
    if (d_has_seq && !new_epoch && a.seq <= d_last_seq) {
        if (reason) {
            *reason = "allocation seq=" + std::to_string(a.seq) +
                      " is not newer than seq=" + std::to_string(d_last_seq);
        }
        return false;
    }
    if (!insert(a, new_epoch, reason)) {
        return false;
    }
    if (new_epoch) {
        d_retired.push_back(d_epoch);
        if (d_retired.size() > MAX_RETIRED_EPOCHS) {
            d_retired.erase(d_retired.begin());
        }
        d_epoch_resets++;
    }
    d_has_seq = true;
    d_last_seq = a.seq;
    d_epoch = a.epoch;
    return true;
}

bool allocation_schedule::push_local(beam_allocation a)
{
    a.seq = d_last_seq;
    a.epoch = d_epoch;
    return insert(a, false, nullptr);
}

bool allocation_schedule::insert(const beam_allocation& a,
                                 bool new_epoch,
                                 std::string* reason)
{
    // the pending allocations left once a (the newest) supersedes what it can
    std::vector<beam_allocation> kept;
    if (!new_epoch) {
        kept.reserve(d_pending.size() + 1);
        for (const auto& p : d_pending) {
            const bool covered = (!p.has_power || a.has_power) && (!p.has_w || a.has_w);
            if (p.apply_frame < a.apply_frame || !covered) {
                kept.push_back(p);
            }
        }
    }
    if (kept.size() >= MAX_PENDING) {
        d_dropped_full++;
        if (reason) {
            *reason = "allocation seq=" + std::to_string(a.seq) +
                      " dropped: " + std::to_string(MAX_PENDING) +
                      " allocations already wait";
        }
        return false;
    }
    if (!new_epoch) {
        d_superseded += d_pending.size() - kept.size();
    }
    for (auto& p : kept) {
        if (p.apply_frame >= a.apply_frame) {
            if (a.has_power) {
                p.has_power = false;
                p.power.clear();
            }
            if (a.has_w) {
                p.has_w = false;
                p.w.clear();
            }
        }
    }
    const auto pos = std::upper_bound(
        kept.begin(),
        kept.end(),
        a.apply_frame,
        [](uint64_t f, const beam_allocation& b) { return f < b.apply_frame; });
    kept.insert(pos, a);
    d_pending.swap(kept);
    return true;
}

bool allocation_schedule::on_frame(uint64_t frame)
{
    size_t n = 0;
    while (n < d_pending.size() && d_pending[n].apply_frame <= frame) {
        const auto& a = d_pending[n];
        if (a.has_power) {
            d_power = a.power;
        }
        if (a.has_w) {
            d_w = a.w;
        }
        d_applied_seq = a.seq;
        n++;
    }
    d_pending.erase(d_pending.begin(), d_pending.begin() + n);
    return n > 0;
}

pmt::pmt_t make_csi_message(const std::vector<gr_complex>& h,
                            const std::vector<double>& noise_var,
                            int k,
                            int n_t,
                            uint64_t seq,
                            int64_t frame,
                            uint64_t origin)
{
    std::vector<std::complex<double>> hd(h.begin(), h.end());
    pmt::pmt_t d = pmt::make_dict();
    d = pmt::dict_add(d, pmt::intern("h"), pmt::init_c64vector(hd.size(), hd));
    d = pmt::dict_add(
        d, pmt::intern("noise_var"), pmt::init_f64vector(noise_var.size(), noise_var));
    d = pmt::dict_add(d, pmt::intern("n_t"), pmt::from_long(n_t));
    d = pmt::dict_add(d, pmt::intern("k"), pmt::from_long(k));
    d = pmt::dict_add(d, pmt::intern("seq"), pmt::from_uint64(seq));
    if (frame >= 0) {
        d = pmt::dict_add(
            d, pmt::intern("frame"), pmt::from_uint64(static_cast<uint64_t>(frame)));
    }
    if (origin != 0) {
        d = pmt::dict_add(d, pmt::intern("origin"), pmt::from_uint64(origin));
    }
    return d;
}

} // namespace semdacom
} // namespace gr
