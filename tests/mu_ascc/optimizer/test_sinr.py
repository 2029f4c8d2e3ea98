"""MMSE SINRs of the virtual uplink and the dual downlink (optimizer/sm.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from opt_helpers import random_channel

from semdacom.mu_ascc.optimizer import sinr as sm
from semdacom.phy import beamforming as bf


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 5), n_t=st.integers(1, 6))
def test_mmse_sinr_matches_eq33_with_eq43_beams(seed: int, k: int, n_t: int) -> None:
    rng = np.random.default_rng(seed)
    hbar = random_channel(rng, k, n_t)
    Q = rng.uniform(0.0, 3.0, (3, k))
    gamma, jac = sm.mmse_sinr(hbar, Q)
    for s in range(3):
        W = bf.mmse_beamformers(hbar, Q[s])
        np.testing.assert_allclose(gamma[s], bf.uplink_sinr(hbar, Q[s], W), rtol=1e-8, atol=1e-12)
        for j in range(k):
            dq = np.zeros(k)
            dq[j] = 1e-6
            fd = (sm.mmse_sinr(hbar, (Q[s] + dq)[None], False)[0] - gamma[s]) / 1e-6
            np.testing.assert_allclose(jac[s, :, j], fd, rtol=1e-3, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 6), extra=st.integers(0, 2))
def test_transfer_sinrs_match_a_fresh_mmse_evaluation(seed: int, k: int, extra: int) -> None:
    """The rank-2 Woodbury update gives the same SINRs as recomputing eq. (33) with eq. (43)."""
    rng = np.random.default_rng(seed)
    hbar = random_channel(rng, k, k + extra)
    q0 = rng.uniform(0.1, 2.0, k)
    C0 = sm.mmse_gram(hbar, q0[None])[0]
    i = rng.integers(0, k, 6)
    j = (i + rng.integers(1, k, 6)) % k
    a = q0[i] * rng.uniform(0.0, 1.0, 6)
    gam, Q = sm.transfer_sinrs(C0, q0, i, j, a)
    np.testing.assert_allclose(Q.sum(axis=1), q0.sum(), rtol=1e-12)
    np.testing.assert_allclose(gam, sm.mmse_sinr(hbar, Q, grad=False), rtol=1e-7, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n_t=st.integers(1, 5), scale=st.floats(0.05, 5.0))
def test_two_user_closed_form_and_final_step(seed: int, n_t: int, scale: float) -> None:
    """Closed-form 2-user MMSE SINRs and the unchecked beams/duality step match phy.beamforming."""
    rng = np.random.default_rng(seed)
    hbar = random_channel(rng, 2, n_t) * scale
    a = np.concatenate([[0.0, 1.0], rng.uniform(0.0, 1.0, 30)])
    P = float(rng.uniform(0.1, 10.0))
    Q = P * np.stack([a, 1.0 - a], axis=1)
    ref = sm.mmse_sinr(hbar, Q, grad=False)
    np.testing.assert_allclose(sm.two_user_sinr(hbar, Q[:, 0], Q[:, 1]), ref, rtol=1e-9)
    np.testing.assert_allclose(sm.TwoUserSplits(sm.gram2(hbar), P)(a), ref, rtol=1e-9)
    gram = sm.gram2(hbar)
    for q in Q[:6]:  # both users on, and one user at zero power
        W0 = bf.mmse_beamformers(hbar, q)
        try:
            p0 = bf.downlink_powers_from_uplink(hbar, q, W0)
        except ValueError:
            p0 = q.copy()
        for W, p, sinr in (
            sm.beams_and_downlink(hbar, q, P),
            sm.beams_and_downlink_2(hbar, gram, q, P),
        ):
            np.testing.assert_allclose(W, W0, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(p, p0, rtol=1e-7, atol=1e-12 * P)
            np.testing.assert_allclose(sinr, bf.downlink_sinr(hbar, p, W, 1.0), rtol=1e-7)
