/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_ALLOCATION_SCHEDULE_H
#define INCLUDED_SEMDACOM_ALLOCATION_SCHEDULE_H

#include <gnuradio/gr_complex.h>
#include <gnuradio/semdacom/api.h>
#include <pmt/pmt.h>
#include <cstdint>
#include <string>
#include <vector>

namespace gr {
namespace semdacom {

/*! The part of an allocation dict (design §3) that the C++ blocks use. */
struct SEMDACOM_API beam_allocation {
    uint64_t seq = 0;
    uint64_t apply_frame = 0;
    bool has_power = false;
    bool has_w = false;
    std::vector<double> power; // K, watts
    std::vector<gr_complex> w; // K*N_t, user-major, unit-norm rows
};

/*!
 * \brief Parse and validate the keys seq, apply_frame, power and w of an
 *        allocation dict, mirroring python/semdacom/messages.py.
 *
 * Returns false and sets \p reason when the message is malformed: not a dict,
 * seq missing or not a non-negative integer, power not a float vector of K
 * finite non-negative values, w not a complex vector of K*N_t finite values
 * with unit-norm beams (|‖w_i‖ - 1| <= 1e-6 for c64, 1e-4 for c32 vectors).
 * Other keys are ignored (each block reads only its keys).
 */
SEMDACOM_API bool parse_beam_allocation(
    const pmt::pmt_t& msg, int k, int n_t, beam_allocation& out, std::string& reason);

/*!
 * \brief Pending allocations applied at frame boundaries, never mid-frame.
 *
 * push() queues an allocation; on_frame(f) applies, in apply_frame order,
 * every queued allocation with apply_frame <= f (a later one overrides the
 * keys it carries) and returns true if anything was applied.
 */
class SEMDACOM_API allocation_schedule
{
public:
    allocation_schedule(const std::vector<double>& power,
                        const std::vector<gr_complex>& w);

    void push(const beam_allocation& a);
    bool on_frame(uint64_t frame);

    size_t pending() const { return d_pending.size(); }
    const std::vector<double>& power() const { return d_power; }
    const std::vector<gr_complex>& w() const { return d_w; }
    uint64_t applied_seq() const { return d_applied_seq; }

private:
    std::vector<beam_allocation> d_pending; // sorted by apply_frame, stable
    std::vector<double> d_power;
    std::vector<gr_complex> d_w;
    uint64_t d_applied_seq = 0;
};

/*! CSI dict of design §3: {"h", "noise_var", "n_t", "k", "seq"}. */
SEMDACOM_API pmt::pmt_t make_csi_message(const std::vector<gr_complex>& h,
                                         const std::vector<double>& noise_var,
                                         int k,
                                         int n_t,
                                         uint64_t seq);

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_ALLOCATION_SCHEDULE_H */
