/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_SUPERPOSITION_BEAMFORMER_IMPL_H
#define INCLUDED_SEMDACOM_SUPERPOSITION_BEAMFORMER_IMPL_H

#include "frame_block.h"
#include <gnuradio/semdacom/allocation_schedule.h>
#include <gnuradio/semdacom/superposition_beamformer.h>
#include <gnuradio/semdacom/superposition_kernel.h>
#include <deque>

namespace gr {
namespace semdacom {

class superposition_beamformer_impl : public frame_block<superposition_beamformer>
{
private:
    const int d_k;
    const int d_n_t;
    superposition_kernel d_kernel;
    allocation_schedule d_schedule;
    uint64_t d_rejected = 0;
    uint64_t d_accepted = 0;
    std::deque<std::pair<uint64_t, uint64_t>> d_frame_log; // (frame, applied seq)
    std::vector<gr::tag_t> d_tags;                         // tags to forward

    void handle_cmd(const pmt::pmt_t& msg);
    int work_unchecked(int noutput_items,
                       gr_vector_const_void_star& input_items,
                       gr_vector_void_star& output_items) override;
    /*! Validates power and w like the cmd port; throws std::invalid_argument. */
    beam_allocation checked_allocation(const std::vector<double>& power,
                                       const std::vector<gr_complex>& w,
                                       const char* what) const;

public:
    superposition_beamformer_impl(int k,
                                  int n_t,
                                  const std::vector<double>& power,
                                  const std::vector<gr_complex>& w,
                                  int frame_len);

    void set_allocation(const std::vector<double>& power,
                        const std::vector<gr_complex>& w) override;
    std::vector<double> power() const override;
    std::vector<gr_complex> w() const override;
    uint64_t applied_seq() const override;
    size_t pending() const override;
    std::vector<std::pair<uint64_t, uint64_t>> frame_log() const override;
    uint64_t rejected() const override;
    uint64_t accepted() const override;
    uint64_t epoch() const override;
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_SUPERPOSITION_BEAMFORMER_IMPL_H */
