/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What the hand-written bindings of gnuradio.semdacom.semdacom_python share.
 */

#ifndef INCLUDED_SEMDACOM_BINDING_UTIL_H
#define INCLUDED_SEMDACOM_BINDING_UTIL_H

#include <gnuradio/sync_block.h>
#include <pybind11/pybind11.h>
#include <memory>

namespace gr {
namespace semdacom {

/*! The pybind11 class of a C++ sync block B (GNU Radio bases, shared_ptr holder). */
template <typename B>
using sync_block_class =
    pybind11::class_<B, gr::sync_block, gr::block, gr::basic_block, std::shared_ptr<B>>;

/*!
 * The allocation in force and the queue, alike on allocation_schedule and on the
 * superposition beamformer that holds one: power(), w(), applied_seq(), pending().
 */
template <typename C, typename... Options>
void def_allocation_state(pybind11::class_<C, Options...>& cls)
{
    cls.def("power", &C::power)
        .def("w", &C::w)
        .def("applied_seq", &C::applied_seq)
        .def("pending", &C::pending);
}

} // namespace semdacom
} // namespace gr

#endif /* INCLUDED_SEMDACOM_BINDING_UTIL_H */
