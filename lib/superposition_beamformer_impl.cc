/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "superposition_beamformer_impl.h"
#include "user_tags.h"
#include <gnuradio/io_signature.h>
#include <algorithm>

namespace gr {
namespace semdacom {

superposition_beamformer::sptr
superposition_beamformer::make(int k,
                               int n_t,
                               const std::vector<double>& power,
                               const std::vector<gr_complex>& w,
                               int frame_len)
{
    return gnuradio::make_block_sptr<superposition_beamformer_impl>(
        k, n_t, power, w, frame_len);
}

superposition_beamformer_impl::superposition_beamformer_impl(
    int k,
    int n_t,
    const std::vector<double>& power,
    const std::vector<gr_complex>& w,
    int frame_len)
    : gr::sync_block("superposition_beamformer",
                     gr::io_signature::make(k, k, sizeof(gr_complex)),
                     gr::io_signature::make(n_t, n_t, sizeof(gr_complex))),
      frame_block(frame_len),
      d_k(k),
      d_n_t(n_t),
      d_kernel(k, n_t),
      d_schedule(d_kernel.power(), d_kernel.w())
{
    if (frame_len < 0) {
        throw std::invalid_argument("superposition_beamformer: frame_len must be >= 0");
    }
    const beam_allocation a = checked_allocation(power, w, "initial allocation");
    d_kernel.set_allocation(a.power, a.w);
    d_schedule = allocation_schedule(a.power, a.w);

    set_tag_propagation_policy(TPP_DONT);
    message_port_register_in(pmt::mp("cmd"));
    set_msg_handler(pmt::mp("cmd"), [this](const pmt::pmt_t& msg) { handle_cmd(msg); });
}

void superposition_beamformer_impl::handle_cmd(const pmt::pmt_t& msg)
{
    // no exception may leave a message handler: it would end the block's thread
    try {
        beam_allocation a;
        std::string reason;
        if (!parse_beam_allocation(msg, d_k, d_n_t, a, reason)) {
            std::lock_guard<std::mutex> lock(d_mutex);
            d_rejected++;
            d_logger->warn("dropped malformed allocation: {}", reason);
            return;
        }
        std::lock_guard<std::mutex> lock(d_mutex);
        // the schedule's rules: (epoch, seq) identity, the greater seq wins, at most
        // allocation_schedule::MAX_PENDING wait (allocation_schedule.h)
        const uint64_t epoch = d_schedule.epoch();
        const uint64_t resets = d_schedule.epoch_resets();
        if (!d_schedule.push(a, &reason)) {
            d_rejected++;
            d_logger->warn("dropped allocation: {}", reason);
            return;
        }
        d_accepted++;
        if (d_schedule.epoch_resets() != resets) {
            d_logger->info(
                "allocation epoch {} replaces epoch {} (a restarted optimiser): "
                "its pending allocations dropped",
                d_schedule.epoch(),
                epoch);
        }
    } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(d_mutex);
        d_rejected++;
        d_logger->error("dropped allocation after an error: {}", e.what());
    } catch (...) {
        std::lock_guard<std::mutex> lock(d_mutex);
        d_rejected++;
        d_logger->error("dropped allocation after an unknown error");
    }
}

beam_allocation
superposition_beamformer_impl::checked_allocation(const std::vector<double>& power,
                                                  const std::vector<gr_complex>& w,
                                                  const char* what) const
{
    // the same rules as the cmd port: one parser for every way in
    pmt::pmt_t d = pmt::make_dict();
    d = pmt::dict_add(d, pmt::intern("seq"), pmt::from_uint64(0));
    d = pmt::dict_add(d, pmt::intern("power"), pmt::init_f64vector(power.size(), power));
    d = pmt::dict_add(d, pmt::intern("w"), pmt::init_c32vector(w.size(), w));
    beam_allocation a;
    std::string reason;
    if (!parse_beam_allocation(d, d_k, d_n_t, a, reason)) {
        throw std::invalid_argument(std::string("superposition_beamformer: ") + what +
                                    ": " + reason);
    }
    return a;
}

void superposition_beamformer_impl::set_allocation(const std::vector<double>& power,
                                                   const std::vector<gr_complex>& w)
{
    beam_allocation a = checked_allocation(power, w, "set_allocation");
    std::lock_guard<std::mutex> lock(d_mutex);
    if (!d_schedule.push_local(a)) {
        throw std::length_error("superposition_beamformer: set_allocation: " +
                                std::to_string(allocation_schedule::MAX_PENDING) +
                                " allocations already wait");
    }
}

std::vector<double> superposition_beamformer_impl::power() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_kernel.power();
}

std::vector<gr_complex> superposition_beamformer_impl::w() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_kernel.w();
}

uint64_t superposition_beamformer_impl::applied_seq() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_schedule.applied_seq();
}

size_t superposition_beamformer_impl::pending() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_schedule.pending();
}

std::vector<std::pair<uint64_t, uint64_t>>
superposition_beamformer_impl::frame_log() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return { d_frame_log.begin(), d_frame_log.end() };
}

uint64_t superposition_beamformer_impl::rejected() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_rejected;
}

uint64_t superposition_beamformer_impl::accepted() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_accepted;
}

uint64_t superposition_beamformer_impl::epoch() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_schedule.epoch();
}

int superposition_beamformer_impl::work_unchecked(int noutput_items,
                                                  gr_vector_const_void_star& input_items,
                                                  gr_vector_void_star& output_items)
{
    for (const auto& b : frame_starts(noutput_items)) {
        process_until(d_kernel, input_items, output_items, b.offset);
        if (d_schedule.on_frame(b.frame)) {
            try {
                d_kernel.set_allocation(d_schedule.power(), d_schedule.w());
            } catch (const std::exception& e) {
                // unreachable with parse_beam_allocation's limits; kept as a last guard
                d_logger->error("allocation seq={} not applied: {}",
                                d_schedule.applied_seq(),
                                e.what());
            }
        }
        d_frame_log.emplace_back(b.frame, d_schedule.applied_seq());
        if (d_frame_log.size() > 4096) {
            d_frame_log.pop_front();
        }
    }
    process_until(d_kernel, input_items, output_items, noutput_items);

    // Tags of user 0 go to every antenna output as they are (frame tags, and e.g. a USRP
    // sink's burst tags); those of user i > 0 ride on antenna 0 wrapped with their user
    // (user_tags.h) so that miso_channel can hand them to user output i. Frame boundaries
    // come from input 0, so `frame` tags of other inputs are dropped.
    get_tags_in_range(d_tags, 0, nitems_read(0), nitems_read(0) + noutput_items);
    for (const auto& t : d_tags) {
        for (int o = 0; o < d_n_t; o++) {
            add_item_tag(o, t);
        }
    }
    for (int i = 1; i < d_k; i++) {
        get_tags_in_range(d_tags, i, nitems_read(i), nitems_read(i) + noutput_items);
        for (const auto& t : d_tags) {
            if (!pmt::eq(t.key, frame_tag_key())) {
                add_item_tag(0, wrap_user_tag(t, i));
            }
        }
    }
    return noutput_items;
}

} /* namespace semdacom */
} /* namespace gr */
