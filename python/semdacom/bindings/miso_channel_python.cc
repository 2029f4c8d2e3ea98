/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Hand-written bindings (no bindtool header hash: edit freely).
 */

#include <pybind11/complex.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

#include "binding_util.h"
#include <gnuradio/semdacom/miso_channel.h>

void bind_miso_channel(py::module& m)
{
    using miso_channel = gr::semdacom::miso_channel;

    gr::semdacom::sync_block_class<miso_channel>(
        m,
        "miso_channel",
        "MU-MISO channel y_i = h_i^H x + n_i (MU-ASCC eq. 6); N_t inputs, K outputs, "
        "`csi` output port.")
        .def(py::init(&miso_channel::make),
             py::arg("k"),
             py::arg("n_t"),
             py::arg("h"),
             py::arg("noise_var"),
             py::arg("seed") = 0,
             py::arg("fading_frames") = 0,
             py::arg("frame_len") = 0)
        .def("set_h", &miso_channel::set_h, py::arg("h"))
        .def("set_noise_var", &miso_channel::set_noise_var, py::arg("noise_var"))
        .def("h", &miso_channel::h)
        .def("noise_var", &miso_channel::noise_var)
        .def("csi_seq", &miso_channel::csi_seq);
}
