/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_MISO_CHANNEL_H
#define INCLUDED_SEMDACOM_MISO_CHANNEL_H

#include <gnuradio/semdacom/api.h>
#include <gnuradio/sync_block.h>

namespace gr {
namespace semdacom {

/*!
 * \brief <+description of block+>
 * \ingroup semdacom
 *
 */
class SEMDACOM_API miso_channel : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<miso_channel> sptr;

    /*!
     * \brief Return a shared_ptr to a new instance of semdacom::miso_channel.
     *
     * To avoid accidental use of raw pointers, semdacom::miso_channel's
     * constructor is in a private implementation
     * class. semdacom::miso_channel::make is the public interface for
     * creating new instances.
     */
    static sptr make(int k, int n_t);
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_MISO_CHANNEL_H */
