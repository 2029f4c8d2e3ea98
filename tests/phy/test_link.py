"""Tests of the LinkModel interface and the random-coding link (eqs. (8), (14) of MU-ASCC)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import ArrayLike

from semdacom.phy import fbl, link
from semdacom.phy.fbl import FloatOrArray


class _ShiftedLink(link.LinkModel):
    """Minimal concrete model: eq. (14) evaluated at 2x the SINR (a 3 dB better code)."""

    name = "shifted"

    def log10_ber(self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike) -> FloatOrArray:
        return fbl.log10_ber(2.0 * np.asarray(sinr), rc, L)

    def log10_ber_and_grad(
        self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike
    ) -> tuple[FloatOrArray, FloatOrArray, FloatOrArray]:
        v, dg, drc = fbl.log10_ber_and_grad(2.0 * np.asarray(sinr), rc, L)
        return v, 2.0 * dg, drc


def test_link_model_is_abstract() -> None:
    with pytest.raises(TypeError):
        link.LinkModel()  # type: ignore[abstract]


def test_random_coding_link_matches_fbl() -> None:
    m = link.RandomCodingLink()
    assert isinstance(m, link.LinkModel)
    assert m.name == "random_coding"
    s = np.array([0.0, 0.3, 1.0, 3.0, 30.0])
    np.testing.assert_array_equal(m.log10_ber(s, 1.0, 256), fbl.log10_ber(s, 1.0, 256))
    np.testing.assert_array_equal(
        m.packet_error_prob(s, 1.0, 256), fbl.packet_error_prob(s, 1.0, 256)
    )
    np.testing.assert_array_equal(
        m.log_packet_error_prob(s, 1.0, 256), fbl.log_packet_error_prob(s, 1.0, 256)
    )
    np.testing.assert_array_equal(m.ber(s, 1.0, 256), fbl.ber(s, 1.0, 256))
    for a, b in zip(
        m.log10_ber_and_grad(s, 1.0, 256), fbl.log10_ber_and_grad(s, 1.0, 256), strict=True
    ):
        np.testing.assert_array_equal(a, b)


def test_paper_form_link() -> None:
    m = link.RandomCodingLink(paper_form=True)
    assert m.name == "random_coding_paper_form"
    assert "paper_form=True" in repr(m)
    assert m.log10_ber(3.0, 1.0, 256) == fbl.log10_ber(3.0, 1.0, 256, paper_form=True)
    # the printed form has a larger Q argument, hence a smaller BER above capacity margin
    assert m.log10_ber(3.0, 1.0, 256) < link.RandomCodingLink().log10_ber(3.0, 1.0, 256)


def test_default_ber_and_packet_error_prob() -> None:
    m = _ShiftedLink()
    s = np.array([0.0, 0.2, 1.0, 2.0])
    ber = m.ber(s, 1.0, 64)
    assert np.all((ber >= 0) & (ber <= 0.5))
    np.testing.assert_allclose(ber, fbl.ber(2 * s, 1.0, 64), rtol=1e-12)
    # the default inverts eq. (14): rho = BER * rc * L
    np.testing.assert_allclose(
        m.packet_error_prob(s, 1.0, 64), fbl.packet_error_prob(2 * s, 1.0, 64), rtol=1e-10
    )
    assert isinstance(m.ber(1.0, 1.0, 64), float)


@settings(max_examples=40, deadline=None)
@given(
    target=st.floats(-40.0, -3.0),
    rc=st.floats(0.2, 4.0),
    L=st.sampled_from([64, 256, 1024, 4096]),
)
def test_required_sinr_inverts_log10_ber(target: float, rc: float, L: int) -> None:
    m = link.RandomCodingLink()
    s = m.required_sinr(target, rc, L)
    if m.log10_ber(0.0, rc, L) <= target:
        assert s == 0.0
        return
    assert 0.0 < s < np.inf
    assert m.log10_ber(s, rc, L) <= target
    assert m.log10_ber(s * (1 - 1e-9), rc, L) >= target - 1e-6


def test_required_sinr_edges() -> None:
    m = link.RandomCodingLink()
    out = m.required_sinr([-1.0, -6.0, -1e7], 1.0, 256)
    assert out[0] == 0.0  # log10 BER <= -log10(256) already at sinr 0
    assert 0.0 < out[1] < np.inf
    assert out[2] == np.inf
    # a required SINR grows with the coding rate
    r = m.required_sinr(-6.0, np.array([0.5, 1.0, 2.0]), 256)
    assert np.all(np.diff(r) > 0)
    assert math.isclose(float(m.log10_ber(out[1], 1.0, 256)), -6.0, abs_tol=1e-6)


def test_physical_link() -> None:
    from semdacom.mu_ascc.optimizer.problem import link_from_spec

    lk = link.physical_link()
    assert isinstance(lk, link.RandomCodingLink) and lk.packet_loss and not lk.paper_form
    assert lk.name == "random_coding_packet_loss"
    g = np.array([0.0, 0.5, 3.0, 30.0])
    np.testing.assert_allclose(
        lk.log10_ber(g, 1.2, 256), fbl.log10_ber(g, 1.2, 256, packet_loss=True)
    )
    np.testing.assert_allclose(lk.ber(0.0, 1.2, 256), 0.5)
    np.testing.assert_allclose(lk.log10_prefactor(1.2, 256), -np.log10(2.0))
    np.testing.assert_allclose(link.RandomCodingLink().log10_prefactor(1.2, 256), -np.log10(307.2))
    for spec in ("physical", "packet_loss"):
        assert link_from_spec(spec).packet_loss and not link_from_spec(spec).paper_form
    assert link_from_spec("physical_paper").paper_form
    assert not link_from_spec("random_coding").packet_loss
