/*
 * Copyright 2026 gr-semdacom authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * PMT <-> Python conversions of the message schemas (gnuradio.semdacom.messages.pmt_util)
 * in C++ (issue 23: every message of a chain is converted once or twice; through the pmt
 * module's Python calls, a uniform vector went element by element through a Python list,
 * 40-130 us per PDU payload, and a metadata dictionary cost about 3.5 us per key).
 * Anything outside the common exact types goes back to the Python converters, so the
 * results (and the errors) are those of pmt_util's reference code.
 */

#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <pmt/pmt.h>
#include <complex>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace py = pybind11;

namespace {

template <typename T>
pmt::pmt_t init_uvector(size_t n, const void* data);
#define SEMDACOM_UVEC(T, NAME)                                           \
    template <>                                                          \
    pmt::pmt_t init_uvector<T>(size_t n, const void* data)               \
    {                                                                    \
        return pmt::init_##NAME##vector(n, static_cast<const T*>(data)); \
    }
SEMDACOM_UVEC(uint8_t, u8)
SEMDACOM_UVEC(int8_t, s8)
SEMDACOM_UVEC(uint16_t, u16)
SEMDACOM_UVEC(int16_t, s16)
SEMDACOM_UVEC(uint32_t, u32)
SEMDACOM_UVEC(int32_t, s32)
SEMDACOM_UVEC(uint64_t, u64)
SEMDACOM_UVEC(int64_t, s64)
SEMDACOM_UVEC(float, f32)
SEMDACOM_UVEC(double, f64)
SEMDACOM_UVEC(std::complex<float>, c32)
SEMDACOM_UVEC(std::complex<double>, c64)
#undef SEMDACOM_UVEC

template <typename T>
bool uvector_of(const py::array& a, pmt::pmt_t& out)
{
    if (!py::isinstance<py::array_t<T>>(a)) {
        return false;
    }
    static const T zero{};
    const size_t n = static_cast<size_t>(a.size());
    out = init_uvector<T>(n, n ? a.data() : &zero);
    return true;
}

// The uniform vector of a 1-D C-contiguous array's dtype; false for a dtype without one.
bool uvector_any(const py::array& a, pmt::pmt_t& out)
{
    return uvector_of<uint8_t>(a, out) || uvector_of<int8_t>(a, out) ||
           uvector_of<uint16_t>(a, out) || uvector_of<int16_t>(a, out) ||
           uvector_of<uint32_t>(a, out) || uvector_of<int32_t>(a, out) ||
           uvector_of<uint64_t>(a, out) || uvector_of<int64_t>(a, out) ||
           uvector_of<float>(a, out) || uvector_of<double>(a, out) ||
           uvector_of<std::complex<float>>(a, out) ||
           uvector_of<std::complex<double>>(a, out);
}

// The uniform vector of a C-contiguous 1-D array (throws for another dtype).
pmt::pmt_t uvector_from_array(const py::array& a)
{
    if (a.ndim() != 1 || !(a.flags() & py::array::c_style)) {
        throw std::invalid_argument("a must be a C-contiguous 1-D array");
    }
    pmt::pmt_t out;
    if (uvector_any(a, out)) {
        return out;
    }
    throw std::invalid_argument("arrays of this dtype have no PMT vector type");
}

// numpy dtype of a uniform vector (None when `p` is not one)
py::object uvector_dtype(const pmt::pmt_t& p)
{
    static const struct {
        bool (*is)(pmt::pmt_t);
        const char* dtype;
    } kinds[] = {
        { pmt::is_u8vector, "uint8" },      { pmt::is_s8vector, "int8" },
        { pmt::is_u16vector, "uint16" },    { pmt::is_s16vector, "int16" },
        { pmt::is_u32vector, "uint32" },    { pmt::is_s32vector, "int32" },
        { pmt::is_u64vector, "uint64" },    { pmt::is_s64vector, "int64" },
        { pmt::is_f32vector, "float32" },   { pmt::is_f64vector, "float64" },
        { pmt::is_c32vector, "complex64" }, { pmt::is_c64vector, "complex128" }
    };
    for (const auto& k : kinds) {
        if (k.is(p)) {
            return py::dtype(k.dtype);
        }
    }
    return py::none();
}

// A copy of a uniform vector as a 1-D numpy array of its type.
py::array uvector_to_array(const pmt::pmt_t& p)
{
    py::object dt = uvector_dtype(p);
    if (dt.is_none()) {
        throw std::invalid_argument("not a PMT uniform vector");
    }
    size_t nbytes = 0;
    const void* data = pmt::uniform_vector_elements(p, nbytes);
    auto dtype = dt.cast<py::dtype>();
    std::vector<py::ssize_t> shape{ static_cast<py::ssize_t>(
        nbytes / static_cast<size_t>(dtype.itemsize())) };
    if (!nbytes) {
        return py::array(dtype, shape);
    }
    return py::array(dtype, shape, data); // no base: numpy copies the buffer
}

// A numpy array as the uniform vector of its dtype, as pmt_util.vec_to_pmt makes it;
// false for what that function reshapes or converts first (several dimensions, a strided
// view, bool) or refuses, which the Python code handles.
bool array_uvector(const py::handle& v, pmt::pmt_t& out)
{
    if (!py::isinstance<py::array>(v)) {
        return false;
    }
    const auto a = py::reinterpret_borrow<py::array>(v);
    if (a.ndim() != 1 || !(a.flags() & py::array::c_style)) {
        return false;
    }
    return uvector_any(a, out);
}

// A long of a Python int that fits 64 signed bits; false otherwise (error cleared).
bool long_of(PyObject* v, pmt::pmt_t& out)
{
    int overflow = 0;
    const long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow != 0 || (x == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return false;
    }
    out = pmt::from_long(static_cast<long>(x));
    return true;
}

// The PMT of the common values of a metadata dict: exact bool, int (64-bit), float, str
// and None, numpy integer and floating scalars, 1-D contiguous numpy arrays of a
// uniform-vector dtype, pmt objects as they are. False for anything else (the caller's
// Python code).
bool common_to_pmt(const py::handle& value, pmt::pmt_t& out)
{
    // never destroyed: a static py::object would be released after the interpreter ends
    static const py::object* pmt_base =
        new py::object(py::module::import("pmt").attr("pmt_base"));
    static const py::object* np_integer =
        new py::object(py::module::import("numpy").attr("integer"));
    static const py::object* np_floating =
        new py::object(py::module::import("numpy").attr("floating"));
    PyObject* v = value.ptr();
    if (v == Py_None) {
        out = pmt::PMT_NIL;
        return true;
    }
    if (PyBool_Check(v)) {
        out = pmt::from_bool(v == Py_True);
        return true;
    }
    if (PyLong_CheckExact(v)) {
        return long_of(v, out);
    }
    if (PyFloat_Check(v)) { // float and numpy.float64
        out = pmt::from_double(PyFloat_AS_DOUBLE(v));
        return true;
    }
    if (py::isinstance(value, *np_integer)) {
        const py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(v));
        if (!index) {
            PyErr_Clear();
            return false;
        }
        return long_of(index.ptr(), out);
    }
    if (py::isinstance(value, *np_floating)) {
        const double x = PyFloat_AsDouble(v);
        if (x == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return false;
        }
        out = pmt::from_double(x);
        return true;
    }
    if (array_uvector(value, out)) { // a numpy array's buffer copied at once
        return true;
    }
    if (PyUnicode_CheckExact(v)) {
        Py_ssize_t len = 0;
        const char* str = PyUnicode_AsUTF8AndSize(v, &len);
        if (str == nullptr) {
            throw py::error_already_set();
        }
        out = pmt::intern(std::string(str, static_cast<size_t>(len)));
        return true;
    }
    if (py::isinstance(value, *pmt_base)) {
        out = value.cast<pmt::pmt_t>();
        return true;
    }
    return false;
}

// meta_to_pmt: the common values (common_to_pmt) here, every other value (and a key that
// is not an exact str: None is returned, the caller runs its own code) through
// `value_to_pmt(value, key)`.
py::object meta_to_pmt(const py::dict& meta, const py::object& value_to_pmt)
{
    pmt::pmt_t d = pmt::make_dict();
    for (auto item : meta) {
        PyObject* k = item.first.ptr();
        if (!PyUnicode_CheckExact(k)) {
            return py::none();
        }
        Py_ssize_t klen = 0;
        const char* kstr = PyUnicode_AsUTF8AndSize(k, &klen);
        if (kstr == nullptr) {
            throw py::error_already_set();
        }
        pmt::pmt_t val;
        if (!common_to_pmt(item.second, val)) {
            val = value_to_pmt(item.second, item.first).cast<pmt::pmt_t>();
        }
        // what dict_add makes of a key the dictionary lacks (a python dict's str keys are
        // distinct), without its search for the key: O(1), not O(keys), per key
        d = pmt::acons(pmt::intern(std::string(kstr, static_cast<size_t>(klen))), val, d);
    }
    return py::cast(d);
}

// meta_from_pmt of a PMT dictionary: bool, symbol, u64, long, real, complex, uniform
// vector and nil values here, nested dictionaries recursively, anything else through
// `pmt_to_py(value)`. None when a key is not a symbol (the caller's code raises).
py::object meta_from_pmt(const pmt::pmt_t& msg, const py::object& pmt_to_py)
{
    py::dict out;
    pmt::pmt_t items = pmt::dict_items(msg);
    while (pmt::is_pair(items)) {
        pmt::pmt_t item = pmt::car(items);
        items = pmt::cdr(items);
        pmt::pmt_t key = pmt::car(item);
        if (!pmt::is_symbol(key) || pmt::is_bool(key)) {
            return py::none();
        }
        pmt::pmt_t v = pmt::cdr(item);
        py::object val;
        if (pmt::is_bool(v)) {
            val = py::bool_(pmt::to_bool(v));
        } else if (pmt::is_symbol(v)) {
            val = py::str(pmt::symbol_to_string(v));
        } else if (pmt::is_uint64(v)) {
            val = py::int_(pmt::to_uint64(v));
        } else if (pmt::is_integer(v)) {
            val = py::int_(pmt::to_long(v));
        } else if (pmt::is_real(v)) {
            val = py::float_(pmt::to_double(v));
        } else if (pmt::is_complex(v)) {
            val = py::cast(pmt::to_complex(v));
        } else if (pmt::is_uniform_vector(v)) {
            val = uvector_to_array(v);
        } else if (pmt::is_dict(v) && !pmt::is_null(v)) {
            val = meta_from_pmt(v, pmt_to_py);
            if (val.is_none()) {
                return py::none();
            }
        } else if (pmt::is_null(v)) {
            val = py::none();
        } else {
            val = pmt_to_py(py::cast(v));
        }
        out[py::str(pmt::symbol_to_string(key))] = val;
    }
    return std::move(out);
}

} // namespace

void bind_pmt_convert(py::module& m)
{
    m.def(
        "uvector_from_array",
        [](py::array a) { return uvector_from_array(a); },
        py::arg("a"),
        "The PMT uniform vector of a C-contiguous 1-D numpy array of its dtype (uint8 -> "
        "u8vector ... complex128 -> c64vector), one copy of the buffer.");
    m.def(
        "uvector_to_array",
        [](py::object v) { return uvector_to_array(v.cast<pmt::pmt_t>()); },
        py::arg("v"),
        "A copy of a PMT uniform vector as a 1-D numpy array of its type (u8vector -> "
        "uint8 ... c64vector -> complex128).");
    m.def(
        "meta_to_pmt",
        [](py::dict meta, py::object value_to_pmt) {
            return meta_to_pmt(meta, value_to_pmt);
        },
        py::arg("meta"),
        py::arg("value_to_pmt"),
        "A metadata dict as a PMT dictionary: exact bool, int, float, str, None and pmt "
        "values here, others through value_to_pmt(value, key); None when a key is not an "
        "exact str.");
    m.def(
        "meta_from_pmt",
        [](py::object msg, py::object pmt_to_py) {
            return meta_from_pmt(msg.cast<pmt::pmt_t>(), pmt_to_py);
        },
        py::arg("msg"),
        py::arg("pmt_to_py"),
        "A PMT dictionary as a python dict: scalars, symbols, uniform vectors, nil and "
        "nested dictionaries here, other values through pmt_to_py(value); None when a "
        "key "
        "is not a symbol.");
}
