/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Box-Muller transform, in C: with -ffast-math glibc's <math.h> declares the
 * libmvec SIMD variants of logf/sinf/cosf for C (not for C++), so this loop
 * vectorises (8 samples per AVX2 call).
 */

#include "box_muller.h"
#include <math.h>

void semdacom_box_muller(float* u1, float* u2, size_t n, float variance)
{
    const float two_pi = 6.28318530717958647692f;
    // separate loops: a loop with both sinf and cosf becomes sincosf, which has
    // no vector variant, and stays scalar
    for (size_t j = 0; j < n; j++) {
        u1[j] = sqrtf(-variance * logf(u1[j]));
        u2[j] = two_pi * u2[j];
    }
    float c[256];
    for (size_t j0 = 0; j0 < n; j0 += 256) {
        const size_t m = (n - j0 < 256) ? n - j0 : 256;
        for (size_t j = 0; j < m; j++) {
            c[j] = cosf(u2[j0 + j]);
        }
        for (size_t j = 0; j < m; j++) {
            u2[j0 + j] = u1[j0 + j] * sinf(u2[j0 + j]);
            u1[j0 + j] *= c[j];
        }
    }
}
