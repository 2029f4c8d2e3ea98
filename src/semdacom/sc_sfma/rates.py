"""SINR, rate, delay, latency and energy of SC-SFMA ([2]): eqs. (11)-(16) and (27).

Units: powers in watts, bandwidths in Hz, rates in bit/s, sizes in bits, times in seconds,
energies in joules; SNRs in dB only where the name says ``_db``. numpy only.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DB",
    "LN2",
    "comp_energy",
    "energy",
    "latency",
    "rate",
    "rate_dnu",
    "residual_time",
    "sinr",
    "snr_db",
    "tx_delay",
]

LN2 = math.log(2.0)
DB = 10.0 / math.log(10.0)  # ds/dln(gamma): s = DB * ln(gamma)


def snr_db(power_w: ArrayLike, gain: ArrayLike, n0_w_per_hz: float, bw_hz: ArrayLike) -> NDArray:
    """Received SNR in dB, ``s = 10 log10(P g / (N0 B))`` (the argument of eq. (10))."""
    p = np.asarray(power_w, dtype=float) * np.asarray(gain, dtype=float)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(p / (n0_w_per_hz * np.asarray(bw_hz, dtype=float)))


def sinr(gamma: ArrayLike, xi_value: ArrayLike) -> NDArray:
    """Effective SINR, eq. (11): ``gamma / (xi gamma + 1)`` with ``gamma = P g / (N0 B)`` linear:
    xi scales the partner's signal, which arrives through the user's own channel."""
    g = np.asarray(gamma, dtype=float)
    return g / (np.asarray(xi_value, dtype=float) * g + 1.0)


def rate(bw_hz: ArrayLike, sinr_value: ArrayLike) -> NDArray:
    """Rate, eq. (12): ``B log2(1 + SINR)`` in bit/s (the pair sum rate (13) adds two)."""
    return np.asarray(bw_hz, dtype=float) * np.log2(1.0 + np.asarray(sinr_value, dtype=float))


def rate_dnu(
    bw_hz: ArrayLike,
    gamma: ArrayLike,
    xi_value: ArrayLike,
    dxi_dnu: ArrayLike,
    d2xi_dnu2: ArrayLike | None = None,
) -> tuple[NDArray, NDArray | None]:
    """First (and second, when ``d2xi_dnu2`` is given) derivative of eq. (12) in nu at fixed
    ``gamma``: ``dR/dnu = dR/dxi * dxi/dnu`` with
    ``dR/dxi = -B gamma^2 / (ln2 u (u + gamma))``, ``u = xi gamma + 1`` (the terms of eq. (25))."""
    bw = np.asarray(bw_hz, dtype=float)
    g = np.asarray(gamma, dtype=float)
    x = np.asarray(xi_value, dtype=float)
    dx = np.asarray(dxi_dnu, dtype=float)
    u = x * g + 1.0
    dr_dxi = -bw * g * g / (LN2 * u * (u + g))
    d1 = dr_dxi * dx
    if d2xi_dnu2 is None:
        return d1, None
    d2r_dxi2 = bw * g**3 * (2.0 * u + g) / (LN2 * u * u * (u + g) ** 2)
    d2 = d2r_dxi2 * dx * dx + dr_dxi * np.asarray(d2xi_dnu2, dtype=float)
    return d1, d2


def tx_delay(nu: ArrayLike, source_bits: ArrayLike, rate_bps: ArrayLike) -> NDArray:
    """Transmission delay, eq. (14): ``nu S / R`` (inf where the rate is 0)."""
    r = np.asarray(rate_bps, dtype=float)
    num = np.asarray(nu, dtype=float) * np.asarray(source_bits, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r > 0, num / np.where(r > 0, r, 1.0), np.inf)


def latency(
    t_tx: ArrayLike, c_enc: ArrayLike, c_dec: ArrayLike, f_bs: float, f_user: float
) -> NDArray:
    """Per-user end-to-end latency, the term of eq. (15): ``T_tx + C_enc / f_BS + C_dec / f_U``;
    the group's latency is the maximum over its two users."""
    return (
        np.asarray(t_tx, dtype=float)
        + np.asarray(c_enc, dtype=float) / f_bs
        + np.asarray(c_dec, dtype=float) / f_user
    )


def residual_time(
    t_max: float, c_enc: ArrayLike, c_dec: ArrayLike, f_bs: float, f_user: float
) -> NDArray:
    """Residual transmission-time budget, eq. (27): ``T_max - C_enc / f_BS - C_dec / f_U``."""
    return t_max - np.asarray(c_enc, dtype=float) / f_bs - np.asarray(c_dec, dtype=float) / f_user


def comp_energy(
    c_enc: ArrayLike, c_dec: ArrayLike, f_bs: float, f_user: float, kappa: float
) -> NDArray:
    """Computation energy of one user, the second term of eq. (16):
    ``kappa (C_enc f_BS^2 + C_dec f_U^2)`` (dynamic CMOS energy per cycle ``kappa f^2``)."""
    return kappa * (
        np.asarray(c_enc, dtype=float) * f_bs**2 + np.asarray(c_dec, dtype=float) * f_user**2
    )


def energy(power_w: ArrayLike, t_tx_pair_max: ArrayLike, e_comp_pair: ArrayLike) -> NDArray:
    """Energy of a group, eq. (16): ``P_m max_k T_k^tx + sum_k E_comp,k`` (the block radiates
    ``P_m`` until the slower user's payload is out)."""
    return np.asarray(power_w, dtype=float) * np.asarray(t_tx_pair_max, dtype=float) + np.asarray(
        e_comp_pair, dtype=float
    )
