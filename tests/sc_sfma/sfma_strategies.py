"""Hypothesis strategies of the SC-SFMA model tests: parameters of eq. (10) of SC-SFMA."""

from __future__ import annotations

from hypothesis import strategies as st

finite = dict(allow_nan=False, allow_infinity=False)


@st.composite
def xi_params(draw):
    lo = draw(st.floats(0.0, 0.5, **finite))
    hi = lo + draw(st.floats(0.0, 0.9, **finite))
    return {
        "xi_lo": lo,
        "xi_hi": hi,
        "a": draw(st.floats(0.01, 2.0, **finite)),
        "b": draw(st.floats(0.1, 40.0, **finite)),
        "s0": draw(st.floats(-10.0, 30.0, **finite)),
        "nu0": draw(st.floats(0.0, 1.0, **finite)),
    }


snr = st.floats(-20.0, 50.0, **finite)
ratio = st.floats(1e-3, 1.0, **finite)
