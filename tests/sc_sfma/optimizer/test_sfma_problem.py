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
    # labels: unchanged outside the couples; in each, the second user takes the first's label
    # (which of the two is first is not observable here, so: one of them kept its own, and the
    # other has it)
    out = p.scenes < 0
    assert np.array_equal(p.labels[out], base.labels[out])
    for c in range(k):
        i, j = np.flatnonzero(p.scenes == c)
        assert p.labels[i] == p.labels[j] and p.labels[i] in (base.labels[i], base.labels[j])
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


def test_scene_pairs_give_the_second_user_of_a_couple_the_first_users_label(
    tables, monkeypatch
) -> None:
    """The couples are ``rng.permutation(n)[:2k]`` read as (first, second) rows: recorded here."""
    real = np.random.default_rng
    drawn = []

    class Recorder:
        def __init__(self, seed) -> None:
            self._g = real(seed)

        def __getattr__(self, name):
            return getattr(self._g, name)

        def permutation(self, x):
            out = self._g.permutation(x)
            drawn.append(out)
            return out

    monkeypatch.setattr(np.random, "default_rng", Recorder)
    for seed in range(6):
        base = make_problem(seed, n=8, tables=tables)
        drawn.clear()
        p = make_problem(seed, n=8, tables=tables, scene_pairs=3)
        (perm,) = drawn
        who = perm[:6].reshape(3, 2)
        assert np.array_equal(p.scenes[who], np.repeat(np.arange(3)[:, None], 2, axis=1))
        assert np.array_equal(p.labels[who[:, 0]], base.labels[who[:, 0]])  # first: its own
        assert np.array_equal(p.labels[who[:, 1]], base.labels[who[:, 0]])  # second: the first's
        rest = np.setdiff1d(np.arange(8), who)
        assert np.array_equal(p.labels[rest], base.labels[rest])


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
    with pytest.raises(ValueError, match="'scenes' has 2 entries, expected K=4"):
        SfmaProblem(scenes=[2, 2], **kw)
    with pytest.raises(ValueError, match="scene_pairs"):
        make_problem(1, n=4, tables=tables, scene_pairs=3)


@pytest.mark.parametrize(
    "scenes, reason",
    [
        ([0.7, 0.2, -1, -1], "integers >= -1.*dtype float"),  # a cast would make scene 0 shared
        (np.array([0.0, 0.0, -1.0, -1.0]), "integers >= -1.*dtype float"),
        ([0, 0, -3, -1], "integers >= -1.*got -3"),
        ([True, True, False, False], "integers >= -1.*dtype bool"),
        (["0", "0", "-1", "-1"], "integers >= -1"),
        ([0, 0, -1], "'scenes' has 3 entries, expected K=4"),
    ],
)
def test_bad_scene_ids_are_a_value_error_naming_the_problem(tables, scenes, reason) -> None:
    base = make_problem(1, n=4, tables=tables)
    kw = dict(gains=base.gains, labels=base.labels, source_bits=base.source_bits, d_max=0.4,
              xi_table=base.xi_table, dist_table=base.dist_table)  # fmt: skip
    with pytest.raises(ValueError, match=reason):
        SfmaProblem(scenes=scenes, **kw)
    p = SfmaProblem(scenes=np.array([0, 0, -1, -1], dtype=np.int32), **kw)  # any integer dtype
    assert p.scenes.tolist() == [0, 0, -1, -1] and p.classes[-1] == sfma.OVERLAP_CLASS
