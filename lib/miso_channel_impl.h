/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_MISO_CHANNEL_IMPL_H
#define INCLUDED_SEMDACOM_MISO_CHANNEL_IMPL_H

#include <gnuradio/semdacom/miso_channel.h>

namespace gr {
namespace semdacom {

class miso_channel_impl : public miso_channel
{
private:
    // Nothing to declare in this block.

public:
    miso_channel_impl(int k, int n_t);
    ~miso_channel_impl();

    // Where all the action really happens
    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items);
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_MISO_CHANNEL_IMPL_H */
