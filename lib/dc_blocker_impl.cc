/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "dc_blocker_impl.h"
#include <gnuradio/io_signature.h>

namespace gr {
namespace semdacom {

dc_blocker::sptr dc_blocker::make(int length, bool long_form)
{
    return gnuradio::make_block_sptr<dc_blocker_impl>(length, long_form);
}

dc_blocker_impl::dc_blocker_impl(int length, bool long_form)
    : gr::sync_block("dc_blocker",
                     gr::io_signature::make(1, 1, sizeof(gr_complex)),
                     gr::io_signature::make(1, 1, sizeof(gr_complex))),
      d_kernel(length, long_form)
{
}

int dc_blocker_impl::work(int noutput_items,
                          gr_vector_const_void_star& input_items,
                          gr_vector_void_star& output_items)
{
    // the kernel cannot fail (no allocation, no check per sample): no guard needed
    d_kernel.filter(static_cast<const gr_complex*>(input_items[0]),
                    static_cast<gr_complex*>(output_items[0]),
                    static_cast<size_t>(noutput_items));
    return noutput_items;
}

} // namespace semdacom
} // namespace gr
