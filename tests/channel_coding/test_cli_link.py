"""``semdacom fit-link`` end to end on a tiny setting: table, manifest entry, plot, and the
TabulatedLink built from the result."""

from __future__ import annotations

import json
from pathlib import Path

from semdacom.cli import main
from semdacom.phy.link import TabulatedLink


def test_fit_link_writes_table_manifest_and_plot(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    cmd = ["fit-link", "--L", "64",
           "--mcs", "3", "6", "--max-bits", "3e4", "--min-errors", "20", "--step", "1.0",
           "--data-dir", str(data), "--plot", str(tmp_path / "fig"),
           "--workers", "2", "--tasks-dir", str(tmp_path / "out")]  # fmt: skip
    assert main(cmd) == 0
    table = json.loads((data / "tables" / "link_L64.json").read_text())
    assert table["format"] == "semdacom-link-table/1" and table["L"] == 64
    assert [m["index"] for m in table["mcs"]] == [3, 6]
    for m in table["mcs"]:
        assert m["bler"][0] > m["bler"][-1] and m["bit_errors"][-1] == 0
    manifest = json.loads((data / "manifest.json").read_text())
    assert manifest[0]["file"] == "tables/link_L64.json" and len(manifest[0]["sha256"]) == 64
    assert (tmp_path / "fig" / "ldpc_link_L64.png").stat().st_size > 1000
    link = TabulatedLink([data / "tables" / "link_L64.json"])
    assert link.log10_ber(100.0, 1.0, 64) < link.log10_ber(1.0, 1.0, 64)
    # one sweep task per (L, MCS), kept for a rerun (docs/sweeps.md)
    assert len(list((tmp_path / "out" / "fit-link" / "tasks").glob("L64_mcs*.pkl"))) == 2
