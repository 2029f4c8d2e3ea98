"""Shared numpydoc parameter entries of the PHY maths (finite blocklength, links, beamforming).

Every function of eqs. (8) and (14) of MU-ASCC ([1]) takes the same ``sinr``, ``rc``, ``L``
(and ``paper_form``, ``packet_loss``), and the duality functions of eqs. (33)-(37) the same
``Hbar``, ``W``, ``q``, ``p``; :func:`shared_params` writes their entries into a docstring
wherever it holds ``{name}`` alone on a line, and the whole section (the ``Parameters``
heading and the entries in order) for a line ``{Parameters: name name ...}``, indented like
that line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

__all__ = ["PARAMS", "shared_params"]

F = TypeVar("F", bound=Callable)

#: The parameter entries, by name.
PARAMS = {
    "sinr": "sinr : array_like\n    Linear SINR, ``>= 0``.",
    "rc": "rc : array_like\n    Channel coding rate in bits per complex channel use, ``> 0``.",
    "L": "L : array_like\n    Blocklength in channel uses, ``> 0``.",
    "paper_form": "paper_form : bool, optional\n"
    "    Use the dispersion as printed in the paper (see :func:`semdacom.phy.fbl.dispersion`).",
    "packet_loss": "packet_loss : bool, optional\n"
    "    The physical form ``BER = rho / 2`` (see :func:`semdacom.phy.fbl.log10_ber`).",
    "Hbar": "Hbar : array_like, shape (K, N_t)\n    Normalised channel.",
    "W": "W : array_like, shape (K, N_t)\n    Unit-norm beamformers.",
    "q": "q : array_like, shape (K,)\n    Uplink powers in watts, ``>= 0``.",
    "p": "p : array_like, shape (K,)\n    Downlink powers in watts, ``>= 0``.",
    "target_sinr": "sinr : array_like, shape (K,)\n    Target linear SINRs, ``>= 0``.",
}

_SLOT = re.compile(r"^([ \t]*)\{(Parameters: )?([\w ]+)\}[ \t]*$", re.M)


def shared_params(f: F) -> F:
    """Fill the ``{name}`` lines of ``f.__doc__`` with the entries of :data:`PARAMS`."""

    def fill(m: re.Match) -> str:
        indent, section, names = m.group(1), m.group(2), m.group(3).split()
        if not all(name in PARAMS for name in names):
            return m.group(0)
        lines = ["Parameters", "----------"] if section else []
        for name in names:
            lines += PARAMS[name].split("\n")
        return "\n".join(indent + line for line in lines)

    if f.__doc__:
        f.__doc__ = _SLOT.sub(fill, f.__doc__)
    return f
