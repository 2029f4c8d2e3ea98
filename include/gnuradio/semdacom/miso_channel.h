/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_MISO_CHANNEL_H
#define INCLUDED_SEMDACOM_MISO_CHANNEL_H

#include <gnuradio/gr_complex.h>
#include <gnuradio/semdacom/api.h>
#include <gnuradio/sync_block.h>
#include <cstdint>
#include <vector>

namespace gr {
namespace semdacom {

/*!
 * \brief MU-MISO downlink channel, eq. (6) of MU-ASCC: y_i = h_i^H x + n_i.
 * \ingroup semdacom
 *
 * N_t complex inputs (antennas), K complex outputs (users). h is K*N_t values,
 * user-major; noise variances are per user (linear). With fading_frames > 0
 * the channel is i.i.d. Rayleigh block fading, redrawn every fading_frames
 * frames around each user's nominal mean gain ||h_i||^2 / N_t per antenna.
 * The `csi` output port publishes the CSI dict (docs/architecture.md §3) at start and on
 * every change. Frame boundaries: `frame` tags on input 0, or every
 * frame_len samples if frame_len > 0. Tags of input 0 go to every output.
 */
class SEMDACOM_API miso_channel : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<miso_channel> sptr;

    static sptr make(int k,
                     int n_t,
                     const std::vector<gr_complex>& h,
                     const std::vector<double>& noise_var,
                     int seed = 0,
                     int fading_frames = 0,
                     int frame_len = 0);

    /*! Replace the nominal channel (takes effect at once; publishes CSI). */
    virtual void set_h(const std::vector<gr_complex>& h) = 0;
    virtual void set_noise_var(const std::vector<double>& noise_var) = 0;
    /*! The channel in force now (after fading draws). */
    virtual std::vector<gr_complex> h() const = 0;
    virtual std::vector<double> noise_var() const = 0;
    /*! Number of CSI messages published so far. */
    virtual uint64_t csi_seq() const = 0;
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_MISO_CHANNEL_H */
