/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "miso_channel_impl.h"
#include <gnuradio/io_signature.h>

namespace gr {
namespace semdacom {

#pragma message("set the following appropriately and remove this warning")
using input_type = float;
#pragma message("set the following appropriately and remove this warning")
using output_type = float;
miso_channel::sptr miso_channel::make(int k, int n_t)
{
    return gnuradio::make_block_sptr<miso_channel_impl>(k, n_t);
}


/*
 * The private constructor
 */
miso_channel_impl::miso_channel_impl(int k, int n_t)
    : gr::sync_block("miso_channel",
                     gr::io_signature::make(
                         1 /* min inputs */, 1 /* max inputs */, sizeof(input_type)),
                     gr::io_signature::make(
                         1 /* min outputs */, 1 /*max outputs */, sizeof(output_type)))
{
}

/*
 * Our virtual destructor.
 */
miso_channel_impl::~miso_channel_impl() {}

int miso_channel_impl::work(int noutput_items,
                            gr_vector_const_void_star& input_items,
                            gr_vector_void_star& output_items)
{
    auto in = static_cast<const input_type*>(input_items[0]);
    auto out = static_cast<output_type*>(output_items[0]);

#pragma message("Implement the signal processing in your block and remove this warning")
    // Do <+signal processing+>

    // Tell runtime system how many output items we produced.
    return noutput_items;
}

} /* namespace semdacom */
} /* namespace gr */
