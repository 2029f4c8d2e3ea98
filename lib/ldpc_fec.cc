/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gnuradio/semdacom/ldpc_fec.h>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace semdacom {

ldpc_fec_encoder::sptr ldpc_fec_encoder::make(const ldpc_code& code)
{
    return std::make_shared<ldpc_fec_encoder>(code);
}

ldpc_fec_encoder::ldpc_fec_encoder(const ldpc_code& code)
    : gr::fec::generic_encoder("semdacom_ldpc_encoder"), d_code(code)
{
}

void ldpc_fec_encoder::generic_work(void* in_buffer, void* out_buffer)
{
    d_code.encode(
        static_cast<const uint8_t*>(in_buffer), static_cast<uint8_t*>(out_buffer), 1);
}

double ldpc_fec_encoder::rate() { return static_cast<double>(d_code.n()) / d_code.k(); }
int ldpc_fec_encoder::get_input_size() { return d_code.k(); }
int ldpc_fec_encoder::get_output_size() { return d_code.n(); }
bool ldpc_fec_encoder::set_frame_size(unsigned int frame_size)
{
    return static_cast<int>(frame_size) == d_code.k();
}

ldpc_fec_decoder::sptr ldpc_fec_decoder::make(const ldpc_code& code,
                                              int max_iterations,
                                              float alpha,
                                              float llr_scale)
{
    return std::make_shared<ldpc_fec_decoder>(code, max_iterations, alpha, llr_scale);
}

ldpc_fec_decoder::ldpc_fec_decoder(const ldpc_code& code,
                                   int max_iterations,
                                   float alpha,
                                   float llr_scale)
    : gr::fec::generic_decoder("semdacom_ldpc_decoder"),
      d_dec(code, max_iterations, alpha, 0.0f),
      d_scale(llr_scale),
      d_llr(code.n()),
      d_bits(code.n())
{
    if (!(std::isfinite(llr_scale) && llr_scale > 0.0f)) {
        throw std::invalid_argument("llr_scale must be positive and finite");
    }
}

void ldpc_fec_decoder::generic_work(void* in_buffer, void* out_buffer)
{
    const float* in = static_cast<const float*>(in_buffer);
    const int n = d_dec.code().n();
    for (int i = 0; i < n; i++) {
        d_llr[i] = -d_scale * in[i]; // positive soft value means 1: LLR negative
    }
    uint8_t ok = 0;
    d_dec.decode(d_llr.data(), d_bits.data(), 1, nullptr, &ok);
    d_frames++;
    d_failures += ok ? 0 : 1;
    uint8_t* out = static_cast<uint8_t*>(out_buffer);
    const auto& info = d_dec.code().info_positions();
    for (size_t i = 0; i < info.size(); i++) {
        out[i] = d_bits[info[i]];
    }
}

double ldpc_fec_decoder::rate()
{
    return static_cast<double>(d_dec.code().k()) / d_dec.code().n();
}
int ldpc_fec_decoder::get_input_size() { return d_dec.code().n(); }
int ldpc_fec_decoder::get_output_size() { return d_dec.code().k(); }
bool ldpc_fec_decoder::set_frame_size(unsigned int frame_size)
{
    return static_cast<int>(frame_size) == d_dec.code().k();
}

} // namespace semdacom
} // namespace gr
