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
    uint64_t epoch = 0; // publisher instance id; absent = 0
    bool has_power = false;
    bool has_w = false;
    std::vector<double> power; // K, watts
    std::vector<gr_complex> w; // K*N_t, user-major, unit-norm rows
};

/*!
 * \brief Parse and validate the keys seq, apply_frame, epoch, power and w of an
 *        allocation dict, mirroring python/semdacom/messages/mu_ascc.py.
 *
 * Returns false and sets \p reason when the message is malformed: not a dict,
 * seq missing or not a non-negative integer, apply_frame or epoch not a non-negative
 * integer, power not a float vector of K
 * finite values in [0, MAX_POWER_W], w not a complex vector of K*N_t finite values
 * with unit-norm beams (beam_norm_tolerance). Other keys are ignored (each block
 * reads only its keys). Never throws.
 */
SEMDACOM_API bool parse_beam_allocation(
    const pmt::pmt_t& msg, int k, int n_t, beam_allocation& out, std::string& reason);

/*!
 * \brief Pending allocations applied at frame boundaries, never mid-frame.
 *
 * The rules of python/semdacom/plumbing/schedule.py AllocationSchedule, to the letter
 * (tests/blocks/test_cmd_conformance.py; docs/blocks/implementation_notes.md, "The
 * allocation path"):
 *
 * - Identity (epoch, seq). push() takes the first allocation; one of the epoch in force
 *   whose seq is greater than every seq taken in it; one of a new epoch whatever its seq
 *   (a restarted optimiser; seq = 2^64-1 blocks only its own epoch): the old epoch is
 *   retired and what it left pending is dropped (epoch_resets()). It refuses (false,
 *   nothing changes, reason set) an older or equal seq of the epoch in force, an epoch
 *   among the last MAX_RETIRED_EPOCHS retired, and an allocation that finds the queue
 * full.
 * - Ordering: the greater seq wins. A new allocation (seq s, apply_frame f) removes the
 *   keys it carries (power, w) from every pending older one due at f or later; one left
 *   with no key is dropped (superseded()). So at frame t each key holds the value of the
 *   newest allocation carrying it with apply_frame <= t (seq 5 for frame 100, then seq 6
 * for frame 50: seq 6 from frame 50 on, at frame 120 too).
 * - Bound: at most MAX_PENDING (64) wait; the one that would be the 65th is refused and
 *   counted (dropped_full()): the queued ones are due earlier, and the optimiser's next
 *   allocation supersedes the refused one.
 *
 * on_frame(f) applies, in apply_frame order (arrival order within a frame), every queued
 * allocation with apply_frame <= f (a later one overrides the keys it carries) and
 * returns true if anything was applied. push_local() queues an allocation set from code:
 * it has no seq of its own (it takes the last seq and epoch and advances neither), is due
 * at its apply_frame and follows the ordering and the bound as a newest allocation would.
 */
class SEMDACOM_API allocation_schedule
{
public:
    /*! Allocations waiting at most (AllocationSchedule.MAX_PENDING). */
    static constexpr size_t MAX_PENDING = 64;
    /*! Retired epochs remembered (AllocationSchedule.MAX_RETIRED_EPOCHS). */
    static constexpr size_t MAX_RETIRED_EPOCHS = 8;

    allocation_schedule(const std::vector<double>& power,
                        const std::vector<gr_complex>& w);

    /*! Queue \p a; false when refused (then \p reason, if given, says why). */
    bool push(const beam_allocation& a, std::string* reason = nullptr);
    /*! Queue an allocation set from code; false (nothing queued) when the queue is full.
     */
    bool push_local(beam_allocation a);
    bool on_frame(uint64_t frame);

    /*! Whether a seq has been pushed, and the newest one (of the epoch in force). */
    bool has_seq() const { return d_has_seq; }
    uint64_t last_seq() const { return d_last_seq; }
    /*! The epoch in force (0 before the first push and for messages without one). */
    uint64_t epoch() const { return d_epoch; }

    size_t pending() const { return d_pending.size(); }
    const std::vector<double>& power() const { return d_power; }
    const std::vector<gr_complex>& w() const { return d_w; }
    uint64_t applied_seq() const { return d_applied_seq; }
    uint64_t epoch_resets() const { return d_epoch_resets; }
    uint64_t superseded() const { return d_superseded; }
    uint64_t dropped_full() const { return d_dropped_full; }

private:
    std::vector<beam_allocation> d_pending; // sorted by apply_frame, stable
    std::vector<double> d_power;
    std::vector<gr_complex> d_w;
    std::vector<uint64_t> d_retired; // the last MAX_RETIRED_EPOCHS retired epochs
    uint64_t d_applied_seq = 0;
    bool d_has_seq = false;
    uint64_t d_last_seq = 0;
    uint64_t d_epoch = 0;
    uint64_t d_epoch_resets = 0;
    uint64_t d_superseded = 0;
    uint64_t d_dropped_full = 0;

    /*! Supersede and insert \p a (a newest allocation); false when the queue is full. */
    bool insert(const beam_allocation& a, bool new_epoch, std::string* reason);
};

/*! CSI dict of docs/architecture.md §3: {"h", "noise_var", "n_t", "k", "seq"}, plus
 * "frame" (u64: the first frame this channel applies to) when frame >= 0 and "origin"
 * (u64: which channel's seqs these are, the value of its stream's semdacom_csi tags) when
 * not 0. */
SEMDACOM_API pmt::pmt_t make_csi_message(const std::vector<gr_complex>& h,
                                         const std::vector<double>& noise_var,
                                         int k,
                                         int n_t,
                                         uint64_t seq,
                                         int64_t frame = -1,
                                         uint64_t origin = 0);

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_ALLOCATION_SCHEDULE_H */
