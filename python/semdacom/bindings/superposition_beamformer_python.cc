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
#include <gnuradio/semdacom/superposition_beamformer.h>

void bind_superposition_beamformer(py::module& m)
{
    using namespace gr::semdacom;

    sync_block_class<superposition_beamformer> cls(
        m,
        "superposition_beamformer",
        "Superposition beamformer x = sum_i sqrt(p_i) w_i g_i (MU-ASCC eq. 5); "
        "K inputs, N_t outputs, `cmd` port for allocation dicts applied at frame "
        "boundaries.");
    cls.def(py::init(&superposition_beamformer::make),
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
        .def("rejected", &superposition_beamformer::rejected)
        .def("accepted", &superposition_beamformer::accepted)
        .def("epoch", &superposition_beamformer::epoch)
        .def("frame_log", &superposition_beamformer::frame_log);
    def_allocation_state(cls);
}
