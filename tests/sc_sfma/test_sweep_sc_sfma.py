"""``semdacom sweep sfma``: the task list and the task function (one seed block)."""

from __future__ import annotations

import numpy as np

from semdacom.cli import sweep_sc_sfma as sweep_sfma
from semdacom.sc_sfma.baselines import SCHEMES


def test_tasks_cover_every_point_scheme_and_seed_once():
    tasks = sweep_sfma._tasks("5", 25, list(SCHEMES))
    key, values, _ = sweep_sfma.AXES["5"]
    assert len(tasks) == len(values) * len(SCHEMES) * 3  # seed blocks of 10: 10 + 10 + 5
    assert len({t.key for t in tasks}) == len(tasks)
    for v in values:
        for s in SCHEMES:
            seeds = [
                x
                for t in tasks
                if t.kwargs["scheme"] == s and t.kwargs["scenario"][key] == v
                for x in t.kwargs["seeds"]
            ]
            assert seeds == list(range(25))


def test_run_block_is_pure_and_counts_infeasible_as_zero():
    a = sweep_sfma.run_block("swinjscc_fdma", [0, 1, 2], {"n": 8})
    b = sweep_sfma.run_block("swinjscc_fdma", [0, 1, 2], {"n": 8})
    assert a["rates"] == b["rates"] and a["feasible"] == b["feasible"]
    assert len(a["rates"]) == 3
    for r, f in zip(a["rates"], a["feasible"], strict=True):
        assert (r > 0) == f or (f and r == 0)
    assert np.all(np.asarray(a["rates"]) >= 0)
