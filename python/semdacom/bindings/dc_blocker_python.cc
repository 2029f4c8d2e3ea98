/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Hand-written bindings (no bindtool header hash: edit freely).
 */

#include <pybind11/pybind11.h>

namespace py = pybind11;

#include "binding_util.h"
#include <gnuradio/semdacom/dc_blocker.h>

void bind_dc_blocker(py::module& m)
{
    using dc_blocker = gr::semdacom::dc_blocker;

    gr::semdacom::sync_block_class<dc_blocker>(
        m,
        "dc_blocker",
        "DC blocker (Yates 2008): the filter of GNU Radio's filter.dc_blocker_cc on ring "
        "buffers (a few ns per sample instead of 135), its running sums re-formed so "
        "that "
        "a bad sample is forgotten.")
        .def(py::init(&dc_blocker::make),
             py::arg("length") = 256,
             py::arg("long_form") = true)
        .def("group_delay", &dc_blocker::group_delay);
}
