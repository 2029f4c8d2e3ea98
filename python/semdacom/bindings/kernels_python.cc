/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Bindings of the plain C++ kernels (no GNU Radio block), used by tests and
 * benchmarks: numpy arrays of shape (streams, samples), complex64, C order.
 */

#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

#include "binding_util.h"
#include <gnuradio/semdacom/allocation_schedule.h>
#include <gnuradio/semdacom/dc_blocker_kernel.h>
#include <gnuradio/semdacom/gaussian_rng.h>
#include <gnuradio/semdacom/matrix_mixer.h>
#include <gnuradio/semdacom/miso_channel_kernel.h>
#include <gnuradio/semdacom/superposition_kernel.h>
#include <stdexcept>
#include <string>
#include <vector>

using carray = py::array_t<gr_complex, py::array::c_style>;

namespace {
// Row pointers of a (rows, n) complex64 array; checks the shape.
template <typename T>
std::vector<T> rows_of(carray& a, int rows, const char* what, size_t& n)
{
    if (a.ndim() != 2 || a.shape(0) != rows) {
        throw std::invalid_argument(std::string(what) + " must have shape (" +
                                    std::to_string(rows) + ", n)");
    }
    n = static_cast<size_t>(a.shape(1));
    std::vector<T> p(rows);
    for (int r = 0; r < rows; r++) {
        p[r] = const_cast<T>(static_cast<const gr_complex*>(a.data(r, 0)));
    }
    return p;
}

template <typename K>
void process_arrays(K& k, int rows_in, int rows_out, carray in, carray out)
{
    size_t n_in = 0, n_out = 0;
    auto pi = rows_of<const gr_complex*>(in, rows_in, "in", n_in);
    if (!out.writeable()) {
        throw std::invalid_argument("out must be writeable");
    }
    auto po = rows_of<gr_complex*>(out, rows_out, "out", n_out);
    if (n_in != n_out) {
        throw std::invalid_argument("in and out must have the same number of samples");
    }
    py::gil_scoped_release release;
    k.process(pi.data(), po.data(), n_in);
}

// The `process(inp, out)` method of a stream kernel K: in (rows_in, n) -> out (rows_out,
// n), the row counts read from the kernel's own accessors (e.g. &matrix_mixer::cols).
template <typename K>
void def_process(py::class_<K>& cls,
                 int (K::*rows_in)() const,
                 int (K::*rows_out)() const)
{
    cls.def(
        "process",
        [rows_in, rows_out](K& k, carray in, carray out) {
            process_arrays(k, (k.*rows_in)(), (k.*rows_out)(), in, out);
        },
        py::arg("inp"),
        py::arg("out"));
}
} // namespace

void bind_kernels(py::module& m)
{
    using namespace gr::semdacom;

    py::class_<matrix_mixer> mixer(m, "matrix_mixer", "out[r] = sum_s M[r, s] in[s]");
    mixer.def(py::init<int, int>(), py::arg("rows"), py::arg("cols"))
        .def("set_matrix", &matrix_mixer::set_matrix, py::arg("m"))
        .def("at", &matrix_mixer::at);
    def_process(mixer, &matrix_mixer::cols, &matrix_mixer::rows);

    py::class_<superposition_kernel> superposition(
        m, "superposition_kernel", "Eq. (5) kernel: in (K, n) -> out (N_t, n)");
    superposition.def(py::init<int, int>(), py::arg("k"), py::arg("n_t"))
        .def("set_allocation",
             &superposition_kernel::set_allocation,
             py::arg("power"),
             py::arg("w"))
        .def("power", &superposition_kernel::power)
        .def("w", &superposition_kernel::w)
        .def("coeff", &superposition_kernel::coeff);
    def_process(superposition, &superposition_kernel::k, &superposition_kernel::n_t);

    py::class_<miso_channel_kernel> channel(
        m,
        "miso_channel_kernel",
        "Eq. (6) kernel: in (N_t, n) -> out (K, n), adds noise");
    channel
        .def(py::init<int, int, uint64_t>(),
             py::arg("k"),
             py::arg("n_t"),
             py::arg("seed") = 0)
        .def("set_channel", &miso_channel_kernel::set_channel, py::arg("h"))
        .def("set_noise_var", &miso_channel_kernel::set_noise_var, py::arg("noise_var"))
        .def("set_seed", &miso_channel_kernel::set_seed, py::arg("seed"))
        .def("redraw_rayleigh", &miso_channel_kernel::redraw_rayleigh)
        .def("h", &miso_channel_kernel::h)
        .def("nominal_h", &miso_channel_kernel::nominal_h)
        .def("noise_var", &miso_channel_kernel::noise_var);
    def_process(channel, &miso_channel_kernel::n_t, &miso_channel_kernel::k);

    py::class_<dc_blocker_kernel>(m,
                                  "dc_blocker_kernel",
                                  "Yates DC blocker as GNU Radio's dc_blocker_cc "
                                  "computes it: in (1, n) -> out (1, n)")
        .def(py::init<int, bool>(), py::arg("length"), py::arg("long_form") = true)
        .def("group_delay", &dc_blocker_kernel::group_delay)
        .def(
            "process",
            [](dc_blocker_kernel& k, carray in, carray out) {
                size_t n_in = 0, n_out = 0;
                auto pi = rows_of<const gr_complex*>(in, 1, "in", n_in);
                if (!out.writeable()) {
                    throw std::invalid_argument("out must be writeable");
                }
                auto po = rows_of<gr_complex*>(out, 1, "out", n_out);
                if (n_in != n_out) {
                    throw std::invalid_argument(
                        "in and out must have the same number of samples");
                }
                py::gil_scoped_release release;
                k.filter(pi[0], po[0], n_in);
            },
            py::arg("inp"),
            py::arg("out"));

    py::class_<gaussian_rng>(m, "gaussian_rng", "Seeded CN(0, var) generator")
        .def(py::init<uint64_t>(), py::arg("seed") = 0)
        .def("uniform", &gaussian_rng::uniform)
        .def("cn", &gaussian_rng::cn, py::arg("variance"))
        .def(
            "add_cn",
            [](gaussian_rng& g, carray out, float variance) {
                if (out.ndim() != 1 || !out.writeable()) {
                    throw std::invalid_argument(
                        "out must be a writeable 1-D complex64 array");
                }
                g.add_cn(
                    out.mutable_data(0), static_cast<size_t>(out.shape(0)), variance);
            },
            py::arg("out"),
            py::arg("variance"));

    m.def(
        "parse_beam_allocation",
        [](py::object msg, int k, int n_t) -> py::object {
            // msg: a pmt object from the `pmt` Python module
            auto p = msg.cast<pmt::pmt_t>();
            beam_allocation a;
            std::string reason;
            if (!parse_beam_allocation(p, k, n_t, a, reason)) {
                return py::str(reason);
            }
            py::dict d;
            d["seq"] = a.seq;
            d["apply_frame"] = a.apply_frame;
            d["epoch"] = a.epoch;
            d["power"] = a.has_power ? py::cast(a.power) : py::none();
            d["w"] = a.has_w ? py::cast(a.w) : py::none();
            return std::move(d);
        },
        py::arg("msg"),
        py::arg("k"),
        py::arg("n_t"),
        "C++ allocation parser used by the C++ blocks: a dict on success, the "
        "rejection reason (str) otherwise.");

    m.def(
        "max_power_w",
        []() { return MAX_POWER_W; },
        "Largest power per user an allocation may carry (watts).");
    m.def("beam_norm_tolerance",
          &beam_norm_tolerance,
          py::arg("c32"),
          "Unit-norm tolerance of a beam: 1e-4 for c32 vectors, 1e-6 for c64.");

    py::class_<allocation_schedule> schedule(
        m,
        "allocation_schedule",
        "The C++ blocks' allocation schedule ((epoch, seq) identity, the greater seq "
        "wins, at most max_pending() waiting, applied at frame boundaries).");
    schedule
        .def(py::init<const std::vector<double>&, const std::vector<gr_complex>&>(),
             py::arg("power"),
             py::arg("w"))
        .def(
            "push_message",
            [](allocation_schedule& s, py::object msg, int k, int n_t) -> py::object {
                auto p = msg.cast<pmt::pmt_t>();
                beam_allocation a;
                std::string reason;
                if (!parse_beam_allocation(p, k, n_t, a, reason)) {
                    return py::str(reason);
                }
                return py::bool_(s.push(a));
            },
            py::arg("msg"),
            py::arg("k"),
            py::arg("n_t"),
            "Parse and push: True (queued), False (refused: seq not newer, retired "
            "epoch, queue full) or the parse error.")
        .def("on_frame", &allocation_schedule::on_frame, py::arg("frame"))
        .def("has_seq", &allocation_schedule::has_seq)
        .def("last_seq", &allocation_schedule::last_seq)
        .def("epoch", &allocation_schedule::epoch)
        .def("epoch_resets", &allocation_schedule::epoch_resets)
        .def("superseded", &allocation_schedule::superseded)
        .def("dropped_full", &allocation_schedule::dropped_full)
        .def_static(
            "max_pending",
            []() { return allocation_schedule::MAX_PENDING; },
            "Allocations waiting at most.");
    def_allocation_state(schedule);
}
