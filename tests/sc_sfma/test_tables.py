"""Property tests of sc_sfma/tables.py: eqs. (17)-(19) of SC-SFMA, the table formats and loaders."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sfma_strategies import finite

from semdacom.sc_sfma import model as sfma


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 10).flatmap(
        lambda n: st.tuples(
            st.lists(st.floats(0.01, 1.0, **finite), min_size=n, max_size=n, unique=True),
            st.lists(
                st.lists(st.floats(0.0, 1.0, **finite), min_size=n, max_size=n),
                min_size=1,
                max_size=6,
            ),
        )
    )
)
def test_envelope_monotone_and_above_samples(args):
    nu, samples = args
    order = np.argsort(nu)
    nu = np.asarray(nu)[order]
    d = np.asarray(samples)[:, order]
    env = sfma.upper_envelope(nu, d)
    assert np.all(np.diff(env) <= 0)
    assert np.all(env[None, :] >= d - 1e-15)
    # tight: every envelope value is one of the samples at or beyond its grid point
    for k in range(nu.size):
        assert env[k] == pytest.approx(d[:, k:].max())
    # nu_min: the envelope meets the threshold at nu_min and not just below it
    for target in np.linspace(0, 1, 7):
        v = float(sfma.nu_min(nu, env, target))
        if math.isinf(v):
            assert env[-1] > target
            continue
        assert np.interp(v, nu, env) <= target + 1e-9
        if v > nu[0] + 1e-9:
            assert np.interp(v - 1e-7, nu, env) > target - 1e-9


def test_envelope_ignores_nan_and_rejects_bad_grid():
    env = sfma.upper_envelope([0.1, 0.5, 1.0], [[0.3, np.nan, 0.1], [np.nan, 0.2, 0.05]])
    np.testing.assert_allclose(env, [0.3, 0.2, 0.1])
    with pytest.raises(ValueError):
        sfma.upper_envelope([0.5, 0.1], [0.2, 0.1])


def test_tables_roundtrip_and_queries(tmp_path):
    doc = sfma.synthetic_xi_table(seed=3, as_dict=True)
    path = tmp_path / "sfma_xi_sc_sfma.json"
    path.write_text(json.dumps(doc))
    tab = sfma.load_xi_table(path)
    assert tab.synthetic and set(tab.params) == {*sfma.PAIR_CLASSES, sfma.OVERLAP_CLASS}
    assert min(tab.r2.values()) > 0.95
    assert tab.xi("same", 30.0, 1.0) < tab.xi("dissimilar", 30.0, 1.0)

    ddoc = sfma.synthetic_distortion_table(seed=3, as_dict=True)
    dpath = tmp_path / "sfma_distortion_sc_sfma.json"
    dpath.write_text(json.dumps(ddoc))
    dt = sfma.load_distortion_table(dpath)
    assert dt.metric == "1-msssim"
    # conservative SNR level: between grid points the lower level is used
    lvl = dt.snr_index([dt.snr_db[0] - 1, dt.snr_db[2], dt.snr_db[2] + 0.1, 1e3])
    np.testing.assert_array_equal(lvl, [-1, 2, 2, dt.snr_db.size - 1])
    for cls in sfma.PAIR_CLASSES:
        levels = dt.nu_min_levels(cls, 0.15)
        assert np.all(np.diff(levels[np.isfinite(levels)]) <= 1e-12)
        v = float(dt.nu_min(cls, 17.0, 0.15))
        assert dt.distortion(cls, 17.0, v) <= 0.15 + 1e-9
        s_req = dt.snr_required_db(cls, v, 0.15)
        assert s_req <= 17.0
        assert dt.distortion(cls, s_req, v) <= 0.15 + 1e-9
        assert math.isinf(float(dt.distortion(cls, dt.snr_db[0] - 1, 1.0)))

    bad = dict(ddoc, format="nope")
    with pytest.raises(ValueError):
        sfma.distortion_table_from_dict(bad)
    broken = json.loads(json.dumps(ddoc))
    broken["classes"]["same"]["envelope"]["d"][0] = list(
        reversed(broken["classes"]["same"]["envelope"]["d"][0])
    )
    with pytest.raises(ValueError, match="increases"):
        sfma.distortion_table_from_dict(broken)
    with pytest.raises(ValueError):
        sfma.xi(0, 0, {"xi_lo": 0.5, "xi_hi": 0.1, "a": 1, "b": 1, "s0": 0, "nu0": 0})
