/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_MISO_CHANNEL_IMPL_H
#define INCLUDED_SEMDACOM_MISO_CHANNEL_IMPL_H

#include "frame_block.h"
#include <gnuradio/semdacom/miso_channel.h>
#include <gnuradio/semdacom/miso_channel_kernel.h>

namespace gr {
namespace semdacom {

class miso_channel_impl : public frame_block<miso_channel>
{
private:
    const int d_k;
    const int d_n_t;
    const int d_fading_frames;
    miso_channel_kernel d_kernel;
    uint64_t d_seq = 0;
    uint64_t d_origin;    // this channel's CSI seqs, in its CSI messages and csi tags
    uint64_t d_epoch = 0; // frame / fading_frames of the current draw
    std::vector<gr::tag_t> d_tags; // tags to forward

    void publish_csi(int64_t frame = -1); // d_mutex held; frame < 0: none in the message

public:
    miso_channel_impl(int k,
                      int n_t,
                      const std::vector<gr_complex>& h,
                      const std::vector<double>& noise_var,
                      int seed,
                      int fading_frames,
                      int frame_len);

    bool start() override;
    void set_h(const std::vector<gr_complex>& h) override;
    void set_noise_var(const std::vector<double>& noise_var) override;
    std::vector<gr_complex> h() const override;
    std::vector<double> noise_var() const override;
    uint64_t csi_seq() const override;

    int work_unchecked(int noutput_items,
                       gr_vector_const_void_star& input_items,
                       gr_vector_void_star& output_items) override;
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_MISO_CHANNEL_IMPL_H */
