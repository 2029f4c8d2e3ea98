/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "miso_channel_impl.h"
#include "user_tags.h"
#include <gnuradio/io_signature.h>
#include <gnuradio/semdacom/allocation_schedule.h>
#include <algorithm>
#include <random>

namespace gr {
namespace semdacom {

miso_channel::sptr miso_channel::make(int k,
                                      int n_t,
                                      const std::vector<gr_complex>& h,
                                      const std::vector<double>& noise_var,
                                      int seed,
                                      int fading_frames,
                                      int frame_len)
{
    return gnuradio::make_block_sptr<miso_channel_impl>(
        k, n_t, h, noise_var, seed, fading_frames, frame_len);
}

miso_channel_impl::miso_channel_impl(int k,
                                     int n_t,
                                     const std::vector<gr_complex>& h,
                                     const std::vector<double>& noise_var,
                                     int seed,
                                     int fading_frames,
                                     int frame_len)
    : gr::sync_block("miso_channel",
                     gr::io_signature::make(n_t, n_t, sizeof(gr_complex)),
                     gr::io_signature::make(k, k, sizeof(gr_complex))),
      frame_block(frame_len),
      d_k(k),
      d_n_t(n_t),
      d_fading_frames(fading_frames),
      d_kernel(k, n_t, static_cast<uint64_t>(seed))
{
    if (fading_frames < 0 || frame_len < 0) {
        throw std::invalid_argument(
            "miso_channel: fading_frames and frame_len must be >= 0");
    }
    d_kernel.set_channel(h);
    d_kernel.set_noise_var(noise_var);
    if (d_fading_frames > 0) {
        d_kernel.redraw_rayleigh();
    }
    set_tag_propagation_policy(TPP_DONT);
    message_port_register_out(pmt::mp("csi"));
    // a number no other CSI source uses (never 0): a receiver waits on this channel's
    // semdacom_csi tags only for CSI messages with this origin
    std::random_device rd;
    d_origin = ((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ unique_id()) | 1u;
}

void miso_channel_impl::publish_csi(int64_t frame)
{
    d_seq++;
    message_port_pub(
        pmt::mp("csi"),
        make_csi_message(
            d_kernel.h(), d_kernel.noise_var(), d_k, d_n_t, d_seq, frame, d_origin));
}

bool miso_channel_impl::start()
{
    std::lock_guard<std::mutex> lock(d_mutex);
    publish_csi(0); // the channel of the first frame
    return gr::sync_block::start();
}

void miso_channel_impl::set_h(const std::vector<gr_complex>& h)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    d_kernel.set_channel(h);
    if (d_fading_frames > 0) {
        d_kernel.redraw_rayleigh();
    }
    publish_csi(); // set from code: no frame number
}

void miso_channel_impl::set_noise_var(const std::vector<double>& noise_var)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    d_kernel.set_noise_var(noise_var);
    publish_csi(); // set from code: no frame number
}

std::vector<gr_complex> miso_channel_impl::h() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_kernel.h();
}

std::vector<double> miso_channel_impl::noise_var() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_kernel.noise_var();
}

uint64_t miso_channel_impl::csi_seq() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_seq;
}

int miso_channel_impl::work_unchecked(int noutput_items,
                                      gr_vector_const_void_star& input_items,
                                      gr_vector_void_star& output_items)
{
    if (d_fading_frames > 0) {
        for (const auto& b : frame_starts(noutput_items)) {
            const uint64_t epoch = b.frame / static_cast<uint64_t>(d_fading_frames);
            if (epoch != d_epoch) {
                process_until(d_kernel, input_items, output_items, b.offset);
                d_epoch = epoch;
                d_kernel.redraw_rayleigh();
                publish_csi(
                    static_cast<int64_t>(b.frame)); // the first frame of the new block
                const pmt::pmt_t seq =
                    pmt::cons(pmt::from_uint64(d_origin), pmt::from_uint64(d_seq));
                for (int o = 0; o < d_k; o++) { // the receivers wait for this CSI
                    add_item_tag(o, nitems_written(o) + b.offset, csi_tag_key(), seq);
                }
            }
        }
    }
    process_until(d_kernel, input_items, output_items, noutput_items);

    // Tags of antenna 0 (user_tags.h): `frame` tags to every user output, wrapped user
    // tags to their user's output, the rest (user 0's own) to user output 0. Tags of the
    // other antennas are copies of antenna 0's and are not forwarded.
    get_tags_in_range(d_tags, 0, nitems_read(0), nitems_read(0) + noutput_items);
    gr::tag_t inner;
    for (const auto& t : d_tags) {
        if (pmt::eq(t.key, frame_tag_key())) {
            for (int o = 0; o < d_k; o++) {
                add_item_tag(o, t);
            }
            continue;
        }
        const int user = unwrap_user_tag(t, d_k, inner);
        if (user >= 0) {
            add_item_tag(user, inner);
        } else {
            add_item_tag(0, t);
        }
    }
    return noutput_items;
}

} /* namespace semdacom */
} /* namespace gr */
