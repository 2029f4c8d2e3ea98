/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Bindings of the gr-fec wrappers of the LDPC kernels (ldpc_fec.h), in gnuradio.semdacom.
 * ldpc_code itself is bound in the GNU-Radio-free module semdacom._kernels, imported
 * first so that pybind11 knows the type.
 */

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

#include <gnuradio/semdacom/ldpc_fec.h>

void bind_ldpc_fec(py::module& m)
{
    using namespace gr::semdacom;
    py::module::import("gnuradio.fec");
    py::module::import("semdacom._kernels");

    py::class_<ldpc_fec_encoder,
               gr::fec::generic_encoder,
               std::shared_ptr<ldpc_fec_encoder>>(
        m, "ldpc_fec_encoder", "gr-fec generic encoder over an ldpc_code")
        .def(py::init(&ldpc_fec_encoder::make), py::arg("code"))
        .def_static("make", &ldpc_fec_encoder::make, py::arg("code"));

    py::class_<ldpc_fec_decoder,
               gr::fec::generic_decoder,
               std::shared_ptr<ldpc_fec_decoder>>(
        m, "ldpc_fec_decoder", "gr-fec generic decoder over ldpc_decoder")
        .def(py::init(&ldpc_fec_decoder::make),
             py::arg("code"),
             py::arg("max_iterations") = 20,
             py::arg("alpha") = 0.75f,
             py::arg("llr_scale") = 4.0f)
        .def_static("make",
                    &ldpc_fec_decoder::make,
                    py::arg("code"),
                    py::arg("max_iterations") = 20,
                    py::arg("alpha") = 0.75f,
                    py::arg("llr_scale") = 4.0f)
        .def("frames", &ldpc_fec_decoder::frames)
        .def("failures", &ldpc_fec_decoder::failures);
}
