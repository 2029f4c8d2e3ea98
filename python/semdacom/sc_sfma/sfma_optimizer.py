#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio block ``sfma_optimizer``: per-user channel gains in, SC-SFMA allocation out."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.plumbing.base import Block
from gnuradio.semdacom.plumbing.checks import check_choice, check_finite, check_int
from gnuradio.semdacom.plumbing.publisher import Optimizer

from semdacom.sc_sfma import model as sfma_model
from semdacom.sc_sfma.baselines import channel_pairs
from semdacom.sc_sfma.optimizer.problem import SfmaProblem
from semdacom.sc_sfma.optimizer.solver import solve

__all__ = ["sfma_optimizer"]

MODELS = ("sc_sfma", "swinjscc_noma")
PAIRINGS = ("dfg", "channel")
IMAGE_BITS = 28 * 28 * 8


def _load(kind: str, spec: str, model: str):
    """A table: a path / name, or "" for the shipped one of ``model`` (synthetic if absent)."""
    loader = sfma_model.load_xi_table if kind == "xi" else sfma_model.load_distortion_table
    name = spec or f"sfma_{'xi' if kind == 'xi' else 'distortion'}_{model}.json"
    if spec.startswith("synthetic"):
        name = ""
    try:
        return loader(name) if name else None
    except FileNotFoundError:
        if spec:
            raise
        return None


class sfma_optimizer(Optimizer, Block, gr.basic_block):
    """Joint pairing, compression ratio, power and bandwidth optimiser of SC-SFMA ([2],
    Sec. III, Alg. 1-4; docs/sc_sfma/optimizer.md).

    The newest valid CSI message on ``csi`` (those queued behind one while it was solved
    supersede it, counted in ``csi_superseded``: ``plumbing.publisher.Optimizer.newest_csi``;
    ``messages.sfma_csi_from_pmt``: per-user gains
    ``gain``, optional ``labels``, ``scenes``, ``seq``, ``frame``; the MU-MISO CSI form is
    accepted too, g_i = ||h_i||^2) that differs from the last one solved sets up problem (20)
    for those gains and publishes one allocation dictionary on ``alloc``: ``seq``,
    ``apply_frame``, ``pairs`` (s32vector[2M], group m serves users pairs[2m], pairs[2m+1]),
    ``nu``, ``group_power`` (W), ``group_bw`` (Hz), ``objective`` (sum rate, bit/s),
    ``solve_ms``, ``solver``. The same CSI again re-publishes the allocation in force without
    solving.

    A malformed CSI (wrong type, K, a gain outside (0, 1], NaN, labels outside 0..9, scene ids
    below -1), a solve that raises, or one that finds no allocation meeting every constraint
    (20a)-(20h), is logged with the reason and the last valid allocation is re-published (when
    there is one).

    Parameters
    ----------
    labels : sequence of int
        Fashion-MNIST class (0..9) of each user's images; K = len(labels), even. A CSI may
        carry ``labels`` that replace them.
    scenes : sequence of int
        Scene id of each user's images (-1: a scene of its own); two users with one id >= 0
        ask for views of one scene and form an ``"overlap"`` pair, which the tables must have
        been profiled with (``profile-sfma --classes overlap ...``). Empty (default): no shared
        scenes. A CSI may carry ``scenes`` that replace them.
    source_bits : float or sequence of float
        Source size S_i of each user's request, bits (default 64 images of 28x28x8 bits).
    d_max : float
        Distortion threshold (1 - MS-SSIM) of every user (eq. (18)).
    p_max : float
        Total power budget, watts (20d).
    bandwidth : float
        Total bandwidth, Hz (20e).
    e_max : float
        Energy budget, joules (20c); <= 0: 3 mJ per user (docs/sc_sfma/model.md).
    t_max : float
        Latency budget, seconds (20b).
    noise_dbm_hz : float
        Noise PSD including the receiver noise figure, dBm/Hz (-174 + 9 by default).
    model : {"sc_sfma", "swinjscc_noma"}
        The transceiver whose tables are planned with.
    xi_table, distortion_table : str
        Table paths or names in ``data/tables``; "" = the shipped ``sfma_xi_<model>.json`` /
        ``sfma_distortion_<model>.json``, or synthetic tables (logged as such) when the
        checkout has none; "synthetic" forces synthetic ones.
    pairing : {"dfg", "channel"}
        Alg. 3 (dynamic feasible graph) or fixed channel-disparity pairing.
    apply_lead : int
        ``apply_frame`` = the CSI's ``frame`` + this lead (the first allocation at the CSI's
        frame); 0 (at once) with ``apply_lead < 0`` or for CSI without ``frame``. At most 64
        allocations wait in a reader (``AllocationSchedule.MAX_PENDING``), so the lead must
        stay below 64 CSI periods. Every allocation carries ``epoch``, this instance's random
        id (:meth:`epoch`; a new one when the CSI frame counter jumps, counted in
        ``frame_resets``), so that a restarted optimiser is taken although its ``seq`` starts
        from 1 again (``plumbing.publisher.AllocationPublisher``).
    dense : bool
        Run the solver's dense stage (``solver.solve(dense=True)``, M <= 3: the pairing within
        1.1 % of the reference in the benchmark) after its multi-start and search stages. Off
        by default: at K = 4 it takes 2-4 s per solve here against about 0.35 s without it,
        and in a closed loop the allocation must arrive within the lead (at the default the
        gain change of examples/sfma_loopback.grc came after its apply_frame on a loaded
        machine).
    """

    def __init__(
        self,
        labels: Sequence[int] = (0, 0, 2, 4, 5, 7, 8, 1),
        scenes: Sequence[int] = (),
        source_bits: float | Sequence[float] = 64 * IMAGE_BITS,
        d_max: float = 0.4,
        p_max: float = 0.1,
        bandwidth: float = 10e6,
        e_max: float = -1.0,
        t_max: float = 0.1,
        noise_dbm_hz: float = -165.0,
        model: str = "sc_sfma",
        xi_table: str = "",
        distortion_table: str = "",
        pairing: str = "dfg",
        apply_lead: int = -1,
        dense: bool = False,
    ) -> None:
        gr.basic_block.__init__(self, name="sfma_optimizer", in_sig=None, out_sig=None)
        lab = np.asarray(labels, dtype=np.int64).reshape(-1)
        k = lab.size
        if k < 2 or k % 2 or np.any(lab < 0) or np.any(lab > 9):
            raise ValueError(f"labels: an even number (>= 2) of classes 0..9, got {labels!r}")
        bits = np.broadcast_to(np.asarray(source_bits, dtype=np.float64).reshape(-1), (k,))
        if not np.all((bits > 0) & np.isfinite(bits)):
            raise ValueError(f"source_bits must be positive, got {source_bits!r}")
        for name, value in (("d_max", d_max), ("p_max", p_max), ("bandwidth", bandwidth),
                            ("t_max", t_max)):  # fmt: skip
            if not check_finite(name, value) > 0:
                raise ValueError(f"{name} must be positive and finite, got {value!r}")
        check_finite("e_max", e_max)
        check_finite("noise_dbm_hz", noise_dbm_hz)
        check_choice("model", model, MODELS)
        check_choice("pairing", pairing, PAIRINGS)
        self._apply_lead = check_int("apply_lead", apply_lead, -(2**63))
        xi = _load("xi", str(xi_table), model)
        dist = _load("dist", str(distortion_table), model)
        self._synthetic = []
        if xi is None:
            xi = sfma_model.synthetic_xi_table(model, seed=100)
            self._synthetic.append("xi")
        if dist is None:
            dist = sfma_model.synthetic_distortion_table(model, seed=200)
            self._synthetic.append("distortion")
        scn = np.full(k, -1, dtype=np.int32)
        if len(scenes):
            try:
                scn = messages.check_scenes(scenes, k)
            except messages.MessageError as exc:
                raise ValueError(f"scenes: {exc}") from None
        # the tables must know every pair class these users form (a clear error now, not at
        # the first CSI)
        SfmaProblem(gains=np.full(k, 1e-10), labels=lab, scenes=scn, source_bits=np.array(bits),
                    d_max=float(d_max), xi_table=xi, dist_table=dist)  # fmt: skip
        if self._synthetic:
            self.logger.warn(
                f"planning with SYNTHETIC {' and '.join(self._synthetic)} tables of {model} "
                "(no measured sfma_*.json found)"
            )
        self._K = k
        self._cfg = dict(
            labels=lab,
            scenes=scn,
            source_bits=np.array(bits),
            d_max=float(d_max),
            xi_table=xi,
            dist_table=dist,
            p_max=float(p_max),
            b_tot=float(bandwidth),
            e_max=float(e_max) if e_max > 0 else 3e-3 * k,
            t_max=float(t_max),
            n0=10 ** ((float(noise_dbm_hz) - 30) / 10),
        )
        self._pairing = pairing
        self._dense = bool(dense)
        self._seq = 0
        # counters: CSI in/rejected, solves, failed and infeasible solves, allocations out,
        # re-publications, CSI frame counter jumps (each a new epoch: plumbing.publisher)
        self.setup(("csi_in", "csi_rejected", "solves", "solve_failed", "infeasible",
                    "alloc_out", "republished", "frame_resets", "csi_superseded"))  # fmt: skip
        self.message_in("csi", self._handle, rejected="csi_rejected", dealt="csi_in")
        self.publish_allocations()

    def _parse(self, msg: Any) -> messages.SfmaCsi:
        return messages.sfma_csi_from_pmt(msg, k=self._K)

    def _handle(self, msg: Any) -> None:
        try:
            csi = self.newest_csi(msg, self._parse)  # the CSI queued behind it supersedes it
        except messages.MessageError as exc:
            self._out.fail(f"dropped CSI: {exc}")
            raise  # logged and counted as rejected by the port's guard
        labels = self._cfg["labels"] if csi.labels is None else csi.labels
        scenes = self._cfg["scenes"] if csi.scenes is None else csi.scenes
        key = (csi.gain.tobytes(), np.asarray(labels).tobytes(), np.asarray(scenes).tobytes())
        if self._out.repeat(key):  # the same channel again: the same allocation
            return
        self._counts["solves"] += 1
        t0 = time.perf_counter()
        try:
            cfg = dict(self._cfg, labels=labels, scenes=scenes)
            prob = SfmaProblem(gains=csi.gain, **cfg)
            if self._pairing == "channel":
                alloc = solve(prob, pairing="fixed", init_pairs=channel_pairs(prob))
            else:
                alloc = solve(prob, dense=self._dense)
        except Exception as exc:  # a failed solve must never kill the scheduler thread
            self._counts["solve_failed"] += 1
            self._out.fail(f"solve failed ({type(exc).__name__}: {exc})")
            return
        if not alloc.feasible or not math.isfinite(alloc.objective):
            self._counts["infeasible"] += 1
            self._out.fail(f"no allocation meets (20a)-(20h): {alloc.status}")
            return
        apply_frame = self._out.apply_frame(csi.frame, self._apply_lead)
        out_alloc = messages.Allocation(
            seq=self._seq + 1,
            apply_frame=apply_frame,
            epoch=self._out.epoch,  # this instance (plumbing.publisher)
            pairs=np.asarray(alloc.pairs, dtype=np.int32).reshape(-1),
            nu=np.asarray(alloc.nu, dtype=np.float64),
            group_power=np.asarray(alloc.group_power, dtype=np.float64),
            group_bw=np.asarray(alloc.group_bw, dtype=np.float64),
            objective=float(alloc.objective),
            solve_ms=(time.perf_counter() - t0) * 1e3,
            solver=alloc.solver,
        )
        out = messages.alloc_to_pmt(out_alloc)
        # self-check against the schema and the SFMA rules before anything leaves
        checked = messages.check_sfma_alloc(
            messages.alloc_from_pmt(out), self._K, p_max=self._cfg["p_max"],
            b_tot=self._cfg["b_tot"],
        )  # fmt: skip
        self._seq += 1
        self._out.publish(out, checked, key)
