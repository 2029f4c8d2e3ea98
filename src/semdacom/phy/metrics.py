"""Measured SINR and BER of one user's received stream (numpy only).

The receiver estimates its effective channel gain g_i = sqrt(p_i) h_i^H w_i by
least squares against the known transmitted symbols, equalises by it, and
measures

    SINR_meas = |g|^2 E|s|^2 / E|y - g s|^2

which, over many symbols, converges to the downlink SINR of eq. (7) of MU-ASCC
(MU-ASCC [1]): the residual y - g s holds exactly the other users' superposed
signals and the noise. BER is counted for Gray QPSK (one bit per quadrature).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr


@dataclass
class SinrBerMeter:
    """Accumulates sufficient statistics of (reference, received) symbol pairs."""

    n: int = 0
    sum_ys: complex = 0.0j  # sum y s*
    sum_ss: float = 0.0  # sum |s|^2
    sum_yy: float = 0.0  # sum |y|^2
    bit_errors: int = 0
    bits: int = 0

    def update(self, ref: np.ndarray, rx: np.ndarray, gain: complex | None = None) -> None:
        """Add a block of transmitted symbols ``ref`` and received samples ``rx``.

        Bits are decided after equalising by ``gain`` if given, else by the running
        least-squares gain estimate (the first block uses its own estimate).
        """
        ref = np.asarray(ref, dtype=np.complex128)
        rx = np.asarray(rx, dtype=np.complex128)
        if ref.shape != rx.shape:
            raise ValueError(f"ref and rx shapes differ: {ref.shape} vs {rx.shape}")
        if ref.size == 0:
            return
        self.n += ref.size
        self.sum_ys += complex(np.vdot(ref, rx))
        self.sum_ss += float(np.vdot(ref, ref).real)
        self.sum_yy += float(np.vdot(rx, rx).real)
        g = gain if gain is not None else self.gain
        if g == 0:
            return
        z = rx / g
        self.bit_errors += int(
            np.count_nonzero(np.signbit(z.real) != np.signbit(ref.real))
            + np.count_nonzero(np.signbit(z.imag) != np.signbit(ref.imag))
        )
        self.bits += 2 * ref.size

    @property
    def gain(self) -> complex:
        """Least-squares effective gain estimate sum(y s*) / sum(|s|^2)."""
        return self.sum_ys / self.sum_ss if self.sum_ss > 0 else 0.0j

    @property
    def residual_power(self) -> float:
        """Mean |y - g s|^2 with the least-squares g (interference plus noise)."""
        if self.n == 0:
            return float("nan")
        g = self.gain
        # sum|y - g s|^2 = sum|y|^2 - 2 Re(g* sum y s*) + |g|^2 sum|s|^2
        r = self.sum_yy - 2.0 * (np.conj(g) * self.sum_ys).real + abs(g) ** 2 * self.sum_ss
        return max(float(r), 0.0) / self.n

    @property
    def sinr(self) -> float:
        """Measured linear SINR."""
        if self.n == 0:
            return float("nan")
        sig = abs(self.gain) ** 2 * self.sum_ss / self.n
        res = self.residual_power
        return float("inf") if res == 0 else sig / res

    @property
    def ber(self) -> float:
        """Measured bit error rate of Gray QPSK after equalisation."""
        return self.bit_errors / self.bits if self.bits else float("nan")

    def summary(self) -> dict:
        """Plain-python dict of the results (JSON-serialisable)."""
        sinr = self.sinr
        return {
            "symbols": self.n,
            "gain_re": float(np.real(self.gain)),
            "gain_im": float(np.imag(self.gain)),
            "sinr": sinr,
            "sinr_db": 10.0 * np.log10(sinr) if sinr > 0 else float("-inf"),
            "ber": self.ber,
            "bit_errors": self.bit_errors,
            "bits": self.bits,
        }


def qpsk_ber(sinr: np.ndarray | float) -> np.ndarray:
    """Gray-QPSK bit error rate Q(sqrt(SINR)), treating interference as Gaussian noise."""
    return ndtr(-np.sqrt(np.asarray(sinr, dtype=float)))
