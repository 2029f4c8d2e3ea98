"""TabulatedLink (phy/link.py): the LinkModel built from measured link tables."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semdacom.phy.link import LinkModel, TabulatedLink


def _synthetic(L: int, shift: float) -> dict:
    """A table whose MCS waterfalls are logistic in SNR (dB), later for higher rates."""
    mcs = []
    for i, rc in enumerate([0.5, 1.0, 2.0, 4.0]):
        x = np.arange(-5.0, 25.0, 0.5)
        centre = 10 * np.log10(2**rc - 1) + shift
        ber = 0.3 / (1 + np.exp(3.0 * (x - centre)))
        ber[ber < 1e-7] = 0.0  # points with no error are dropped by the model
        mcs.append({"index": i, "rc_effective": rc, "snr_db": x.tolist(), "ber": ber.tolist(),
                    "bler": np.minimum(1, 100 * ber).tolist()})  # fmt: skip
    return {"format": "semdacom-link-table/1", "L": L, "mcs": mcs}


@pytest.fixture(scope="module")
def link() -> TabulatedLink:
    return TabulatedLink([_synthetic(256, 2.0), _synthetic(4096, 1.0)])


def test_is_a_link_model(link: TabulatedLink) -> None:
    assert isinstance(link, LinkModel)
    v = link.log10_ber(np.array([1.0, 10.0]), 1.0, 256)
    assert v.shape == (2,)
    assert np.isscalar(link.log10_ber(3.0, 1.0, 256)) or np.ndim(link.log10_ber(3.0, 1.0, 256)) == 0


def test_matches_table_points(link: TabulatedLink) -> None:
    t = _synthetic(256, 2.0)["mcs"][1]
    x = np.array(t["snr_db"])
    y = np.array(t["ber"])
    sel = (y > 1e-6) & (y < 0.29)
    got = link.log10_ber(10 ** (x[sel] / 10), 1.0, 256)
    assert np.allclose(got, np.log10(y[sel]), atol=1e-6)


@settings(max_examples=80, deadline=None)
@given(
    g=st.floats(1e-3, 1e4),
    rc=st.floats(0.1, 6.0),
    L=st.floats(50, 10000),
    factor=st.floats(1.001, 10.0),
)
def test_monotone_in_sinr_and_rc(g: float, rc: float, L: float, factor: float) -> None:
    link = TabulatedLink([_synthetic(256, 2.0), _synthetic(4096, 1.0)])
    assert link.log10_ber(g * factor, rc, L) <= link.log10_ber(g, rc, L) + 1e-9
    assert link.log10_ber(g, rc * factor, L) >= link.log10_ber(g, rc, L) - 1e-9


@settings(max_examples=60, deadline=None)
@given(g=st.floats(0.05, 2000), rc=st.floats(0.55, 3.9), L=st.floats(300, 4000))
def test_derivatives_match_finite_differences(g: float, rc: float, L: float) -> None:
    link = TabulatedLink([_synthetic(256, 2.0), _synthetic(4096, 1.0)])
    v, dg, dr = link.log10_ber_and_grad(g, rc, L)
    h = 1e-6
    fd_g = (link.log10_ber(g * (1 + h), rc, L) - link.log10_ber(g * (1 - h), rc, L)) / (2 * g * h)
    fd_r = (link.log10_ber(g, rc + h, L) - link.log10_ber(g, rc - h, L)) / (2 * h)
    assert np.isclose(dg, fd_g, rtol=1e-3, atol=1e-6 * (1 + abs(fd_g)))
    # rc is piecewise linear: away from the kinks the derivative is exact
    if min(abs(rc - k) for k in (1.0, 2.0)) > 1e-4:
        assert np.isclose(dr, fd_r, rtol=1e-3, atol=1e-6)


def test_required_sinr_inverts(link: TabulatedLink) -> None:
    s = link.required_sinr(-5.0, 2.0, 1000)
    assert np.isclose(link.log10_ber(s, 2.0, 1000), -5.0, atol=1e-6)


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        TabulatedLink([])
    with pytest.raises(ValueError):
        TabulatedLink([{"format": "other", "L": 1, "mcs": []}])
    link = TabulatedLink([_synthetic(256, 0.0)])
    with pytest.raises(ValueError):
        link.log10_ber(-1.0, 1.0, 256)
    with pytest.raises(ValueError):
        link.log10_ber(1.0, 0.0, 256)


def test_shipped_tables_load_and_are_monotone() -> None:
    try:
        link = TabulatedLink.shipped()
    except FileNotFoundError:
        pytest.skip("no shipped link tables")
    g = np.logspace(-1, 3, 200)
    for rc in (0.3, 1.0, 3.0, 6.0):
        for L in (256, 1000, 4096):
            v = link.log10_ber(g, rc, L)
            assert np.all(np.diff(v) <= 1e-9)
            assert np.all(v <= 0)


def test_mcs_mode_is_the_code_that_runs() -> None:
    """TabulatedLink(mcs=True): a rate is carried by the MCS of smallest effective rate at or
    above it (mcs_for), the value is that MCS's curve read as log10(BLER / 2) (piecewise
    constant in R_c, zero derivative), so rho = 2 BER is the codeword error rate."""
    tab = _synthetic(256, 2.0)
    link = TabulatedLink([tab], mcs=True)
    assert link.packet_loss and link.discrete
    mcs, rc = link.mcs_for([0.3, 0.5, 0.7, 3.9, 9.0], 256)
    assert mcs.tolist() == [0, 0, 1, 3, 3] and rc.tolist() == [0.5, 0.5, 1.0, 4.0, 4.0]
    m1 = tab["mcs"][1]
    x = np.asarray(m1["snr_db"])
    bler = np.asarray(m1["bler"])
    i = int(np.flatnonzero((bler > 1e-3) & (bler < 0.5))[0])
    sinr = 10 ** (x[i] / 10)
    for rc_ in (0.6, 0.8, 1.0):  # all carried by MCS 1
        v, dg, drc = link.log10_ber_and_grad(sinr, rc_, 256)
        assert v == pytest.approx(np.log10(bler[i] / 2), abs=1e-6) and drc == 0.0
    s = np.logspace(-1, 3, 50)
    assert np.all(np.diff(link.log10_ber(s, 0.8, 256)) <= 1e-12)  # non-increasing in SINR
    # the continuous link interpolates between neighbours instead
    cont = TabulatedLink([tab])
    assert cont.log10_ber(sinr, 0.75, 256) != link.log10_ber(sinr, 0.75, 256)
