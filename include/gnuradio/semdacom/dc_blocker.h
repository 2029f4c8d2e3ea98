/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_DC_BLOCKER_H
#define INCLUDED_SEMDACOM_DC_BLOCKER_H

#include <gnuradio/semdacom/api.h>
#include <gnuradio/sync_block.h>

namespace gr {
namespace semdacom {

/*!
 * \brief DC blocker of a complex stream: the filter of GNU Radio's filter.dc_blocker_cc
 * (Yates 2008, long or short form) at a few ns per sample, and a sample that is not
 * finite is forgotten once it has left the filter's windows (dc_blocker_kernel).
 */
class SEMDACOM_API dc_blocker : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<dc_blocker> sptr;

    //! \throws std::invalid_argument when length < 2
    static sptr make(int length = 256, bool long_form = true);

    //! Samples by which the output lags the input (2D - 2 long, D - 1 short).
    virtual int group_delay() const = 0;
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_DC_BLOCKER_H */
