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

/*!
 * Largest transmit power per user accepted in an allocation, watts (1 MW). Far above any
 * transmitter, and low enough that sqrt(p) times a unit-norm beam is a finite float: the
 * kernel never sees a coefficient it cannot represent. messages.MAX_POWER_W is the same.
 */
constexpr double MAX_POWER_W = 1e6;

/*!
 * Unit-norm tolerance of a beam, |‖w_i‖ - 1|: 1e-6 for c64 vectors, 1e-4 for c32 vectors
 * (float rounding); messages.beam_norm_tolerance is the same.
 */
SEMDACOM_API double beam_norm_tolerance(bool c32);

/*! The part of an allocation dict (docs/architecture.md §3) that the C++ blocks use. */
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
 *        allocation dict, mirroring python/semdacom/messages/mu_ascc.py.
 *
 * Returns false and sets \p reason when the message is malformed: not a dict,
 * seq missing or not a non-negative integer, power not a float vector of K
 * finite values in [0, MAX_POWER_W], w not a complex vector of K*N_t finite values
 * with unit-norm beams (beam_norm_tolerance). Other keys are ignored (each block
 * reads only its keys). Never throws.
 */
SEMDACOM_API bool parse_beam_allocation(
    const pmt::pmt_t& msg, int k, int n_t, beam_allocation& out, std::string& reason);

/*!
 * \brief Pending allocations applied at frame boundaries, never mid-frame.
 *
 * push() queues an allocation whose seq is newer than every seq pushed before
 * (the first one is always taken) and returns false, queueing nothing, for an
 * older or equal seq. on_frame(f) applies, in apply_frame order (arrival order
 * within a frame), every queued allocation with apply_frame <= f (a later one
 * overrides the keys it carries) and returns true if anything was applied.
 * push_local() queues an allocation set from code (no seq of its own: it takes
 * the last seq and does not advance it). python/semdacom/plumbing/schedule.py
 * AllocationSchedule has the same semantics.
 */
class SEMDACOM_API allocation_schedule
{
public:
    allocation_schedule(const std::vector<double>& power,
                        const std::vector<gr_complex>& w);

    bool push(const beam_allocation& a);
    void push_local(beam_allocation a);
    bool on_frame(uint64_t frame);

    /*! Whether a seq has been pushed, and the newest one. */
    bool has_seq() const { return d_has_seq; }
    uint64_t last_seq() const { return d_last_seq; }

    size_t pending() const { return d_pending.size(); }
    const std::vector<double>& power() const { return d_power; }
    const std::vector<gr_complex>& w() const { return d_w; }
    uint64_t applied_seq() const { return d_applied_seq; }

private:
    std::vector<beam_allocation> d_pending; // sorted by apply_frame, stable
    std::vector<double> d_power;
    std::vector<gr_complex> d_w;
    uint64_t d_applied_seq = 0;
    bool d_has_seq = false;
    uint64_t d_last_seq = 0;

    void insert(const beam_allocation& a);
};

/*! CSI dict of docs/architecture.md §3: {"h", "noise_var", "n_t", "k", "seq"}, plus
 * "frame" (u64: the first frame this channel applies to) when frame >= 0. */
SEMDACOM_API pmt::pmt_t make_csi_message(const std::vector<gr_complex>& h,
                                         const std::vector<double>& noise_var,
                                         int k,
                                         int n_t,
                                         uint64_t seq,
                                         int64_t frame = -1);

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_ALLOCATION_SCHEDULE_H */
