/* -*- c++ -*- */
/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_GAUSSIAN_RNG_H
#define INCLUDED_SEMDACOM_GAUSSIAN_RNG_H

#include <gnuradio/gr_complex.h>
#include <gnuradio/semdacom/api.h>
#include <cstddef>
#include <cstdint>

namespace gr {
namespace semdacom {

/*!
 * \brief Seeded generator of circularly-symmetric complex Gaussian samples.
 *
 * xoshiro256+ (Blackman & Vigna) for uniforms, seeded through splitmix64;
 * Box-Muller turns two uniforms into one CN(0, variance) sample. Same seed,
 * same sequence on every platform.
 */
class SEMDACOM_API gaussian_rng
{
public:
    explicit gaussian_rng(uint64_t seed = 0);
    void seed(uint64_t seed);

    /*! Uniform double in (0, 1]. */
    double uniform();

    /*! One CN(0, variance) sample. */
    gr_complex cn(double variance);

    /*! out[t] += CN(0, variance) for t in [0, n). */
    void add_cn(gr_complex* out, size_t n, float variance);

private:
    uint64_t next();
    uint64_t d_s[4];
};

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_GAUSSIAN_RNG_H */
