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

#include <gnuradio/semdacom/superposition_beamformer.h>

void bind_superposition_beamformer(py::module& m)
{
    using superposition_beamformer = gr::semdacom::superposition_beamformer;

    py::class_<superposition_beamformer,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<superposition_beamformer>>(
        m,
        "superposition_beamformer",
        "Superposition beamformer x = sum_i sqrt(p_i) w_i g_i (MU-ASCC eq. 5); "
        "K inputs, N_t outputs, `cmd` port for allocation dicts applied at frame "
        "boundaries.")
        .def(py::init(&superposition_beamformer::make),
             py::arg("k"),
             py::arg("n_t"),
             py::arg("power"),
             py::arg("w"),
             py::arg("frame_len") = 0)
        .def("set_allocation",
             &superposition_beamformer::set_allocation,
             py::arg("power"),
             py::arg("w"),
             "Queue an allocation for the next frame boundary.")
        .def("power", &superposition_beamformer::power)
        .def("w", &superposition_beamformer::w)
        .def("applied_seq", &superposition_beamformer::applied_seq)
        .def("pending", &superposition_beamformer::pending)
        .def("rejected", &superposition_beamformer::rejected)
        .def("frame_log", &superposition_beamformer::frame_log);
}
