/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_SUPERPOSITION_BEAMFORMER_H
#define INCLUDED_SEMDACOM_SUPERPOSITION_BEAMFORMER_H

#include <gnuradio/gr_complex.h>
#include <gnuradio/semdacom/api.h>
#include <gnuradio/sync_block.h>
#include <cstdint>
#include <utility>
#include <vector>

namespace gr {
namespace semdacom {

/*!
 * \brief Superposition beamformer, eq. (5) of MU-ASCC: x = sum_i sqrt(p_i) w_i g_i.
 * \ingroup semdacom
 *
 * K complex inputs (one per user, unit average symbol energy), N_t complex
 * outputs (one per antenna). The `cmd` message port takes allocation dicts
 * (docs/architecture.md §3; keys seq, apply_frame, power, w); an allocation is applied at
 * the first frame boundary whose frame number is >= apply_frame, never
 * mid-frame. Frame boundaries are the `frame` tags (u64) on input 0, or, if
 * frame_len > 0, every frame_len samples (frame number = sample / frame_len).
 * Tags of input 0 are copied to every output. Malformed messages are logged
 * and dropped; the block keeps its previous allocation.
 */
class SEMDACOM_API superposition_beamformer : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<superposition_beamformer> sptr;

    /*!
     * \param k number of users (inputs)
     * \param n_t number of transmit antennas (outputs)
     * \param power initial powers (K values, watts)
     * \param w initial unit-norm beams, K*N_t values user-major
     * \param frame_len 0: frame boundaries from `frame` tags; > 0: fixed frame length
     */
    static sptr make(int k,
                     int n_t,
                     const std::vector<double>& power,
                     const std::vector<gr_complex>& w,
                     int frame_len = 0);

    /*! Queue an allocation for the next frame boundary (thread-safe). */
    virtual void set_allocation(const std::vector<double>& power,
                                const std::vector<gr_complex>& w) = 0;
    virtual std::vector<double> power() const = 0;
    virtual std::vector<gr_complex> w() const = 0;
    /*! seq of the last applied allocation (0 before any). */
    virtual uint64_t applied_seq() const = 0;
    /*! Allocations received but not yet applied. */
    virtual size_t pending() const = 0;
    /*! Messages dropped: malformed, or refused by the schedule (seq not newer, retired
     * epoch, MAX_PENDING already waiting: allocation_schedule.h). */
    virtual uint64_t rejected() const = 0;
    /*! cmd messages taken by the schedule (a later one may supersede them). */
    virtual uint64_t accepted() const = 0;
    /*! The allocation epoch in force (0: none or messages without one). */
    virtual uint64_t epoch() const = 0;
    /*! (frame, seq of the allocation in force for that frame) of the last frames that
     * started (at most 4096, oldest first): which allocation each frame was sent with. */
    virtual std::vector<std::pair<uint64_t, uint64_t>> frame_log() const = 0;
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_SUPERPOSITION_BEAMFORMER_H */
