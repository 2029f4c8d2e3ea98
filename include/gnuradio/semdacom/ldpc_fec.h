/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_LDPC_FEC_H
#define INCLUDED_SEMDACOM_LDPC_FEC_H

#include <gnuradio/fec/generic_decoder.h>
#include <gnuradio/fec/generic_encoder.h>
#include <gnuradio/semdacom/api.h>
#include <gnuradio/semdacom/ldpc_code.h>
#include <gnuradio/semdacom/ldpc_decoder.h>
#include <memory>

namespace gr {
namespace semdacom {

/*!
 * \brief gr-fec generic encoder over an ldpc_code: k unpacked bits (one per byte) in,
 * n unpacked code bits out. Drops into fec.extended_encoder, fec.encoder and
 * fec.async_encoder like GNU Radio's own LDPC encoders.
 */
class SEMDACOM_API ldpc_fec_encoder : public gr::fec::generic_encoder
{
public:
    typedef std::shared_ptr<ldpc_fec_encoder> sptr;
    static sptr make(const ldpc_code& code);
    explicit ldpc_fec_encoder(const ldpc_code& code);

    void generic_work(void* in_buffer, void* out_buffer) override;
    double rate() override;
    int get_input_size() override;
    int get_output_size() override;
    /*! Only the code's k is accepted (returns false otherwise). */
    bool set_frame_size(unsigned int frame_size) override;

private:
    ldpc_code d_code;
};

/*!
 * \brief gr-fec generic decoder over ldpc_decoder: n soft values in (float, gr-fec
 * convention: bit 0 sent as -1, bit 1 as +1, so positive means 1; the value is used as
 * an LLR up to the scale factor `llr_scale`), k unpacked information bits out.
 */
class SEMDACOM_API ldpc_fec_decoder : public gr::fec::generic_decoder
{
public:
    typedef std::shared_ptr<ldpc_fec_decoder> sptr;
    static sptr
    make(const ldpc_code& code, int max_iterations, float alpha, float llr_scale);
    ldpc_fec_decoder(const ldpc_code& code,
                     int max_iterations,
                     float alpha,
                     float llr_scale);

    void generic_work(void* in_buffer, void* out_buffer) override;
    double rate() override;
    int get_input_size() override;
    int get_output_size() override;
    bool set_frame_size(unsigned int frame_size) override;
    /*! Frames decoded and frames whose syndrome stayed nonzero. */
    long frames() const { return d_frames; }
    long failures() const { return d_failures; }

private:
    ldpc_decoder d_dec;
    float d_scale;
    std::vector<float> d_llr;
    std::vector<uint8_t> d_bits;
    long d_frames = 0;
    long d_failures = 0;
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_LDPC_FEC_H */
