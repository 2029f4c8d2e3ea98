#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``mu_ascc_optimizer``: CSI in, MU-ASCC allocation (JRPB) out."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block, guarded
from gnuradio.semdacom.plumbing.checks import check_choice, check_finite, check_int
from gnuradio.semdacom.plumbing.publisher import Optimizer

from semdacom.mu_ascc import baselines
from semdacom.mu_ascc.distortion import erasure_aware, load_table
from semdacom.mu_ascc.optimizer import fast, jrpb
from semdacom.mu_ascc.optimizer.problem import Problem, link_from_spec

__all__ = ["mu_ascc_optimizer"]

SOLVERS = ("fast", "faithful", "mrt_ep")
DISTORTION_MODELS = ("auto", "erasure", "ber")
#: Largest number of transmit antennas accepted (a larger CSI is treated as malformed: the
#: solvers hold batches of N_t x N_t matrices).
MAX_N_T = 64


class mu_ascc_optimizer(Optimizer, Block, gr.basic_block):
    """Joint rate, power and beamforming optimiser of MU-ASCC ([1], Sec. IV).

    The newest valid CSI message (``csi`` port; those queued behind one while it was solved
    supersede it, counted in ``csi_superseded``:
    ``plumbing.publisher.Optimizer.newest_csi``) that differs from the last one solved sets up
    problem (P1) for that channel and publishes one allocation dictionary on ``alloc``
    (docs/architecture.md §3: ``seq``, ``apply_frame``, ``rate_index``, ``rs_bits``, ``rc``,
    ``power``, ``w``, ``objective``, ``solve_ms``, ``solver``). A CSI equal to the last one solved
    re-publishes the allocation in force without solving again.

    A malformed CSI message (wrong type or size, NaN, a zero noise variance, K different from
    the number of users configured), or a solve that fails or produces an allocation that does
    not validate, is logged with the reason and the last valid allocation is re-published (if
    there is one), so every CSI message that enters yields at most one allocation and the
    flowgraph always has the last good one.

    Parameters
    ----------
    tables : sequence of str
        One distortion table per user: a path, a table name in ``data/tables`` or
        ``synthetic:du`` / ``synthetic:su`` (clearly synthetic numbers).
    weights : sequence of float
        Distortion weights ``beta_i`` (eq. (15)).
    p_max : float
        Power budget in watts (eq. (18)).
    delay : float or sequence of float
        Delay budgets ``T_i`` in channel uses per image (eq. (19)).
    blocklength : int
        Blocklength ``L``.
    link : str
        ``physical`` (default: eq. (8) with ``BER = rho / 2``, a failed packet loses its bits),
        ``physical_paper``, ``random_coding`` (eq. (14) as printed, the paper's figures),
        ``random_coding_paper``, ``tabulated`` (shipped measured tables), ``tabulated_mcs``
        (the LDPC + QAM codes as they run: discrete MCS and codeword losses; the allocation
        then carries ``mcs``, and ``rc`` is that MCS's effective rate) or comma-separated
        paths of link tables (``optimize.mu_ascc.problem.link_from_spec``).
    solver : {"fast", "faithful", "mrt_ep"}
        The fast solver, the faithful JRPB (cvxpy) or MRT with equal power.
    time_limit_s : float
        Time budget of the faithful solver.
    apply_lead : int
        ``apply_frame`` is the CSI's ``frame`` (the first frame of that channel) plus this
        lead, so that every block of the chain switches at that frame (the first allocation
        at the CSI's frame itself: nothing is in force yet, and encoders with ``hold`` wait
        for it); 0 (at once) with ``apply_lead < 0`` or for CSI without ``frame``. The lead
        must cover the frames in flight between the source encoders and the channel when the
        CSI is published. With ``sent`` wired (every channel encoder's ``sent``: the frames the
        base station has started), every allocation goes at
        ``max(CSI frame, last frame sent + 1) + apply_lead``, the last frame sent being the
        latest of the encoders' (they run ahead of each other by their output buffers): over
        the air the users report CSI of frames the base station sent a while ago, and an
        ``apply_frame`` from the CSI's frame alone was already past at the base station (the
        beamformer applied it late, the users on time: frames decoded with beams they were
        not sent with). At
        most 64 allocations wait in a reader
        (``AllocationSchedule.MAX_PENDING``), so the lead must stay below 64 CSI periods.
        Every allocation carries ``epoch``, this instance's random id (:meth:`epoch`; a new
        one when the CSI frame counter jumps, counted in ``frame_resets``), so that a
        restarted optimiser is taken although its ``seq`` starts from 1 again
        (``plumbing.publisher.AllocationPublisher``).
    distortion : {"auto", "erasure", "ber"}
        How the tables are read. ``erasure``: a lost packet costs its image
        (``core.distortion.erasure_aware``: ``D = d_s + (d_fail - d_s) (1 - (1 - rho)^m)``),
        which is what the closed loop measures; needs the physical link and the fast or
        MRT-EP solver. ``ber``: eq. (12)/(13) at the link's BER (independent bit flips, the
        paper's model). ``auto`` (default): ``erasure`` with the physical link, else ``ber``.
    """

    def __init__(
        self,
        tables: Sequence[str] = ("synthetic:du", "synthetic:su"),
        weights: Sequence[float] = (0.8, 0.2),
        p_max: float = 3.0,
        delay: float | Sequence[float] = 470.4,
        blocklength: int = 256,
        link: str = "physical",
        solver: str = "fast",
        time_limit_s: float = 10.0,
        apply_lead: int = -1,
        distortion: str = "auto",
    ) -> None:
        gr.basic_block.__init__(self, name="mu_ascc_optimizer", in_sig=None, out_sig=None)
        if isinstance(tables, str):
            tables = [tables]
        self._tables = [load_table(str(t)) for t in tables]
        K = len(self._tables)
        if K < 1:
            raise ValueError("need at least one user (one table)")
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.size != K or not np.all((w > 0) & np.isfinite(w)):
            raise ValueError(f"weights must be {K} positive numbers, got {weights!r}")
        d = np.broadcast_to(np.asarray(delay, dtype=np.float64).reshape(-1), (K,))
        if not np.all((d > 0) & np.isfinite(d)):
            raise ValueError(f"delay must be positive (channel uses per image), got {delay!r}")
        if not check_finite("p_max", p_max) > 0:
            raise ValueError(f"p_max must be positive and finite, got {p_max!r}")
        check_int("blocklength", blocklength, 1)
        check_choice("solver", solver, SOLVERS)
        check_finite("time_limit_s", time_limit_s, 0.0)
        apply_lead = check_int("apply_lead", apply_lead, -(2**63))
        self._K = K
        self._weights = w
        self._delay = np.array(d)
        self._p_max = float(p_max)
        self._L = int(blocklength)
        self._link = link_from_spec(link)
        self._solver = solver
        self._time_limit = float(time_limit_s)
        self._apply_lead = int(apply_lead)
        if solver == "faithful" and not isinstance(self._link, jrpb.RandomCodingLink):
            raise ValueError("the faithful solver needs the random-coding link")  # fail early
        check_choice("distortion", distortion, DISTORTION_MODELS)
        physical = getattr(self._link, "packet_loss", False)
        if distortion == "auto":
            distortion = "erasure" if physical and solver != "faithful" else "ber"
        if distortion == "erasure":
            if not physical or solver == "faithful":
                raise ValueError(
                    "the erasure-aware distortion needs the physical link and the fast or "
                    "mrt_ep solver"
                )
            self._tables = [
                erasure_aware(t, float(self._delay[i]), self._L) for i, t in enumerate(self._tables)
            ]
        self._distortion = distortion
        if solver == "fast":
            # build the fast solver's candidate lookup now (it depends on the tables, delays,
            # L and link, not on the channel), so that the first CSI is solved in about a
            # millisecond instead of a few hundred while the first frames are already flowing
            dummy = np.ones((K, 1), dtype=np.complex128)
            fast.lookup(Problem(dummy, 1.0, self._tables, w, self._p_max, self._delay,
                                self._L, self._link))  # fmt: skip

        self._seq = 0
        # counters: CSI in/rejected, solves, failed solves, allocations out, re-publications,
        # CSI frame counter jumps (each a new epoch: plumbing.publisher)
        self.setup(("csi_in", "csi_rejected", "solves", "solve_failed", "alloc_out", "republished",
                    "frame_resets", "sent_in", "sent_rejected", "csi_superseded"))  # fmt: skip
        self.message_in("csi", self._handle, dealt="csi_in", on_error=self._failed)
        self.message_in("sent", self._on_sent, dealt="sent_in", rejected="sent_rejected")
        self.publish_allocations()

    def _failed(self, msg: Any, exc: Exception) -> None:
        """A CSI that gave no allocation: the one in force is re-published."""
        if isinstance(exc, messages.MessageError):
            self._counts["csi_rejected"] += 1
            self._out.fail(f"dropped CSI: {exc}")
        else:  # a failed solve must never kill the scheduler thread
            self._counts["solve_failed"] += 1
            self._out.fail(f"solve failed ({type(exc).__name__}: {exc})")

    def _on_sent(self, msg: Any) -> None:
        """A channel encoder's ``sent``: the frame the base station is at (apply_frame; the
        latest of its encoders', ``plumbing.publisher.AllocationPublisher.on_sent``)."""
        self._out.on_sent(messages.frame_sent_from_pmt(msg), messages.done_user(msg))

    def _drain_sent(self) -> None:
        """Take the ``sent`` messages still queued before planning: GNU Radio hands a block
        one input port's queue before the next's, so a CSI could be planned while the
        encoders' latest ``sent`` waited behind it (right after initial access the queued
        images leave back to back, and an allocation planned 8 frames behind reached the
        encoders at its very frame). Each is handled as the port would (counted, a malformed
        one logged and dropped)."""
        for m in self.take_queued("sent", 4096, counter="sent_in"):
            guarded(self.logger, self._counts, "sent_rejected", self._on_sent, m)

    def _parse(self, msg: Any) -> messages.Csi:
        csi = messages.csi_from_pmt(msg, k=self._K, positive_noise=True)
        if csi.n_t > MAX_N_T:
            raise messages.MessageError(f"CSI has n_t={csi.n_t} > {MAX_N_T} antennas")
        return csi

    def _handle(self, msg: Any) -> None:
        csi = self.newest_csi(msg, self._parse)  # the CSI queued behind it supersedes it
        key = (csi.h.tobytes(), csi.noise_var.tobytes())
        if self._out.repeat(key):  # the same channel again: the same allocation
            return
        problem = Problem(
            csi.h,
            csi.noise_var,
            self._tables,
            self._weights,
            self._p_max,
            self._delay,
            self._L,
            self._link,
        )
        t0 = time.perf_counter()
        self._counts["solves"] += 1
        if self._solver == "fast":
            sol = fast.solve_fast(problem)
        elif self._solver == "faithful":
            sol = jrpb.solve_faithful(problem, time_limit_s=self._time_limit)
        else:
            sol = baselines.mrt_equal_power(problem)
        sol.solve_ms = (time.perf_counter() - t0) * 1e3
        if not math.isfinite(sol.objective):
            raise ValueError("the objective is not finite")
        self._drain_sent()
        apply_frame = self._out.apply_frame(csi.frame, self._apply_lead)
        fields = sol.allocation_fields(self._seq + 1, apply_frame)
        fields["epoch"] = self._out.epoch  # this instance (plumbing.publisher)
        if getattr(self._link, "discrete", False) and fields.get("rc") is not None:
            # the LDPC + QAM codes that run: each user's MCS is the one the plan was made
            # with (the smallest effective rate at or above R_s / T: TabulatedLink.mcs_for)
            mcs, rc_eff = self._link.mcs_for(fields["rc"], self._L)
            fields["mcs"] = np.asarray(mcs, dtype=np.int32)
            fields["rc"] = np.asarray(rc_eff, dtype=np.float64)
        alloc = messages.Allocation(**fields)
        out = messages.alloc_to_pmt(alloc)
        # self-check against the schema, the budget and the shapes before anything leaves
        checked = messages.alloc_from_pmt(out, k=self._K, n_t=csi.n_t, p_max=self._p_max)
        self._seq += 1
        self._out.publish(out, checked, key)
