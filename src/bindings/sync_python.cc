/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Bindings of the Schmidl-Cox metric kernel (schmidl_cox.h), part of the GNU-Radio-free
 * extension module semdacom._kernels, for semdacom.phy.sync. A complex64 buffer is read
 * in place (the receivers' stream type: no complex128 copy); anything else is converted
 * to complex128 first, as numpy.asarray(r, complex128) would. Any shape is read flat.
 */

#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace py = pybind11;

#include <gnuradio/semdacom/schmidl_cox.h>
#include <complex>
#include <stdexcept>

namespace {
using c64array =
    py::array_t<std::complex<float>, py::array::c_style | py::array::forcecast>;
using c128array =
    py::array_t<std::complex<double>, py::array::c_style | py::array::forcecast>;

template <typename A>
py::tuple run(const A& r, size_t n, double max_sample)
{
    const auto len = static_cast<size_t>(r.size());
    const size_t count = gr::semdacom::schmidl_cox_count(len, n);
    py::array_t<double> m(static_cast<py::ssize_t>(count));
    py::array_t<std::complex<double>> p(static_cast<py::ssize_t>(count));
    const auto* x = r.data();
    double* mm = m.mutable_data();
    std::complex<double>* pp = p.mutable_data();
    {
        py::gil_scoped_release release;
        gr::semdacom::schmidl_cox(x, len, n, max_sample, mm, pp);
    }
    return py::make_tuple(m, p);
}
} // namespace

void bind_sync(py::module& m)
{
    m.def(
        "schmidl_cox",
        [](const py::handle& r, long n, double max_sample) {
            if (n < 1) {
                throw std::invalid_argument("schmidl_cox: n must be >= 1");
            }
            // complex64 (any layout, native byte order): read as such
            if (py::isinstance<py::array_t<std::complex<float>>>(r)) {
                return run(c64array::ensure(r), static_cast<size_t>(n), max_sample);
            }
            const c128array a = c128array::ensure(r);
            if (!a) {
                throw py::error_already_set();
            }
            return run(a, static_cast<size_t>(n), max_sample);
        },
        py::arg("r"),
        py::arg("n"),
        py::arg("max_sample"),
        "Schmidl-Cox (M, P) of every window [d, d + 2n) of r, d in [0, len(r) - 2n]: "
        "M float64, P complex128 (semdacom.phy.sync.schmidl_cox). Junk samples (not "
        "finite, "
        "or modulus above max_sample) count as 0 and make every window holding one M = "
        "0, "
        "P = 0. complex64 is read in place, anything else as complex128; the GIL is "
        "released while it runs.");
}
