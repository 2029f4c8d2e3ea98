/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SEMDACOM_BOX_MULLER_H
#define INCLUDED_SEMDACOM_BOX_MULLER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*! In place: uniforms u1 in (0, 1], u2 in [0, 1) -> real and imaginary parts of
 *  CN(0, variance) samples (each part has variance / 2). */
void semdacom_box_muller(float* u1, float* u2, size_t n, float variance);

#ifdef __cplusplus
}
#endif

#endif /* INCLUDED_SEMDACOM_BOX_MULLER_H */
