/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * semdacom._kernels: the C++ kernels the algorithm layers use (LDPC code and decoder,
 * batched rANS, the Schmidl-Cox metric of phy.sync, the max-log QAM demapper), with no
 * GNU Radio at run time, so
 * that `import semdacom.channel_coding` works on a machine without GNU Radio (a notebook,
 * a Ray worker). The C++ blocks are
 * bound separately in gnuradio.semdacom.semdacom_python.
 */

#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_ldpc(py::module& m);
void bind_rans(py::module& m);
void bind_sync(py::module& m);
void bind_qam(py::module& m);

PYBIND11_MODULE(_kernels, m)
{
    m.doc() = "gr-semdacom C++ kernels (LDPC, rANS, Schmidl-Cox, QAM demapper) without "
              "GNU Radio";
    bind_ldpc(m);
    bind_rans(m);
    bind_sync(m);
    bind_qam(m);
}
