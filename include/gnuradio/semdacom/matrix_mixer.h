/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_MATRIX_MIXER_H
#define INCLUDED_SEMDACOM_MATRIX_MIXER_H

#include <gnuradio/gr_complex.h>
#include <gnuradio/semdacom/api.h>
#include <cstddef>
#include <vector>

namespace gr {
namespace semdacom {

/*!
 * \brief out[r][t] = sum_s M[r][s] * in[s][t]: a complex matrix applied to parallel
 * streams.
 *
 * The shared inner loop of the superposition beamformer (eq. 5) and the MISO
 * channel (eq. 6). Coefficients are stored as split real/imaginary floats so
 * the accumulate loop vectorises; time is processed in register tiles.
 */
class SEMDACOM_API matrix_mixer
{
public:
    matrix_mixer(int rows, int cols);

    int rows() const { return d_rows; }
    int cols() const { return d_cols; }

    /*! m: rows*cols coefficients, row-major. Throws std::invalid_argument on size/NaN. */
    void set_matrix(const std::vector<gr_complex>& m);
    gr_complex at(int r, int s) const;

    /*! in: cols pointers, out: rows pointers; out must not alias in. */
    void process(const gr_complex* const* in, gr_complex* const* out, size_t n) const;

private:
    int d_rows;
    int d_cols;
    std::vector<float> d_re; // [r * cols + s]
    std::vector<float> d_im;
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_MATRIX_MIXER_H */
