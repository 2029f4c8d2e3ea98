"""Link models: the map (SINR, R_c, L) -> log10 BER used by the optimisers (design.md §5).

The MU-ASCC optimiser (seed 000) only needs ``log10 BER`` as a function of the linear SINR, the
channel coding rate ``R_c`` (bits per complex channel use) and the blocklength ``L``, together
with its partial derivatives (Lemma A.1, Lemma 4.1). :class:`LinkModel` is that interface;
:class:`RandomCodingLink` is the paper's ideal random-coding bound (eqs. (8) and (14)).
Remark 3.2 of the paper notes that practical codes plug in through their own BER relationship:
a further subclass, driven by measured BER tables of the LDPC+QAM codes, implements the same
interface.
"""

from __future__ import annotations

import abc

import numpy as np
from numpy.typing import ArrayLike

from . import fbl
from .fbl import FloatOrArray

__all__ = ["LinkModel", "RandomCodingLink"]


def _ret(a: np.ndarray) -> FloatOrArray:
    return a[()] if a.ndim == 0 else a


class LinkModel(abc.ABC):
    """Interface of a link model: ``log10 BER(sinr, rc, L)`` with its derivatives.

    All methods are vectorised with numpy broadcasting over ``sinr`` (linear), ``rc`` (bits per
    complex channel use) and ``L`` (channel uses per codeword). Implementations must make
    ``log10_ber`` non-increasing in ``sinr`` (the property Lemma A.1 of MU-ASCC proves for the
    random-coding bound), which the optimisers rely on.

    Attributes
    ----------
    name : str
        Short identifier of the model (used in logs and allocation diagnostics).
    """

    name: str = "link"

    @abc.abstractmethod
    def log10_ber(self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike) -> FloatOrArray:
        """Base-10 log of the bit error rate (the quantity of eq. (14) of MU-ASCC, seed 000).

        Parameters
        ----------
        sinr : array_like
            Linear SINR, ``>= 0``.
        rc : array_like
            Channel coding rate in bits per complex channel use, ``> 0``.
        L : array_like
            Blocklength in channel uses, ``> 0``.

        Returns
        -------
        float or ndarray
            ``log10 BER``.
        """

    @abc.abstractmethod
    def log10_ber_and_grad(
        self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike
    ) -> tuple[FloatOrArray, FloatOrArray, FloatOrArray]:
        """``log10 BER`` and its partial derivatives in ``sinr`` and ``rc``.

        Parameters
        ----------
        sinr : array_like
            Linear SINR, ``>= 0``.
        rc : array_like
            Channel coding rate in bits per complex channel use, ``> 0``.
        L : array_like
            Blocklength in channel uses, ``> 0``.

        Returns
        -------
        value, d_dsinr, d_drc : float or ndarray
            ``log10 BER`` and its partial derivatives.
        """

    def ber(self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike) -> FloatOrArray:
        """Bit error rate ``10 ** log10_ber`` clipped to ``[0, 0.5]``.

        Parameters
        ----------
        sinr : array_like
            Linear SINR, ``>= 0``.
        rc : array_like
            Channel coding rate in bits per complex channel use, ``> 0``.
        L : array_like
            Blocklength in channel uses, ``> 0``.

        Returns
        -------
        float or ndarray
            BER in ``[0, 0.5]``.
        """
        v = np.asarray(self.log10_ber(sinr, rc, L), dtype=np.float64)
        return _ret(np.clip(10.0**v, 0.0, 0.5))

    def packet_error_prob(self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike) -> FloatOrArray:
        """Packet error probability implied by the BER through eq. (14) of MU-ASCC (seed 000).

        The default inverts eq. (14): ``rho = BER * rc * L``, clipped to ``[0, 1]``.
        Subclasses with a direct packet error model (e.g. eq. (8)) override it.

        Parameters
        ----------
        sinr : array_like
            Linear SINR, ``>= 0``.
        rc : array_like
            Channel coding rate in bits per complex channel use, ``> 0``.
        L : array_like
            Blocklength in channel uses, ``> 0``.

        Returns
        -------
        float or ndarray
            Packet error probability in ``[0, 1]``.
        """
        v = np.asarray(self.log10_ber(sinr, rc, L), dtype=np.float64)
        nbits = np.asarray(rc, dtype=np.float64) * np.asarray(L, dtype=np.float64)
        return _ret(np.clip(10.0 ** (v + np.log10(nbits)), 0.0, 1.0))

    def required_sinr(
        self,
        target_log10_ber: ArrayLike,
        rc: ArrayLike,
        L: ArrayLike,
        sinr_max: float = 1e12,
        rtol: float = 1e-12,
    ) -> FloatOrArray:
        """Smallest linear SINR with ``log10_ber(sinr, rc, L) <= target_log10_ber``.

        Vectorised bisection on ``log(sinr)``; valid because ``log10_ber`` is non-increasing in
        ``sinr`` (Lemma A.1 of MU-ASCC, seed 000).

        Parameters
        ----------
        target_log10_ber : array_like
            Target base-10 log BER.
        rc : array_like
            Channel coding rate in bits per complex channel use, ``> 0``.
        L : array_like
            Blocklength in channel uses, ``> 0``.
        sinr_max : float, optional
            Largest SINR searched; targets not met there give ``inf``.
        rtol : float, optional
            Relative tolerance on the returned SINR.

        Returns
        -------
        float or ndarray
            Required SINR: 0 where the target is met at ``sinr == 0``, ``inf`` where it is not
            met at ``sinr_max``.
        """
        t, r, n = np.broadcast_arrays(
            np.asarray(target_log10_ber, dtype=np.float64),
            np.asarray(rc, dtype=np.float64),
            np.asarray(L, dtype=np.float64),
        )
        zero = np.asarray(self.log10_ber(np.zeros_like(t), r, n)) <= t
        top = np.asarray(self.log10_ber(np.full_like(t, sinr_max), r, n)) <= t
        lo = np.full_like(t, np.log(1e-300))
        hi = np.full_like(t, np.log(sinr_max))
        while np.any(hi - lo > rtol):
            mid = 0.5 * (lo + hi)
            ok = np.asarray(self.log10_ber(np.exp(mid), r, n)) <= t
            hi = np.where(ok, mid, hi)
            lo = np.where(ok, lo, mid)
        out = np.where(zero, 0.0, np.where(top, np.exp(hi), np.inf))
        return _ret(out)


class RandomCodingLink(LinkModel):
    """Ideal random-coding link of MU-ASCC (seed 000): eqs. (8) and (14).

    Parameters
    ----------
    paper_form : bool, optional
        ``False`` (default) uses the standard dispersion ``(1 - (1+g)^-2)(log2 e)^2``; ``True``
        the form printed in eq. (8) (see :func:`semdacom.core.fbl.dispersion`).
    """

    def __init__(self, paper_form: bool = False) -> None:
        self.paper_form = bool(paper_form)
        self.name = "random_coding_paper_form" if self.paper_form else "random_coding"

    def __repr__(self) -> str:
        return f"RandomCodingLink(paper_form={self.paper_form})"

    def log10_ber(self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike) -> FloatOrArray:
        """Eq. (14) of MU-ASCC (seed 000); see :func:`semdacom.core.fbl.log10_ber`."""
        return fbl.log10_ber(sinr, rc, L, paper_form=self.paper_form)

    def log10_ber_and_grad(
        self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike
    ) -> tuple[FloatOrArray, FloatOrArray, FloatOrArray]:
        """Eq. (14) with derivatives; see :func:`semdacom.core.fbl.log10_ber_and_grad`."""
        return fbl.log10_ber_and_grad(sinr, rc, L, paper_form=self.paper_form)

    def packet_error_prob(self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike) -> FloatOrArray:
        """Eq. (8) of MU-ASCC (seed 000); see :func:`semdacom.core.fbl.packet_error_prob`."""
        return fbl.packet_error_prob(sinr, rc, L, paper_form=self.paper_form)

    def log_packet_error_prob(self, sinr: ArrayLike, rc: ArrayLike, L: ArrayLike) -> FloatOrArray:
        """Natural log of eq. (8); see :func:`semdacom.core.fbl.log_packet_error_prob`."""
        return fbl.log_packet_error_prob(sinr, rc, L, paper_form=self.paper_form)
