"""Problem (20)'s pair classes (``SfmaProblem.classes``, ``cls``): the label classes of
``pair_class`` and the ``"overlap"`` class of users who share a scene (``scenes``), with the
scenario's ``scene_pairs``. Synthetic tables (conftest), which hold an ``"overlap"`` class."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semdacom.sc_sfma import model as sfma
from semdacom.sc_sfma.optimizer import solve
from semdacom.sc_sfma.optimizer.problem import SfmaProblem
from semdacom.sc_sfma.optimizer.scenario import make_problem
from semdacom.sc_sfma.tables import distortion_table_from_dict, xi_table_from_dict


def test_pair_class_of_a_shared_scene() -> None:
    assert sfma.pair_class(0, 0) == "same"
    assert sfma.pair_class(0, 8, 3, 3) == sfma.OVERLAP_CLASS  # the scene decides, not the label
    assert sfma.pair_class(0, 0, 3, 4) == "same"
    assert sfma.pair_class(0, 8, -1, -1) == "dissimilar"  # -1: a scene of its own


def test_without_shared_scenes_the_classes_are_the_label_classes(tables) -> None:
    base = make_problem(3, n=8, tables=tables)
    own = make_problem(3, n=8, tables=tables, scene_pairs=0)
    assert base.classes == sfma.PAIR_CLASSES
    assert np.array_equal(base.cls, own.cls) and np.all(own.scenes == -1)
    # one user per scene id is no shared scene either
    p = SfmaProblem(gains=base.gains, labels=base.labels, scenes=np.arange(8),
                    source_bits=base.source_bits, d_max=0.4, xi_table=base.xi_table,
                    dist_table=base.dist_table)  # fmt: skip
    assert p.classes == sfma.PAIR_CLASSES and np.array_equal(p.cls, base.cls)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4))
def test_scene_pairs_mark_overlap_and_keep_the_rest_of_the_realisation(tables, seed, k) -> None:
    base = make_problem(seed, n=8, tables=tables)
    p = make_problem(seed, n=8, tables=tables, scene_pairs=k)
    assert np.array_equal(p.gains, base.gains)
    assert np.array_equal(p.source_bits, base.source_bits)
    assert p.classes == (*sfma.PAIR_CLASSES, sfma.OVERLAP_CLASS)
    ov = p.classes.index(sfma.OVERLAP_CLASS)
    ids, counts = np.unique(p.scenes[p.scenes >= 0], return_counts=True)
    assert ids.tolist() == list(range(k)) and np.all(counts == 2)
    for i in range(8):
        for j in range(8):
            shared = i != j and p.scenes[i] >= 0 and p.scenes[i] == p.scenes[j]
            assert (p.cls[i, j] == ov) == shared
            if shared:
                assert p.labels[i] == p.labels[j]  # views of one scene: one label
            else:
                assert p.classes[p.cls[i, j]] == sfma.pair_class(p.labels[i], p.labels[j])


def test_an_overlap_pair_is_planned_with_its_own_surfaces(tables) -> None:
    p = make_problem(5, n=4, tables=tables, scene_pairs=1)
    i, j = np.flatnonzero(p.scenes == 0)
    c = p.cls[i, j]
    xi = p.xi_of(np.array([c]), np.array([10.0]), np.array([0.25]))
    want = sfma.xi(10.0, 0.25, p.xi_table.params[sfma.OVERLAP_CLASS])
    assert xi[0] == pytest.approx(float(want))
    a = solve(p)
    assert a.feasible and np.isfinite(a.objective)


def test_tables_without_the_overlap_class_are_a_clear_error(tables) -> None:
    xi = sfma.synthetic_xi_table("sc_sfma", seed=1, as_dict=True)
    dist = sfma.synthetic_distortion_table("sc_sfma", seed=1, as_dict=True)
    del xi["classes"][sfma.OVERLAP_CLASS]
    del dist["classes"][sfma.OVERLAP_CLASS]
    base = make_problem(1, n=4, tables=tables)
    kw = dict(
        gains=base.gains,
        labels=base.labels,
        source_bits=base.source_bits,
        d_max=0.4,
        xi_table=xi_table_from_dict(xi),
        dist_table=distortion_table_from_dict(dist),
    )
    SfmaProblem(**kw)  # no shared scene: the label classes suffice
    with pytest.raises(ValueError, match="profile-sfma --classes overlap"):
        SfmaProblem(scenes=[2, -1, 2, -1], **kw)
    with pytest.raises(ValueError, match="scenes must have shape"):
        SfmaProblem(scenes=[2, 2], **kw)
    with pytest.raises(ValueError, match="scene_pairs"):
        make_problem(1, n=4, tables=tables, scene_pairs=3)
