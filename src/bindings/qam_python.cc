/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Bindings of the max-log QAM demapper kernel (qam_demap.h), part of the GNU-Radio-free
 * extension module semdacom._kernels, for semdacom.channel_coding.qam.
 */

#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace py = pybind11;

#include <gnuradio/semdacom/qam_demap.h>
#include <complex>
#include <stdexcept>

namespace {
using c128array =
    py::array_t<std::complex<double>, py::array::c_style | py::array::forcecast>;
using f64array = py::array_t<double, py::array::c_style | py::array::forcecast>;
} // namespace

void bind_qam(py::module& m)
{
    m.def(
        "qam_demap_maxlog",
        [](const c128array& z, const f64array& s, const f64array& levels, int half) {
            const auto count = static_cast<size_t>(z.size());
            if (static_cast<size_t>(s.size()) != count) {
                throw std::invalid_argument(
                    "qam_demap_maxlog: s must have one value per symbol");
            }
            if (half < 1 || half > 4 || levels.size() != (py::ssize_t(1) << half)) {
                throw std::invalid_argument(
                    "qam_demap_maxlog: half in 1..4 and 2^half levels");
            }
            py::array_t<float> out(static_cast<py::ssize_t>(count * 2 * half));
            const auto* zz = z.data();
            const double* ss = s.data();
            const double* lv = levels.data();
            float* oo = out.mutable_data();
            {
                py::gil_scoped_release release;
                gr::semdacom::qam_demap_maxlog(zz, ss, count, lv, half, oo);
            }
            return out;
        },
        py::arg("z"),
        py::arg("s"),
        py::arg("levels"),
        py::arg("half"),
        "Max-log LLRs (float32, 2 half per symbol: real dimension first) of equalised "
        "symbols z with per-symbol |g|^2/N0 s, for Gray PAM levels by label "
        "(semdacom.channel_coding.qam.demap); the GIL is released while it runs.");
}
