"""`make bench ARGS=block_profile`: where each millisecond of a frame goes in the MU-ASCC
closed loop (issue 23, "Measure first"); writes bench/results/block_profile.json and
block_profile.png. (Not named profile.py: bench/ is on sys.path, and the standard library's
``profile``, which cProfile and torch import, must not be shadowed.)

``examples/mu_ascc_loopback.grc`` at its defaults (credit loop end to end, finite-blocklength
emulation, Rayleigh block fading every ``fading_frames``) runs ``--images`` images per user. Per
block it reports, in milliseconds per slot (one frame of every user):

- ``work``: CPU time in the block's stream ``work``: the thread time of the plumbing's
  ``work`` (Python blocks, ``Block.busy_s``), GNU Radio's performance counter for the C++
  blocks (wall time in ``work``, switched on with ``GR_CONF_PERFCOUNTERS_ON``; no GIL there);
- ``ports``: CPU time in each input message port's handler (``Block.busy_s``);
- ``worker``: CPU time on the block's worker thread (``PduWorker``: the source encoder).

Thread CPU time, not wall time: a Python handler's wall time includes its waits for the GIL
while other blocks run (measured: the sum of wall times was 2.4x the process's CPU time).

Their sum over the blocks is CPU-side time the blocks spent, against the wall time per slot and
the process's CPU time per slot (two cores: up to 2 x wall). What neither counter sees (GNU
Radio's message delivery, Python's thread switches, the scheduler's waits) is the rest of the
CPU time (``unattributed_ms``).
"""

from __future__ import annotations

import os

os.environ.setdefault("GR_CONF_PERFCOUNTERS_ON", "True")  # before GNU Radio reads its prefs

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from common import RESULTS, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _blocks(tb) -> dict:
    """The GNU Radio blocks of a generated top block, by their GRC names."""
    from gnuradio import gr

    out = {}
    for name, obj in vars(tb).items():
        if isinstance(obj, gr.basic_block) or hasattr(obj, "pc_work_time_total"):
            out[name] = obj
    return out


def block_rows(tb, per: float) -> dict:
    """Per block of the generated top block ``tb`` (after its run): ``work``, ``ports`` and
    ``worker`` CPU milliseconds (see the module docstring) divided by ``per`` (slots, bursts,
    frames), and their ``total``; blocks with nothing measured are left out."""
    from gnuradio import gr

    slots = per
    tps = gr.high_res_timer_tps()
    rows = {}
    for name, blk in sorted(_blocks(tb).items()):
        row: dict = {}
        busy = blk.busy_s() if hasattr(blk, "busy_s") else {}
        if "work" in busy:  # a plumbing work: its thread's CPU time
            row["work"] = busy["work"] * 1e3 / slots
        elif not hasattr(blk, "busy_s"):  # C++: GNU Radio's counter (wall time in work)
            try:
                row["work"] = float(blk.pc_work_time_total()) / tps * 1e3 / slots
            except Exception:  # no stream ports: no counters
                pass
        ports = {p: s * 1e3 / slots for p, s in busy.items() if p not in ("worker", "work")}
        if ports:
            row["ports"] = ports
        if "worker" in busy:
            row["worker"] = busy["worker"] * 1e3 / slots
        row["total"] = row.get("work", 0.0) + sum(ports.values()) + row.get("worker", 0.0)
        if row["total"] > 0:
            rows[name] = {
                k: round(v, 4) if isinstance(v, float) else {p: round(x, 4) for p, x in v.items()}
                for k, v in row.items()
            }
    return rows


def profile_loopback(images: int = 1000, fading: int = 4) -> dict:
    """Run the loop and return the profile (see the module docstring)."""
    from semdacom.cli.examples import compile_example, load_flowgraph_module, run_until

    with tempfile.TemporaryDirectory() as tmp:
        mod = load_flowgraph_module(
            compile_example(ROOT / "examples" / "mu_ascc_loopback.grc", Path(tmp))
        )
    tb = mod.mu_ascc_loopback(n_images=images, fading_frames=fading)

    def results() -> int:
        return int(tb.metrics.counters()["results"])

    cpu0 = time.process_time()
    wall = run_until(tb, lambda: results() >= 2 * images, 120.0 + images, poll_s=0.05)
    cpu = time.process_time() - cpu0
    slots = max(results() / 2.0, 1.0)
    rows = block_rows(tb, slots)
    attributed = sum(r["total"] for r in rows.values())
    return {
        "images_per_user": images,
        "slots": slots,
        "wall_s": wall,
        "wall_ms_per_slot": wall * 1e3 / slots,
        "cpu_ms_per_slot": cpu * 1e3 / slots,
        "attributed_ms_per_slot": attributed,
        "unattributed_ms": cpu * 1e3 / slots - attributed,
        "per_block_ms_per_slot": dict(sorted(rows.items(), key=lambda kv: -kv[1]["total"])),
        "note": "ms per slot (one frame of each of the 2 users); thread CPU time (Block.busy_s) "
        "for Python blocks, GNU Radio's work-time counter for C++ ones; cpu: the process's "
        "CPU time (2 cores)",
    }


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = res["per_block_ms_per_slot"]
    names = list(rows)[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(names) + 1.5))
    left = [0.0] * len(names)
    for part, colour in (("work", "C0"), ("ports", "C1"), ("worker", "C2")):
        vals = []
        for n in names:
            v = rows[n].get(part, 0.0)
            vals.append(sum(v.values()) if isinstance(v, dict) else v)
        ax.barh(names, vals, left=left, color=colour, label=part)
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.set_xlabel("ms per slot")
    ax.set_title(
        f"mu_ascc_loopback: wall {res['wall_ms_per_slot']:.1f} ms, CPU "
        f"{res['cpu_ms_per_slot']:.1f} ms per slot ({res['unattributed_ms']:.1f} unattributed)"
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=1000, help="images per user")
    a = ap.parse_args(argv if argv is not None else [])
    res = profile_loopback(a.images)
    path = write("block_profile", {"loopback_profile": res})
    plot(res, RESULTS / "block_profile.png")
    print(
        f"wrote {path} and block_profile.png: wall {res['wall_ms_per_slot']:.2f} ms/slot, CPU "
        f"{res['cpu_ms_per_slot']:.2f}, attributed {res['attributed_ms_per_slot']:.2f}"
    )


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main(sys.argv[1:])
