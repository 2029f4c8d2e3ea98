/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_SUPERPOSITION_BEAMFORMER_H
#define INCLUDED_SEMDACOM_SUPERPOSITION_BEAMFORMER_H

#include <gnuradio/semdacom/api.h>
#include <gnuradio/sync_block.h>

namespace gr {
namespace semdacom {

/*!
 * \brief <+description of block+>
 * \ingroup semdacom
 *
 */
class SEMDACOM_API superposition_beamformer : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<superposition_beamformer> sptr;

    /*!
     * \brief Return a shared_ptr to a new instance of semdacom::superposition_beamformer.
     *
     * To avoid accidental use of raw pointers, semdacom::superposition_beamformer's
     * constructor is in a private implementation
     * class. semdacom::superposition_beamformer::make is the public interface for
     * creating new instances.
     */
    static sptr make(int k, int n_t);
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_SUPERPOSITION_BEAMFORMER_H */
