/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_SUPERPOSITION_BEAMFORMER_IMPL_H
#define INCLUDED_SEMDACOM_SUPERPOSITION_BEAMFORMER_IMPL_H

#include <gnuradio/semdacom/superposition_beamformer.h>

namespace gr {
namespace semdacom {

class superposition_beamformer_impl : public superposition_beamformer
{
private:
    // Nothing to declare in this block.

public:
    superposition_beamformer_impl(int k, int n_t);
    ~superposition_beamformer_impl();

    // Where all the action really happens
    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items);
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_SUPERPOSITION_BEAMFORMER_IMPL_H */
