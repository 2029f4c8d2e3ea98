/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Bindings of the batched rANS coder (rans_coder.h). Symbols and table indexes are int32
 * numpy arrays (n_streams, n_symbols); indexes may also be one row (n_symbols,) shared by
 * every stream. Streams are bytes.
 */

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

#include <gnuradio/semdacom/rans_coder.h>
#include <stdexcept>
#include <string>
#include <vector>

using i32array = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

namespace {
// (rows, width) of a 2-D array, or (1, width) of a 1-D one.
std::pair<py::ssize_t, py::ssize_t> shape2(const py::array& a, const char* what)
{
    if (a.ndim() == 1) {
        return { 1, a.shape(0) };
    }
    if (a.ndim() == 2) {
        return { a.shape(0), a.shape(1) };
    }
    throw std::invalid_argument(std::string(what) + " must be 1-D or 2-D");
}
} // namespace

void bind_rans(py::module& m)
{
    using gr::semdacom::rans_coder;
    py::class_<rans_coder>(
        m,
        "rans_coder",
        "Indexed rANS coder (compressai's stream format) holding its CDF "
        "tables once; codes a batch of streams per call")
        .def(py::init<const std::vector<std::vector<int32_t>>&,
                      const std::vector<int32_t>&,
                      const std::vector<int32_t>&>(),
             py::arg("cdfs"),
             py::arg("sizes"),
             py::arg("offsets"))
        .def_property_readonly("tables", &rans_coder::tables)
        .def(
            "encode",
            [](const rans_coder& c, i32array symbols, i32array indexes) {
                const auto [rows, width] = shape2(symbols, "symbols");
                const auto [irows, iwidth] = shape2(indexes, "indexes");
                if (iwidth != width || (irows != rows && irows != 1)) {
                    throw std::invalid_argument("indexes must have the shape of symbols, "
                                                "or one row of its width");
                }
                std::vector<std::string> streams(static_cast<size_t>(rows));
                const int32_t* s = symbols.data();
                const int32_t* ix = indexes.data();
                {
                    py::gil_scoped_release release;
                    for (py::ssize_t r = 0; r < rows; ++r) {
                        c.encode(s + r * width,
                                 ix + (irows == 1 ? 0 : r * width),
                                 static_cast<size_t>(width),
                                 streams[r]);
                    }
                }
                py::list out;
                for (const auto& st : streams) {
                    out.append(py::bytes(st));
                }
                return out;
            },
            py::arg("symbols"),
            py::arg("indexes"),
            "Encode each row of symbols (int32) with the table indexes; list of bytes")
        .def(
            "decode",
            [](const rans_coder& c,
               const std::vector<py::bytes>& streams,
               i32array indexes,
               int32_t bound) {
                const auto rows = static_cast<py::ssize_t>(streams.size());
                const auto [irows, width] = shape2(indexes, "indexes");
                if (irows != rows && irows != 1) {
                    throw std::invalid_argument(
                        "indexes must have one row per stream, or a single row");
                }
                if (bound < 0) {
                    throw std::invalid_argument("bound must be >= 0");
                }
                std::vector<std::string_view> views;
                views.reserve(streams.size());
                for (const auto& b : streams) {
                    char* buf = nullptr;
                    py::ssize_t len = 0;
                    if (PYBIND11_BYTES_AS_STRING_AND_SIZE(b.ptr(), &buf, &len) != 0) {
                        throw py::error_already_set();
                    }
                    views.emplace_back(buf, static_cast<size_t>(len));
                }
                py::array_t<int32_t> values({ rows, width });
                py::array_t<bool> clean(rows);
                int32_t* v = values.mutable_data();
                bool* ok = clean.mutable_data();
                const int32_t* ix = indexes.data();
                {
                    py::gil_scoped_release release;
                    for (py::ssize_t r = 0; r < rows; ++r) {
                        ok[r] =
                            c.decode(reinterpret_cast<const uint8_t*>(views[r].data()),
                                     views[r].size(),
                                     ix + (irows == 1 ? 0 : r * width),
                                     static_cast<size_t>(width),
                                     bound,
                                     v + r * width);
                    }
                }
                return py::make_tuple(values, clean);
            },
            py::arg("streams"),
            py::arg("indexes"),
            py::arg("bound"),
            "Decode the streams (list of bytes); returns (values int32 (n, width), clean "
            "bool "
            "(n,)). Never fails on stream content; clean is False where a stream was "
            "visibly "
            "corrupted or too short");
}
