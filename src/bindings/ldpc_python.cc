/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Bindings of the LDPC kernels (ldpc_code, ldpc_decoder), part of the GNU-Radio-free
 * extension module semdacom._kernels; the gr-fec wrappers are in ldpc_fec_python.cc.
 * Arrays are numpy, C order: bits uint8 (n_cw, k or n), LLRs float32 (n_cw, n).
 */

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

#include <gnuradio/semdacom/ldpc_code.h>
#include <gnuradio/semdacom/ldpc_decoder.h>
#include <stdexcept>
#include <string>

using u8array = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;
using f32array = py::array_t<float, py::array::c_style | py::array::forcecast>;

namespace {
// Number of rows of a (rows, width) or (width,) array; throws on any other shape.
py::ssize_t rows_of(const py::array& a, py::ssize_t width, const char* what)
{
    if (a.ndim() == 1 && a.shape(0) == width) {
        return 1;
    }
    if (a.ndim() == 2 && a.shape(1) == width) {
        return a.shape(0);
    }
    throw std::invalid_argument(std::string(what) + " must have shape (n_cw, " +
                                std::to_string(width) + ") or (" + std::to_string(width) +
                                ",)");
}
} // namespace

void bind_ldpc(py::module& m)
{
    using namespace gr::semdacom;

    py::class_<ldpc_code>(
        m, "ldpc_code", "Sparse parity-check matrix with a systematic encoder")
        .def(py::init<int, const std::vector<std::vector<int>>&>(),
             py::arg("n"),
             py::arg("rows"))
        .def_static("from_alist_file", &ldpc_code::from_alist_file, py::arg("path"))
        .def_static("from_alist_text", &ldpc_code::from_alist_text, py::arg("text"))
        .def_static("from_qc",
                    &ldpc_code::from_qc,
                    py::arg("mb"),
                    py::arg("nb"),
                    py::arg("z"),
                    py::arg("shifts"))
        .def_property_readonly("n", &ldpc_code::n)
        .def_property_readonly("m", &ldpc_code::m)
        .def_property_readonly("k", &ldpc_code::k)
        .def_property_readonly("edges", &ldpc_code::edges)
        .def_property_readonly("triangular", &ldpc_code::triangular)
        .def_property_readonly("info_positions", &ldpc_code::info_positions)
        .def_property_readonly("parity_positions", &ldpc_code::parity_positions)
        .def_property_readonly("row_ptr", &ldpc_code::row_ptr)
        .def_property_readonly("col_idx", &ldpc_code::col_idx)
        .def("to_alist", &ldpc_code::to_alist)
        .def(
            "encode",
            [](const ldpc_code& c, u8array info) {
                const auto rows = rows_of(info, c.k(), "info");
                py::array_t<uint8_t> out({ rows, static_cast<py::ssize_t>(c.n()) });
                const uint8_t* in = info.data();
                uint8_t* o = out.mutable_data();
                {
                    py::gil_scoped_release release;
                    c.encode(in, o, static_cast<int>(rows));
                }
                return out;
            },
            py::arg("info"),
            "info (n_cw, k) uint8 -> codewords (n_cw, n) uint8")
        .def(
            "syndrome_weight",
            [](const ldpc_code& c, u8array word) {
                rows_of(word, c.n(), "word");
                if (word.ndim() != 1) {
                    throw std::invalid_argument("word must be one codeword (n,)");
                }
                return c.syndrome_weight(word.data());
            },
            py::arg("word"));

    py::class_<ldpc_decoder>(
        m,
        "ldpc_decoder",
        "Layered normalised/offset min-sum decoder, 16 codewords per SIMD pass")
        .def(py::init<const ldpc_code&, int, float, float>(),
             py::arg("code"),
             py::arg("max_iterations") = 20,
             py::arg("alpha") = 0.75f,
             py::arg("beta") = 0.0f)
        .def_property_readonly("max_iterations", &ldpc_decoder::max_iterations)
        .def("set_max_iterations", &ldpc_decoder::set_max_iterations, py::arg("it"))
        .def_property_readonly("alpha", &ldpc_decoder::alpha)
        .def_property_readonly("beta", &ldpc_decoder::beta)
        .def("set_scaling", &ldpc_decoder::set_scaling, py::arg("alpha"), py::arg("beta"))
        .def_static("lanes", &ldpc_decoder::lanes)
        .def_static("llr_clip", &ldpc_decoder::llr_clip)
        .def(
            "decode",
            [](ldpc_decoder& d, f32array llr) {
                const int n = d.code().n();
                const auto rows = rows_of(llr, n, "llr");
                py::array_t<uint8_t> bits({ rows, static_cast<py::ssize_t>(n) });
                py::array_t<int32_t> its(rows);
                py::array_t<uint8_t> ok(rows);
                const float* in = llr.data();
                uint8_t* b = bits.mutable_data();
                int32_t* it = its.mutable_data();
                uint8_t* o = ok.mutable_data();
                {
                    py::gil_scoped_release release;
                    d.decode(in, b, static_cast<int>(rows), it, o);
                }
                return py::make_tuple(bits, its, ok.attr("astype")("bool"));
            },
            py::arg("llr"),
            "llr (n_cw, n) float32, positive = bit 0 -> (bits (n_cw, n) uint8, "
            "iterations "
            "int32, syndrome_ok bool)");
}
