"""Monte-Carlo scenarios of SC-SFMA Sec. IV-A (numbers in docs/sc_sfma/model.md, Sec. IV-A table).

Users are uniform in a 250 m cell (at least 35 m from the BS), path loss
``128.1 + 37.6 log10(d / km)`` dB with 8 dB log-normal shadowing, noise -174 dBm/Hz plus a 9 dB
noise figure; each user's image class is a Fashion-MNIST label drawn uniformly; its request is
``n_i`` images of 28x28x8 bits, ``n_i`` uniform in {32, ..., 96}. One realisation is one
``numpy.random.Generator(seed)``: the same seed gives the same users.

``scene_pairs`` (default 0, the paper's scenario): that many couples of users, drawn at random,
ask for views of one scene each (a shared scene id, the same label; their pairs are of class
``"overlap"``, which the tables must have). The draw comes after every other, so the gains,
the sizes and the labels of the users outside the couples do not depend on it; in each couple
the second user takes the first's label (so the label classes of its other pairs change too).

Tables: :func:`load_tables` returns the measured ``sfma_xi_<model>.json`` /
``sfma_distortion_<model>.json`` from ``data/tables`` when they exist, else synthetic tables of
the same format (``semdacom.sc_sfma.model.synthetic_*``); callers print which
(``tables.synthetic``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from semdacom.sc_sfma import model as sfma
from semdacom.sc_sfma.optimizer.problem import SfmaProblem

__all__ = ["DEFAULTS", "Tables", "load_tables", "make_problem", "path_loss_db"]

IMAGE_BITS = 28 * 28 * 8
DEFAULTS = dict(
    n=8,
    radius_m=250.0,
    d_min_m=35.0,
    shadow_db=8.0,
    p_max_dbm=20.0,
    b_mhz=10.0,
    t_max_s=0.1,
    noise_dbm_hz=-174.0,
    noise_figure_db=9.0,
    images=(32, 96),
    d_max=0.4,
    e_per_user_j=3e-3,
    phi_enc=10.0,
    phi_dec=10.0,
    f_bs=2e9,
    f_user=1e9,
    kappa=1e-28,
    nu_lb=1.0 / 16,
    scene_pairs=0,
)


def path_loss_db(d_m: np.ndarray) -> np.ndarray:
    """``128.1 + 37.6 log10(d / km)`` dB (3GPP TR 36.814 macro, as SC-SFMA Sec. IV-A)."""
    return 128.1 + 37.6 * np.log10(np.asarray(d_m, dtype=float) / 1000.0)


@dataclass
class Tables:
    xi: dict[str, sfma.XiTable] = field(default_factory=dict)
    dist: dict[str, sfma.DistortionEnvelopeTable] = field(default_factory=dict)
    synthetic: list[str] = field(default_factory=list)


_CACHE: dict[str, Tables] = {}


def load_tables(models=("sc_sfma", "swinjscc_noma"), dist_models=None) -> Tables:
    """Measured tables where ``data/tables`` has them, synthetic ones (listed in
    ``Tables.synthetic``) otherwise; cached per process."""
    dist_models = dist_models or ("sc_sfma", "swinjscc_noma", "swinjscc_oma", "deepjscc_noma")
    key = repr((tuple(models), tuple(dist_models)))
    if key in _CACHE:
        return _CACHE[key]
    t = Tables()
    kinds = (
        ("xi", models, t.xi, sfma.load_xi_table, sfma.synthetic_xi_table, 100),
        ("distortion", dist_models, t.dist, sfma.load_distortion_table,
         sfma.synthetic_distortion_table, 200),
    )  # fmt: skip
    for kind, names, store, load, synthetic, seed0 in kinds:
        for k, m in enumerate(names):
            try:
                store[m] = load(f"sfma_{kind}_{m}.json")
            except FileNotFoundError:
                store[m] = synthetic(m, seed=seed0 + k)
                t.synthetic.append(f"sfma_{kind}_{m}")
    _CACHE[key] = t
    return t


def make_problem(
    seed: int,
    *,
    n: int | None = None,
    p_max_dbm: float | None = None,
    b_mhz: float | None = None,
    model: str = "sc_sfma",
    dist_model: str | None = None,
    tables: Tables | None = None,
    **overrides,
) -> SfmaProblem:
    """One Monte-Carlo realisation of the Sec. IV-A scenario (defaults: :data:`DEFAULTS`)."""
    cfg = dict(DEFAULTS)
    given = dict(n=n, p_max_dbm=p_max_dbm, b_mhz=b_mhz)
    cfg.update({k: v for k, v in given.items() if v is not None})
    cfg.update(overrides)
    tables = tables or load_tables()
    rng = np.random.default_rng(seed)
    n = int(cfg["n"])
    r_min, r_max = cfg["d_min_m"], cfg["radius_m"]
    d = np.sqrt(rng.uniform(r_min**2, r_max**2, n))  # uniform over the annulus area
    shadow = cfg["shadow_db"] * rng.standard_normal(n)
    gains = 10 ** (-(path_loss_db(d) + shadow) / 10)
    labels = rng.integers(0, 10, n)
    lo, hi = cfg["images"]
    bits = rng.integers(lo, hi + 1, n) * IMAGE_BITS
    n0 = 10 ** ((cfg["noise_dbm_hz"] + cfg["noise_figure_db"] - 30) / 10)
    k = int(cfg["scene_pairs"])
    if not 0 <= k <= n // 2:
        raise ValueError(f"scene_pairs must lie in 0..{n // 2}, got {k}")
    scenes = np.full(n, -1)
    if k:
        who = rng.permutation(n)[: 2 * k].reshape(k, 2)
        scenes[who] = np.arange(k)[:, None]
        labels[who[:, 1]] = labels[who[:, 0]]
    return SfmaProblem(
        gains=gains,
        labels=labels,
        scenes=scenes,
        source_bits=bits.astype(float),
        d_max=cfg["d_max"],
        xi_table=tables.xi[model],
        dist_table=tables.dist[dist_model or model],
        p_max=10 ** ((cfg["p_max_dbm"] - 30) / 10),
        b_tot=cfg["b_mhz"] * 1e6,
        e_max=cfg["e_per_user_j"] * n,
        t_max=cfg["t_max_s"],
        n0=n0,
        phi_enc=cfg["phi_enc"],
        phi_dec=cfg["phi_dec"],
        f_bs=cfg["f_bs"],
        f_user=cfg["f_user"],
        kappa=cfg["kappa"],
        nu_lb=cfg["nu_lb"],
        name=f"seed{seed}_n{n}_p{cfg['p_max_dbm']:g}dBm_b{cfg['b_mhz']:g}MHz_{model}",
        extra={"distance_m": d, "shadow_db": shadow, "seed": seed, "cfg": cfg},
    )


def snr_spread_db(prob: SfmaProblem) -> tuple[float, float]:
    """Min and max user SNR (dB) at equal allocation (a diagnostic)."""
    m = prob.m
    s = 10 * np.log10(prob.p_max / m * prob.gains / (prob.n0 * prob.b_tot / m))
    return float(s.min()), float(s.max())
