/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_FRAME_BLOCK_H
#define INCLUDED_SEMDACOM_FRAME_BLOCK_H

#include "frame_boundaries.h"
#include "guarded_work.h"
#include <gnuradio/sync_block.h>
#include <mutex>
#include <vector>

namespace gr {
namespace semdacom {

/*!
 * The base of the C++ blocks that apply a stream kernel and change it at frame starts
 * (superposition_beamformer, miso_channel; Iface is the block's public class):
 * - work() runs the block's work_unchecked() under d_mutex, guarded (guarded_work.h: an
 *   exception is logged and these samples sent as zeros; no exception ends the thread);
 * - frame_starts() gives the frame boundaries of this call (frame_boundaries.h);
 * - process_until() applies the kernel to every stream up to a sample, so that a block
 *   changes the kernel exactly where a frame starts.
 */
template <typename Iface>
class frame_block : public Iface
{
public:
    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override
    {
        std::lock_guard<std::mutex> lock(d_mutex);
        d_start = 0;
        return guarded_work(
            this->d_logger,
            noutput_items,
            output_items,
            static_cast<int>(output_items.size()),
            [&] { return work_unchecked(noutput_items, input_items, output_items); });
    }

protected:
    /*! frame_len > 0: a frame every frame_len samples; 0: at the `frame` tags of input 0.
     */
    explicit frame_block(int frame_len) : d_frame_len(frame_len) {}

    const int d_frame_len;
    mutable std::mutex d_mutex; // work(), and the block's setters, getters and handlers

    virtual int work_unchecked(int noutput_items,
                               gr_vector_const_void_star& input_items,
                               gr_vector_void_star& output_items) = 0;

    /*! The frame boundaries in this call (frame_boundaries.h). */
    const std::vector<frame_boundary>& frame_starts(int noutput_items)
    {
        static const pmt::pmt_t frame_key = pmt::intern("frame");
        const uint64_t nread = this->nitems_read(0);
        if (d_frame_len == 0) {
            this->get_tags_in_range(
                d_frame_tags, 0, nread, nread + noutput_items, frame_key);
        }
        find_frame_boundaries(d_frame_tags, nread, d_frame_len, noutput_items, d_bounds);
        return d_bounds;
    }

    /*! kernel.process() on samples [start, stop) of every input and output, where start
     * is where the previous call of this work() stopped (0 at first). */
    template <typename Kernel>
    void process_until(Kernel& kernel,
                       gr_vector_const_void_star& input_items,
                       gr_vector_void_star& output_items,
                       int stop)
    {
        if (stop <= d_start) {
            return;
        }
        d_in.resize(input_items.size());
        d_out.resize(output_items.size());
        for (size_t s = 0; s < d_in.size(); s++) {
            d_in[s] = static_cast<const gr_complex*>(input_items[s]) + d_start;
        }
        for (size_t s = 0; s < d_out.size(); s++) {
            d_out[s] = static_cast<gr_complex*>(output_items[s]) + d_start;
        }
        kernel.process(d_in.data(), d_out.data(), static_cast<size_t>(stop - d_start));
        d_start = stop;
    }

private:
    std::vector<gr::tag_t> d_frame_tags;
    std::vector<frame_boundary> d_bounds;
    std::vector<const gr_complex*> d_in;
    std::vector<gr_complex*> d_out;
    int d_start = 0;
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_FRAME_BLOCK_H */
