/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_DC_BLOCKER_IMPL_H
#define INCLUDED_SEMDACOM_DC_BLOCKER_IMPL_H

#include <gnuradio/semdacom/dc_blocker.h>
#include <gnuradio/semdacom/dc_blocker_kernel.h>

namespace gr {
namespace semdacom {

class dc_blocker_impl : public dc_blocker
{
private:
    dc_blocker_kernel d_kernel;

public:
    dc_blocker_impl(int length, bool long_form);

    int group_delay() const override { return d_kernel.group_delay(); }

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_DC_BLOCKER_IMPL_H */
