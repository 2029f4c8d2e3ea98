/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_GUARDED_WORK_H
#define INCLUDED_SEMDACOM_GUARDED_WORK_H

#include <gnuradio/logger.h>
#include <gnuradio/types.h>
#include <algorithm>
#include <exception>

namespace gr {
namespace semdacom {

/*
 * The work() guard of the C++ blocks: run `body` (the block's unchecked work) and, if it
 * throws, log the error and send the `n_out` complex outputs as zeros for these samples,
 * so that no exception ends the block's thread and the state in force stays.
 */
template <typename Body>
int guarded_work(const gr::logger_ptr& logger,
                 int noutput_items,
                 gr_vector_void_star& output_items,
                 int n_out,
                 Body&& body)
{
    try {
        return body();
    } catch (const std::exception& e) {
        logger->error("work: {}; {} samples sent as zeros", e.what(), noutput_items);
    } catch (...) {
        logger->error("work: unknown error; {} samples sent as zeros", noutput_items);
    }
    for (int o = 0; o < n_out; o++) {
        std::fill_n(
            static_cast<gr_complex*>(output_items[o]), noutput_items, gr_complex(0, 0));
    }
    return noutput_items;
}

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_GUARDED_WORK_H */
