#
# Copyright 2026 gr-semdacom authors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Channel-coding commands: ``fit-link`` (measured link tables) and ``ldpc-curves`` (BLER of
the LDPC family against the normal approximation). See docs/channel_coding.md.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from semdacom.cli.common import made_by as _made_by


def run_fit_link(args) -> int:
    from semdacom.channel_coding.linktable import assemble_table, link_tasks, mcs_curve
    from semdacom.data.manifest import default_data_dir, update_manifest
    from semdacom.sweep import engine_kwargs, run_tasks

    data = Path(args.data_dir) if args.data_dir else default_data_dir()
    tables = data / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    stop = dict(min_errors=args.min_errors, max_bits=args.max_bits, max_iterations=args.iterations)
    # one task per (L, MCS), all blocklengths in one sweep
    per_L = {
        L: link_tasks(
            L,
            seed=args.seed,
            mcs_indices=args.mcs,
            step_db=args.step,
            max_points=args.max_points,
            **stop,
        )  # fmt: skip
        for L in args.L
    }
    tasks = [t for ts in per_L.values() for t in ts]
    res = run_tasks("fit-link", tasks, mcs_curve, **engine_kwargs(args))
    by_key = dict(zip((t.key for t in tasks), zip(res, res.seconds, strict=True), strict=True))
    for L, ts in per_L.items():
        entries = [by_key[t.key][0] for t in ts]
        cpu_s = sum(by_key[t.key][1] or 0.0 for t in ts)
        t = assemble_table(L, entries, seed=args.seed, seconds=cpu_s, **stop)
        t["seconds_are"] = "task CPU seconds, summed over the MCS tasks"
        t["made_by"] = _made_by()
        out = tables / f"link_L{L}.json"
        out.write_text(json.dumps(t, indent=1) + "\n")
        update_manifest(
            data, out, made_by=t["made_by"], dataset="monte-carlo awgn", metric="ber, bler vs snr"
        )
        print(f"wrote {out} ({t['seconds']} task-seconds)")
        if args.plot:
            plot_link_table(t, Path(args.plot) / f"ldpc_link_L{L}.png")
    return 0


def plot_link_table(table: dict, path: Path) -> Path:
    """BLER (solid) and BER (dashed) of every MCS against SNR."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for i, m in enumerate(table["mcs"]):
        col = plt.cm.viridis(i / max(1, len(table["mcs"]) - 1))
        lab = f"{m['modulation']} {m['rate']} ({m['rc_effective']:.2f} b/cu)"
        bl = [max(v, 1e-7) for v in m["bler"]]
        be = [max(v, 1e-9) for v in m["ber"]]
        ax.semilogy(m["snr_db"], bl, "-", color=col, label=lab)
        ax.semilogy(m["snr_db"], be, "--", color=col, lw=0.8)
    ax.set_ylim(1e-6, 1)
    ax.set_xlabel("SNR = Es/N0 (dB)")
    ax.set_ylabel("BLER (solid), BER (dashed)")
    ax.set_title(f"semdacom LDPC + Gray QAM, channel block L = {table['L']} uses, AWGN")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6, ncol=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_ldpc_curves(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from tqdm import tqdm

    from semdacom.channel_coding import qc_code

    rng = np.random.default_rng(args.seed)
    fig, ax = plt.subplots(figsize=(8, 5))
    results = []
    for n, k in tqdm(args.codes, desc="codes"):
        code = qc_code(n, k)
        grid = np.arange(args.start, args.stop + 1e-9, args.step)
        pts = []
        for e in grid:
            s2 = 1.0 / (2.0 * (k / n) * 10 ** (e / 10))
            errs = blocks = 0
            while errs < args.min_errors and blocks < args.max_blocks:
                b = 4000
                u = rng.integers(0, 2, (b, k), dtype=np.uint8)
                cw = code.encode(u)
                y = 1.0 - 2.0 * cw + np.sqrt(s2) * rng.standard_normal(cw.shape)
                info, _, _ = code.decode(2.0 * y / s2, max_iterations=args.iterations)
                errs += int(np.any(info != u, axis=1).sum())
                blocks += b
            pts.append((float(e), errs / blocks, errs, blocks))
            if errs == 0:
                break
        line = ax.semilogy(
            [p[0] for p in pts if p[1] > 0],
            [p[1] for p in pts if p[1] > 0],
            "o-",
            label=f"LDPC ({n},{k})",
        )[0]
        na = [biawgn_na(e, n, k) for e in grid]
        ax.semilogy(grid, na, "--", color=line.get_color(), label=f"NA BI-AWGN ({n},{k})")
        results.append({"n": n, "k": k, "points": pts})
    ax.set_ylim(1e-5, 1)
    ax.set_xlabel("Eb/N0 (dB)")
    ax.set_ylabel("BLER")
    ax.set_title(f"BPSK, AWGN, layered min-sum, {args.iterations} iterations")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


def biawgn_na(ebn0_db: float, n: int, k: int) -> float:
    """Normal approximation of the BPSK-input AWGN channel, with the (1/2) log2 n term."""
    import numpy as np
    from scipy import special

    x, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    s2 = 1.0 / (2.0 * (k / n) * 10 ** (ebn0_db / 10))
    i = 1.0 - np.logaddexp(0.0, -2.0 * (1.0 + np.sqrt(s2) * x) / s2) / np.log(2.0)
    c = float(np.sum(w * i))
    v = float(np.sum(w * i * i) - c * c)
    return float(special.ndtr(-(n * c - k + 0.5 * np.log2(n)) / np.sqrt(n * v)))


def _pair(text: str) -> tuple[int, int]:
    n, k = text.split(",")
    return int(n), int(k)


def add_parser(sub: argparse._SubParsersAction) -> None:
    from semdacom.sweep import add_engine_args

    p = sub.add_parser("fit-link", help="Monte-Carlo link tables of every MCS (link_L<L>.json)")
    p.add_argument("--L", type=int, nargs="+", default=[256, 4096])
    p.add_argument("--mcs", type=int, nargs="*", default=None, help="MCS indices (default all)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--min-errors", type=int, default=50)
    p.add_argument("--max-bits", type=float, default=2e6, help="code bits per SNR point")
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--step", type=float, default=0.25, help="SNR step (dB)")
    p.add_argument("--max-points", type=int, default=40, help="SNR points per MCS at most")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--plot", default="docs/figures", help="folder of the PNGs ('' for none)")
    add_engine_args(p)
    p.set_defaults(func=run_fit_link)

    p = sub.add_parser("ldpc-curves", help="BLER vs Eb/N0 with the normal approximation (PNG)")
    p.add_argument("--codes", type=_pair, nargs="+", default=[(256, 128), (512, 256),
                   (1024, 512), (2048, 1024), (1536, 1024), (768, 256)])  # fmt: skip
    p.add_argument("--start", type=float, default=0.5)
    p.add_argument("--stop", type=float, default=5.0)
    p.add_argument("--step", type=float, default=0.25)
    p.add_argument("--min-errors", type=int, default=50)
    p.add_argument("--max-blocks", type=int, default=200_000)
    p.add_argument("--iterations", type=int, default=50)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--out", default=os.path.join("docs", "figures", "ldpc_bler.png"))
    p.set_defaults(func=run_ldpc_curves)
