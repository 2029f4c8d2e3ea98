"""``semdacom demo``: runs examples/phy_loopback headless and compares with eq. (7).

For the paper's channel (MU-ASCC [1], §V-A; normalised, noise variance 1)
and several power allocations it runs the GRC flowgraph (random QPSK per user ->
superposition beamformer -> MU-MISO channel -> probes) and prints, per user, the
measured SINR and BER next to eq. (7) and the Gaussian-interference QPSK BER.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from semdacom.cli.examples import compile_example, find_example, load_flowgraph_module
from semdacom.phy import beamforming as bf
from semdacom.phy.metrics import qpsk_ber

# (p_1, p_2) in watts: equal, unequal and high-power splits
DEFAULT_POWERS = [(0.5, 0.5), (1.0, 1.0), (2.0, 0.5), (0.5, 2.0), (4.0, 4.0), (10.0, 2.0)]
TOLERANCE_DB = 0.2


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the PHY loopback flowgraph and compare with eq. (7)")
    p.add_argument("--symbols", type=int, default=200_000, help="QPSK symbols per user per run")
    p.add_argument("--beams", default="mrt", choices=["mrt", "zf", "mmse"])
    p.add_argument("--out", type=Path, default=Path("out"), help="folder for JSON and PNG")
    p.set_defaults(func=run)


def predicted(powers: tuple[float, float], beams: str) -> np.ndarray:
    """Eq. (7) SINRs for the paper channel with the flowgraph's beams."""
    h = bf.paper_channel()
    p = np.asarray(powers, dtype=float)
    w = {
        "mrt": bf.mrt_beamformers,
        "zf": bf.zf_beamformers,
        "mmse": lambda x: bf.mmse_beamformers(x, p),
    }[beams](h)
    return bf.downlink_sinr(h, p, w, np.ones(2))


def run(args: argparse.Namespace) -> int:
    grc = find_example("phy_loopback")
    py = compile_example(grc, args.out / "flowgraphs")
    mod = load_flowgraph_module(py)
    rows = []
    print(
        f"phy_loopback ({grc}): paper channel, noise variance 1, {args.beams} beams, "
        f"{args.symbols} QPSK symbols per user per run"
    )
    hdr = (
        f"{'p1 W':>6} {'p2 W':>6} {'user':>4} {'SINR meas dB':>13} {'eq.(7) dB':>10} "
        f"{'diff dB':>8} {'BER meas':>10} {'Q(sqrt(SINR))':>13}"
    )
    print(hdr)
    print("-" * len(hdr))
    worst = 0.0
    for powers in DEFAULT_POWERS:
        tb = mod.phy_loopback(
            p1=powers[0], p2=powers[1], n_symbols=args.symbols, beams=args.beams, seed=7
        )
        tb.start()
        tb.wait()
        theory = predicted(powers, args.beams)
        for u, probe in enumerate((tb.probe_0, tb.probe_1)):
            r = probe.results()
            th_db = 10 * np.log10(theory[u])
            diff = r["sinr_db"] - th_db
            worst = max(worst, abs(diff))
            th_ber = float(qpsk_ber(theory[u]))
            rows.append(
                {
                    "p1": powers[0],
                    "p2": powers[1],
                    **r,
                    "sinr_eq7_db": th_db,
                    "diff_db": diff,
                    "ber_gaussian": th_ber,
                }
            )
            print(
                f"{powers[0]:6.2f} {powers[1]:6.2f} {u + 1:4d} {r['sinr_db']:13.3f} "
                f"{th_db:10.3f} {diff:8.3f} {r['ber']:10.2e} {th_ber:13.2e}"
            )
    ok = worst <= TOLERANCE_DB
    print(
        f"largest |measured - eq.(7)| = {worst:.3f} dB "
        f"({'within' if ok else 'OUTSIDE'} {TOLERANCE_DB} dB)"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "demo_phy.json").write_text(json.dumps(rows, indent=1))
    _plot(rows, args.out / "demo_phy.png")
    print(f"wrote {args.out / 'demo_phy.json'} and {args.out / 'demo_phy.png'}")
    return 0 if ok else 1


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for u, marker in ((0, "o"), (1, "s")):
        rr = [r for r in rows if r["user"] == u]
        ax.plot(
            [r["sinr_eq7_db"] for r in rr],
            [r["sinr_db"] for r in rr],
            marker,
            label=f"user {u + 1}",
        )
    lo = min(r["sinr_eq7_db"] for r in rows) - 1
    hi = max(r["sinr_eq7_db"] for r in rows) + 1
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="measured = eq. (7)")
    ax.set_xlabel("eq. (7) SINR (dB)")
    ax.set_ylabel("measured SINR (dB)")
    ax.set_title("PHY loopback, paper channel")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
