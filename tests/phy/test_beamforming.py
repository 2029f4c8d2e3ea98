"""Tests of SINRs, uplink-downlink duality, MMSE/ZF/MRT and water-filling (MU-ASCC [1])."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from semdacom.phy import beamforming as bf

seeds = st.integers(min_value=0, max_value=2**32 - 1)
prop = settings(max_examples=60, deadline=None)


def crandn(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)


@st.composite
def systems(draw: st.DrawFn) -> tuple:
    """A random (K, N_t) system with K in 2..6 and N_t in K..8."""
    K = draw(st.integers(2, 6))
    nt = draw(st.integers(K, 8))
    rng = np.random.default_rng(draw(seeds))
    return K, nt, rng


def loop_downlink_sinr(H, p, W, nv):
    K = H.shape[0]
    out = np.empty(K)
    for i in range(K):
        sig = p[i] * abs(np.vdot(H[i], W[i])) ** 2
        intf = sum(p[j] * abs(np.vdot(H[i], W[j])) ** 2 for j in range(K) if j != i)
        out[i] = sig / (intf + nv[i])
    return out


def loop_uplink_sinr(Hb, q, W):
    K = Hb.shape[0]
    out = np.empty(K)
    for i in range(K):
        sig = q[i] * abs(np.vdot(Hb[i], W[i])) ** 2
        intf = sum(q[j] * abs(np.vdot(Hb[j], W[i])) ** 2 for j in range(K) if j != i)
        out[i] = sig / (intf + 1.0)
    return out


# --------------------------------------------------------------------------- SINRs (7), (33)


def test_paper_channel() -> None:
    H = bf.paper_channel()
    assert H.shape == (2, 2) and H.dtype == np.complex128
    np.testing.assert_array_equal(H[0], [-0.4199 - 1.2885j, 0.2092 + 1.0851j])
    np.testing.assert_array_equal(H[1], [-0.4546 + 1.0362j, -0.5603 + 0.7316j])


def test_normalize_channel() -> None:
    rng = np.random.default_rng(1)
    H = crandn(rng, 3, 4)
    nv = np.array([0.5, 2.0, 4.0])
    Hb = bf.normalize_channel(H, nv)
    np.testing.assert_allclose(Hb, H / np.sqrt(nv)[:, None])
    # eq. (7) with (H, sigma^2) equals eq. (7) with (Hbar, 1)
    W = bf.random_unit_beamformers(3, 4, rng)
    p = rng.uniform(0.1, 2.0, 3)
    np.testing.assert_allclose(bf.downlink_sinr(H, p, W, nv), bf.downlink_sinr(Hb, p, W, 1.0))
    with pytest.raises(ValueError):
        bf.normalize_channel(H, [1.0, 0.0, 1.0])


def test_downlink_sinr_hand_value() -> None:
    H = np.array([[1.0, 0.0], [0.0, 2.0]], dtype=complex)
    W = np.array([[1.0, 1.0], [1.0, -1.0]], dtype=complex) / np.sqrt(2)
    p = np.array([2.0, 1.0])
    # user 1: 2*|1/sqrt2|^2 / (1*|1/sqrt2|^2 + 0.5) = 1 / 1 ; user 2: 1*2 / (2*2 + 1) = 0.4
    np.testing.assert_allclose(bf.downlink_sinr(H, p, W, [0.5, 1.0]), [1.0, 0.4], rtol=1e-14)


@prop
@given(sys=systems())
def test_sinrs_match_loops_and_batch(sys: tuple) -> None:
    K, nt, rng = sys
    H = crandn(rng, K, nt)
    W = bf.random_unit_beamformers(K, nt, rng)
    p = rng.uniform(0.0, 3.0, K)
    nv = rng.uniform(0.1, 2.0, K)
    got = bf.downlink_sinr(H, p, W, nv)
    np.testing.assert_allclose(got, loop_downlink_sinr(H, p, W, nv), rtol=1e-12)
    np.testing.assert_allclose(bf.uplink_sinr(H, p, W), loop_uplink_sinr(H, p, W), rtol=1e-12)
    # batched leading dimensions
    Hs = np.stack([H, 2 * H, H.conj()])
    Ws = np.stack([W, W, W[::-1]])
    ps = np.stack([p, p, p])
    batch = bf.downlink_sinr(Hs, ps, Ws, nv)
    ub = bf.uplink_sinr(Hs, ps, Ws)
    for b in range(3):
        np.testing.assert_allclose(batch[b], bf.downlink_sinr(Hs[b], ps[b], Ws[b], nv), rtol=1e-13)
        np.testing.assert_allclose(ub[b], bf.uplink_sinr(Hs[b], ps[b], Ws[b]), rtol=1e-13)


# --------------------------------------------------------------------------- duality (34)-(37)


def _beams(rng: np.random.Generator, Hb: np.ndarray, kind: int) -> np.ndarray:
    K, nt = Hb.shape
    if kind == 0:
        return bf.mmse_beamformers(Hb, rng.uniform(0.1, 5.0, K))
    V = bf.zf_beamformers(Hb) + 0.2 * crandn(rng, K, nt) / np.sqrt(nt)
    return V / np.linalg.norm(V, axis=1, keepdims=True)


@prop
@given(sys=systems(), kind=st.integers(0, 1))
def test_duality_round_trip(sys: tuple, kind: int) -> None:
    K, nt, rng = sys
    Hb = crandn(rng, K, nt) * rng.uniform(0.5, 2.0, (K, 1))
    W = _beams(rng, Hb, kind)
    p = rng.uniform(0.1, 5.0, K)
    gamma = bf.downlink_sinr(Hb, p, W, 1.0)
    Psi, Phi = bf.udd_matrices(Hb, W, gamma)
    assume(np.linalg.cond(Phi) < 1e6)

    q = bf.uplink_powers_from_downlink(Hb, p, W)
    assert np.all(q > 0)
    np.testing.assert_allclose(bf.uplink_sinr(Hb, q, W), gamma, rtol=1e-9)
    assert q.sum() == pytest.approx(p.sum(), rel=1e-9)
    p_back = bf.downlink_powers_from_uplink(Hb, q, W)
    np.testing.assert_allclose(p_back, p, rtol=1e-9)
    # the power solves of eqs. (34)/(35) directly
    np.testing.assert_allclose(Psi @ p, np.ones(K), rtol=1e-9)
    np.testing.assert_allclose(Phi @ q, np.ones(K), rtol=1e-9)


def test_udd_matrices_signs_and_transpose() -> None:
    rng = np.random.default_rng(7)
    Hb = crandn(rng, 4, 5)
    W = bf.random_unit_beamformers(4, 5, rng)
    gamma = rng.uniform(0.1, 1.0, 4)
    Psi, Phi = bf.udd_matrices(Hb, W, gamma)
    np.testing.assert_array_equal(Psi, Phi.T)
    off = ~np.eye(4, dtype=bool)
    assert np.all(Psi[off] <= 0) and np.all(np.diag(Psi) > 0)
    G = bf.gain_matrix(Hb, W)
    np.testing.assert_allclose(np.diag(Phi), np.diag(G) / gamma)
    np.testing.assert_allclose(Phi[0, 1], -G[1, 0])  # Phi_kl = -|hbar_l^H w_k|^2


def test_paper_printed_signs_do_not_give_duality() -> None:
    # eqs. (36)/(37) as printed (positive off-diagonals) do not reproduce the SINRs
    Hb = bf.paper_channel()
    W = bf.mmse_beamformers(Hb, [1.5, 1.5])
    p = np.array([2.0, 1.0])
    gamma = bf.downlink_sinr(Hb, p, W, 1.0)
    Psi, Phi = bf.udd_matrices(Hb, W, gamma)
    printed = np.abs(Phi)
    q_printed = np.linalg.solve(printed, np.ones(2))
    assert not np.allclose(bf.uplink_sinr(Hb, np.abs(q_printed), W), gamma, rtol=1e-3)
    q = bf.uplink_powers_from_downlink(Hb, p, W)
    np.testing.assert_allclose(bf.uplink_sinr(Hb, q, W), gamma, rtol=1e-12)
    assert q.sum() == pytest.approx(3.0, rel=1e-12)


def test_powers_for_sinr_targets_and_errors() -> None:
    Hb = bf.paper_channel()
    W = bf.zf_beamformers(Hb)
    target = np.array([2.0, 0.0])
    p = bf.downlink_powers_for_sinr(Hb, W, target)
    assert p[1] == 0.0
    np.testing.assert_allclose(bf.downlink_sinr(Hb, p, W, 1.0), target, atol=1e-12)
    q = bf.uplink_powers_for_sinr(Hb, W, [1.0, 3.0])
    np.testing.assert_allclose(bf.uplink_sinr(Hb, q, W), [1.0, 3.0], rtol=1e-12)
    np.testing.assert_array_equal(bf.uplink_powers_for_sinr(Hb, W, [0.0, 0.0]), [0.0, 0.0])

    # both users on the same beam: SINR 10 each is infeasible
    same = np.repeat(bf.mrt_beamformers(Hb)[:1], 2, axis=0)
    with pytest.raises(ValueError, match="infeasible"):
        bf.downlink_powers_for_sinr(Hb, same, [10.0, 10.0])
    with pytest.raises(ValueError, match="infeasible"):
        bf.uplink_powers_for_sinr(Hb, same, [10.0, 10.0])
    # a user with zero gain on its own beam
    H0 = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=complex)
    W0 = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=complex)
    with pytest.raises(ValueError, match="infeasible"):
        bf.downlink_powers_for_sinr(H0, W0, [1.0, 1.0])
    with pytest.raises(ValueError, match="unit norm"):
        bf.uplink_powers_from_downlink(Hb, [1.0, 1.0], 2 * W)
    with pytest.raises(ValueError):
        bf.uplink_powers_from_downlink(Hb, [1.0, -1.0], W)


def test_zero_power_user_in_duality() -> None:
    rng = np.random.default_rng(3)
    Hb = crandn(rng, 3, 4)
    W = bf.mmse_beamformers(Hb, np.ones(3))
    p = np.array([1.0, 0.0, 2.0])
    q = bf.uplink_powers_from_downlink(Hb, p, W)
    assert q[1] == 0.0
    assert q.sum() == pytest.approx(3.0, rel=1e-12)
    np.testing.assert_allclose(
        bf.uplink_sinr(Hb, q, W), bf.downlink_sinr(Hb, p, W, 1.0), rtol=1e-10
    )


# --------------------------------------------------------------------------- beamformers


@prop
@given(sys=systems(), trials=st.integers(1, 4))
def test_mmse_beats_random_unit_beams(sys: tuple, trials: int) -> None:
    K, nt, rng = sys
    Hb = crandn(rng, K, nt) * rng.uniform(0.3, 3.0, (K, 1))
    q = rng.uniform(0.0, 5.0, K)
    Wm = bf.mmse_beamformers(Hb, q)
    np.testing.assert_allclose(np.linalg.norm(Wm, axis=1), 1.0, rtol=1e-12)
    s_mmse = bf.uplink_sinr(Hb, q, Wm)
    for _ in range(trials):
        s_rand = bf.uplink_sinr(Hb, q, bf.random_unit_beamformers(K, nt, rng))
        assert np.all(s_mmse >= s_rand * (1 - 1e-10))
    # it attains the optimum q_i hbar_i^H (I + sum_{j != i} q_j hbar_j hbar_j^H)^-1 hbar_i
    for i in range(K):
        R = np.eye(nt, dtype=complex)
        for j in range(K):
            if j != i:
                R += q[j] * np.outer(Hb[j], Hb[j].conj())
        opt = q[i] * np.real(np.vdot(Hb[i], np.linalg.solve(R, Hb[i])))
        assert s_mmse[i] == pytest.approx(opt, rel=1e-9, abs=1e-15)


@prop
@given(sys=systems())
def test_zf_nulls_interference(sys: tuple) -> None:
    K, nt, rng = sys
    H = crandn(rng, K, nt)
    W = bf.zf_beamformers(H)
    np.testing.assert_allclose(np.linalg.norm(W, axis=1), 1.0, rtol=1e-12)
    C = H.conj() @ W.T  # C[i, j] = h_i^H w_j
    off = ~np.eye(K, dtype=bool)
    assert np.max(np.abs(C[off])) <= 1e-10 * np.max(np.abs(np.diag(C)))
    assert np.all(np.abs(np.diag(C)) > 0)
    # no interference left: downlink SINR = p_i |h_i^H w_i|^2 / sigma^2
    p = rng.uniform(0.1, 2.0, K)
    np.testing.assert_allclose(
        bf.downlink_sinr(H, p, W, 1.0), p * np.abs(np.diag(C)) ** 2, rtol=1e-9
    )


def test_zf_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="K <= N_t"):
        bf.zf_beamformers(crandn(rng, 3, 2))
    h = crandn(rng, 1, 3)
    with pytest.raises(ValueError, match="rank"):
        bf.zf_beamformers(np.vstack([h, 2j * h]))


def test_mrt_and_random_beams() -> None:
    rng = np.random.default_rng(5)
    H = crandn(rng, 3, 4)
    W = bf.mrt_beamformers(H)
    np.testing.assert_allclose(np.linalg.norm(W, axis=1), 1.0)
    np.testing.assert_allclose(np.einsum("kn,kn->k", H.conj(), W), np.linalg.norm(H, axis=1))
    with pytest.raises(ValueError):
        bf.mrt_beamformers(np.zeros((2, 2)))
    R1 = bf.random_unit_beamformers(3, 4, 42)
    R2 = bf.random_unit_beamformers(3, 4, np.random.default_rng(42))
    np.testing.assert_array_equal(R1, R2)
    np.testing.assert_allclose(np.linalg.norm(R1, axis=1), 1.0)
    assert R1.shape == (3, 4) and np.iscomplexobj(R1)


# --------------------------------------------------------------------------- water-filling


def _wf_bisection(g: np.ndarray, pmax: float, nv: np.ndarray) -> np.ndarray:
    floor = np.where(g > 0, nv / np.where(g > 0, g, 1.0), np.inf)
    lo, hi = 0.0, pmax + np.min(floor)
    for _ in range(200):
        mu = 0.5 * (lo + hi)
        if np.sum(np.maximum(mu - floor, 0.0)) > pmax:
            hi = mu
        else:
            lo = mu
    return np.maximum(0.5 * (lo + hi) - floor, 0.0)


@prop
@given(
    gains=st.lists(st.floats(0.0, 100.0), min_size=1, max_size=8),
    pmax=st.floats(1e-3, 100.0),
    noise=st.floats(0.01, 10.0),
)
def test_water_filling_kkt(gains: list, pmax: float, noise: float) -> None:
    g = np.asarray(gains)
    assume(np.any(g > 1e-6))
    g = np.where(g > 1e-6, g, 0.0)
    p = bf.water_filling(g, pmax, noise)
    assert np.all(p >= 0)
    assert p.sum() == pytest.approx(pmax, rel=1e-12)
    assert np.all(p[g == 0] == 0)
    act = p > 0
    floor = noise / g[act]
    level = p[act] + floor
    np.testing.assert_allclose(level, level[0], rtol=1e-12)
    inactive = (~act) & (g > 0)
    assert np.all(noise / g[inactive] >= level[0] * (1 - 1e-12))
    ref = _wf_bisection(g, pmax, np.full(g.shape, noise))
    np.testing.assert_allclose(p, ref, atol=1e-9 * pmax + 1e-13 * level[0])


def test_water_filling_cases() -> None:
    # one weak channel: mu = p_max + 6e4, p must still be exactly p_max
    assert bf.water_filling([1.6448448070728896e-05], 1.4248350329685167)[0] == pytest.approx(
        1.4248350329685167, rel=1e-15
    )
    np.testing.assert_allclose(bf.water_filling([1.0, 0.1, 0.01], 1.0), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(bf.water_filling([1.0, 1.0], 2.0), [1.0, 1.0])
    # per-channel noise: floors 1 and 2 -> level 2.5
    np.testing.assert_allclose(bf.water_filling([1.0, 1.0], 1.0, [1.0, 2.0]), [1.0, 0.0])
    np.testing.assert_allclose(bf.water_filling([1.0, 1.0], 3.0, [1.0, 2.0]), [2.0, 1.0])
    np.testing.assert_array_equal(bf.water_filling([1.0, 2.0], 0.0), [0.0, 0.0])
    with pytest.raises(ValueError):
        bf.water_filling([0.0, 0.0], 1.0)
    with pytest.raises(ValueError):
        bf.water_filling([1.0, -1.0], 1.0)
    with pytest.raises(ValueError):
        bf.water_filling([1.0], -1.0)
