"""SC-SFMA transceiver (sfma/model.py, sfma/transceiver.py): shapes, per-sample power
normalisation, the top-k code mask and its side-information round trip, superposition power
(eq. 5), AWGN (eq. 6), decoder determinism, the pair sampler, and one training step."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import TINY

from semdacom.data.datasets import load_fashion_mnist
from semdacom.sc_sfma.model import PAIR_CLASSES, pair_class
from semdacom.sc_sfma.transceiver import SfmaTransceiver, awgn, power_normalise, superpose
from semdacom.sc_sfma.transceiver.networks import DCSimM, WindowCrossAttention, code_mask
from semdacom.sc_sfma.transceiver.train import PairSampler


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    x, _ = load_fashion_mnist("test")
    return torch.from_numpy(x[:8].astype(np.float32) / 255.0)[:, None]


@pytest.mark.parametrize("variant", ["sc_sfma", "swinjscc_noma", "swinjscc_oma"])
@pytest.mark.parametrize("nu", [0.125, 0.5, 1.0])
def test_shapes_and_power(variant, nu, images):
    torch.manual_seed(0)
    m = SfmaTransceiver(variant, **TINY).eval()
    xa, xb = images[:4], images[4:]
    with torch.no_grad():
        sa, sb, masks = m.encode_pair(xa, xb, nu)
        k = m.kept_channels(nu)
        expect_k = round(nu * 16 / (2 if variant == "swinjscc_oma" else 1))
        assert k == max(1, expect_k)
        assert sa.shape == sb.shape == (4, m.symbols_per_user(nu)) == (4, k * 4 // 2)
        assert torch.is_complex(sa)
        assert masks.shape == (4, 2, 16) and masks.dtype == torch.bool
        assert (masks.sum(-1) == k).all()
        for s in (sa, sb):  # per-sample power normalisation
            assert torch.allclose(s.abs().pow(2).mean(1), torch.ones(4), atol=1e-5)
        ha, hb = m(xa, xb, nu, 10.0, generator=torch.Generator().manual_seed(1))
    assert ha.shape == hb.shape == (4, 1, 28, 28)
    assert float(ha.min()) >= 0.0 and float(ha.max()) <= 1.0


def test_code_mask_top_k():
    z = torch.zeros(2, 2, 2, 6)
    z[0, ..., 4] = 3.0
    z[0, ..., 1] = -2.0  # magnitude counts, not sign
    z[0, 0, 0, 5] = 1.0
    z[1, ..., 0] = 0.5
    m = code_mask(z, 2)
    assert m[0].tolist() == [False, True, False, False, True, False]
    # row 1: channel 0 first, then the lowest-index tie among the zeros
    assert m[1].tolist() == [True, True, False, False, False, False]
    with pytest.raises(ValueError):
        code_mask(z, 0)


def test_side_information_round_trip():
    """unpack() puts each received value back on its mask channel, zeros elsewhere."""
    m = SfmaTransceiver("swinjscc_noma", **TINY)
    g = torch.Generator().manual_seed(3)
    mask = torch.zeros(3, 16, dtype=torch.bool)
    for i, chans in enumerate(([0, 5, 9, 15], [1, 2, 3, 4], [7, 8, 12, 14])):
        mask[i, chans] = True
    reals = torch.randn(3, 4, 4, generator=g)  # (n, k, h*w)
    flat = reals.reshape(3, 16)
    y = torch.complex(flat[:, 0::2], flat[:, 1::2])
    z = m.unpack(y, mask)  # (n, 2, 2, C)
    zc = z.reshape(3, 4, 16).transpose(1, 2)  # (n, C, h*w)
    for i in range(3):
        chans = torch.nonzero(mask[i])[:, 0]
        assert torch.equal(zc[i, chans], reals[i])
        assert torch.count_nonzero(zc[i, ~mask[i]]) == 0
    with pytest.raises(ValueError):
        m.unpack(y[:, :6], mask)


def test_encode_decode_uses_the_mask(images):
    """The decoder gets the code back where the encoder put it: noise-free symbols unpacked with
    the true mask equal the encoder's masked code (up to the power normalisation)."""
    torch.manual_seed(0)
    m = SfmaTransceiver("swinjscc_oma", **TINY).eval()
    with torch.no_grad():
        f = m.encoder.forward_single(images[:3])
        z = m.heads[0](f) * m.ratemod[0](torch.full((3, 1), 0.5))[:, None, None, :]
        s, mask = m.encode(images[:3], 0.5)
        back = m.unpack(s, mask)
        zm = z * mask[:, None, None, :]
        scale = back.abs().sum((1, 2, 3)) / zm.abs().sum((1, 2, 3))  # per-sample normalisation
        assert torch.allclose(back, zm * scale[:, None, None, None], atol=1e-5)


def test_superposition_power_and_awgn():
    g = torch.Generator().manual_seed(0)
    n = 20000

    def cn(*shape):
        r = torch.randn(*shape, 2, generator=g)
        return torch.complex(r[..., 0], r[..., 1])

    sa, sb = power_normalise(cn(4, n)), power_normalise(cn(4, n))
    for alpha in (0.5, 0.8):
        x = superpose(sa, sb, alpha)
        assert abs(float(x.abs().pow(2).mean()) - 1.0) < 0.02  # eq. (5) at unit power
        assert torch.allclose(superpose(sa, torch.zeros_like(sb), alpha), math.sqrt(alpha) * sa)
    with pytest.raises(ValueError):
        superpose(sa, sb[:, :5])
    for snr in (0.0, 10.0, 20.0):
        y = awgn(torch.zeros(4, n, dtype=torch.complex64), snr, generator=g)
        assert abs(float(y.abs().pow(2).mean()) / 10 ** (-snr / 10) - 1.0) < 0.03
    # one SNR per row
    y = awgn(torch.zeros(2, n, dtype=torch.complex64), torch.tensor([0.0, 20.0]), generator=g)
    p = y.abs().pow(2).mean(1)
    assert abs(float(p[0]) - 1.0) < 0.05 and abs(float(p[1]) - 0.01) < 0.001


def test_decoder_determinism(images):
    torch.manual_seed(0)
    m = SfmaTransceiver("sc_sfma", **TINY).eval()
    with torch.no_grad():
        sa, sb, masks = m.encode_pair(images[:4], images[4:], 0.5)
        y = awgn(superpose(sa, sb), 5.0, torch.Generator().manual_seed(9))
        d1 = m.decode(y, masks[:, 0], 0.5, 0, 5.0)
        d2 = m.decode(y.clone(), masks[:, 0].clone(), 0.5, 0, 5.0)
        assert torch.equal(d1, d2)
        r1 = m(images[:4], images[4:], 0.5, 5.0, generator=torch.Generator().manual_seed(2))
        r2 = m(images[:4], images[4:], 0.5, 5.0, generator=torch.Generator().manual_seed(2))
        assert torch.equal(r1[0], r2[0]) and torch.equal(r1[1], r2[1])
        # the users' decoders differ: user b's decoder on user a's signal is another image
        assert not torch.equal(d1, m.decode(y, masks[:, 0], 0.5, 1, 5.0))


def test_scfm_parts():
    torch.manual_seed(0)
    a, b = torch.randn(2, 8, 8, 16), torch.randn(2, 8, 8, 16)
    cos, mad = DCSimM.descriptors(a, a)
    assert torch.allclose(cos, torch.ones(2, 1), atol=1e-5) and torch.count_nonzero(mad) == 0
    gate = DCSimM(16)(a, b).detach()
    assert gate.shape == (2, 16) and float(gate.min()) > 0 and float(gate.max()) < 1
    for shift in (0, 2):
        att = WindowCrossAttention(16, 2, 4, shift=shift)
        o = att(a, b)
        assert o.shape == a.shape
        # queries of one window attend only to the partner's tokens of that window: changing
        # the partner outside the first window leaves the first window's output unchanged
        b2 = b.clone()
        b2[:, 4:, 4:] += 5.0
        o2 = att(a, b2)
        first = (slice(None), slice(0, 4), slice(0, 4)) if shift == 0 else None
        if first is not None:
            assert torch.allclose(o[first], o2[first], atol=1e-6)
        else:
            assert not torch.allclose(o, o2)


def test_foreground_gate_descriptors_measure_content_not_scale():
    torch.manual_seed(0)
    a, b = torch.randn(3, 4, 4, 8), torch.randn(3, 4, 4, 8)
    fg = torch.zeros(3, 4, 4)
    fg[:, 1:3, 1:3] = 1
    cos, mad = DCSimM.descriptors(a, a, fg)
    assert torch.allclose(cos, torch.ones(3, 1), atol=1e-5) and float(mad.abs().max()) == 0
    # background tokens do not count; a per-channel offset and a common gain do not either
    b_bg = a.clone()
    b_bg[:, 0] += 50.0
    cos2, mad2 = DCSimM.descriptors(a, b_bg, fg)
    assert torch.allclose(cos2, cos, atol=1e-5) and float(mad2.abs().max()) == 0
    shifted = a + torch.randn(1, 1, 1, 8) * 3
    assert torch.allclose(DCSimM.descriptors(a, shifted, fg)[0], cos, atol=1e-5)
    c_a, m_a = DCSimM.descriptors(a, b, fg)
    c_s, m_s = DCSimM.descriptors(10 * a, 10 * b, fg)
    assert torch.allclose(c_a, c_s, atol=1e-5) and torch.allclose(m_a, m_s, atol=1e-4)
    assert float(c_a.abs().max()) < 0.9  # unrelated features are not similar


def test_gate_designs_start_where_documented():
    torch.manual_seed(0)
    a, b = torch.randn(2, 4, 4, 16), torch.randn(2, 4, 4, 16)
    legacy = DCSimM(16, gate="legacy")(a, b)
    assert torch.allclose(legacy, torch.full_like(legacy, torch.sigmoid(torch.tensor(-2.0))))
    fresh = DCSimM(16)
    g = fresh(a, b, torch.ones(2, 4, 4))
    assert 0.3 < float(g.detach().mean()) < 0.7  # open: gradient reaches it from the start
    g.sum().backward()
    assert float(fresh.net[0].weight.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="gate"):
        DCSimM(16, gate="closed")


def test_scfm_starts_as_the_identity_and_the_gate_can_be_forced(images):
    torch.manual_seed(0)
    m = SfmaTransceiver("sc_sfma", **TINY).eval()
    fa, fb = torch.randn(2, 8, 8, 8), torch.randn(2, 8, 8, 8)
    scfm = m.encoder.scfm[0]
    oa, ob = scfm(fa, fb, torch.ones(2, 8, 8))
    assert torch.equal(oa, fa) and torch.equal(ob, fb)  # zero fusion path at initialisation
    with torch.no_grad():
        for mod in (scfm.cross_w.proj, scfm.cross_sw.proj):
            mod.weight.normal_()
    assert not torch.equal(scfm(fa, fb, torch.ones(2, 8, 8))[0], fa)
    m.encoder.set_gate(0.0)
    assert torch.equal(scfm(fa, fb, torch.ones(2, 8, 8))[0], fa)  # gate 0: no fusion
    m.encoder.set_gate(None)
    assert scfm.gate_override is None
    with pytest.raises(ValueError, match="gate"):
        m.encoder.set_gate(1.5)
    with pytest.raises(RuntimeError, match="no SCFM"):
        SfmaTransceiver("swinjscc_noma", **TINY).encoder.set_gate(0.0)


def test_the_self_control_takes_nothing_from_the_partner(images):
    torch.manual_seed(0)
    m = SfmaTransceiver("sc_sfma", **{**TINY, "partner": "self"}).eval()
    for mod in m.encoder.scfm:  # a trained fusion path (a fresh one is zero)
        with torch.no_grad():
            mod.cross_w.proj.weight.normal_()
    xa = images[:4]
    with torch.no_grad():
        fa1, _ = m.encoder.forward_pair(xa, images[4:])
        fa2, _ = m.encoder.forward_pair(xa, torch.flip(images[4:], (0,)))
        # equal up to float32 rounding: the pair's images are coded in one batch, and on some
        # CPUs the kernels round a row differently with other rows beside it (6e-7 here, the
        # same code bit-equal on the machine that wrote the test)
        torch.testing.assert_close(fa1, fa2, rtol=0.0, atol=1e-5)
        pair = SfmaTransceiver("sc_sfma", **TINY).eval()
        pair.load_state_dict(m.state_dict())
        fp = pair.encoder.forward_pair(xa, images[4:])[0]
        assert (fp - fa1).abs().max() > 1e-2  # the same modules attending to the partner
    with pytest.raises(ValueError, match="partner"):
        SfmaTransceiver("sc_sfma", **{**TINY, "partner": "other"})


def test_warm_start_from_the_ablation_computes_the_same(images, tmp_path):
    from semdacom.sc_sfma.transceiver.train import warm_start

    torch.manual_seed(0)
    noma = SfmaTransceiver("swinjscc_noma", **TINY).eval()
    path = tmp_path / "noma.pt"
    torch.save({"config": noma.config, "state_dict": noma.state_dict()}, path)
    sc = SfmaTransceiver("sc_sfma", **TINY).eval()
    warm_start(sc, path)
    xa, xb = images[:4], images[4:]
    with torch.no_grad():
        r1 = noma(xa, xb, 0.25, 10.0, generator=torch.Generator().manual_seed(3))
        r2 = sc(xa, xb, 0.25, 10.0, generator=torch.Generator().manual_seed(3))
    assert torch.equal(r1[0], r2[0]) and torch.equal(r1[1], r2[1])
    # weights of another network are refused, so is a legacy gate (its fusion is not zero)
    other = SfmaTransceiver("swinjscc_noma", **{**TINY, "code_channels": 8})
    torch.save({"config": other.config, "state_dict": other.state_dict()}, tmp_path / "o.pt")
    with pytest.raises((ValueError, RuntimeError)):
        warm_start(SfmaTransceiver("sc_sfma", **TINY), tmp_path / "o.pt")
    with pytest.raises(ValueError, match="zero fusion"):
        warm_start(SfmaTransceiver("sc_sfma", **{**TINY, "gate": "legacy"}), path)


def test_legacy_configs_build_the_first_shipped_design():
    from semdacom.sc_sfma.transceiver.train import build_model

    cfg = {k: v for k, v in SfmaTransceiver("sc_sfma", **TINY).config.items()}
    for k in ("slot_embed", "gate"):
        cfg.pop(k)
    m = build_model(cfg)
    assert m.encoder.slot is not None and m.encoder.scfm[0].gate.kind == "legacy"
    assert SfmaTransceiver("sc_sfma", **TINY).encoder.slot is None


def test_pair_sampler_classes():
    _, labels = load_fashion_mnist("test")
    s = PairSampler(labels)
    rng = np.random.default_rng(0)
    ia, ib, classes = s.sample(600, rng)
    counts = {c: classes.count(c) for c in PAIR_CLASSES}
    assert all(150 < v < 250 for v in counts.values()), counts
    for a, b, c in zip(ia, ib, classes, strict=True):
        assert pair_class(int(labels[a]), int(labels[b])) == c
        assert a != b
    for cls in PAIR_CLASSES:
        ia, ib, cl = s.sample(50, rng, cls)
        assert all(
            pair_class(int(labels[a]), int(labels[b])) == cls for a, b in zip(ia, ib, strict=True)
        )


def test_training_steps_lower_the_loss(images):
    """Eq. (9) on a fixed batch: 25 Adam steps lower the pairwise loss."""
    torch.manual_seed(0)
    m = SfmaTransceiver("sc_sfma", **TINY)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    xa, xb = images[:4], images[4:]

    def loss_at(seed):
        ha, hb = m(xa, xb, 0.5, 15.0, generator=torch.Generator().manual_seed(seed))
        return torch.mean((ha - xa) ** 2) + torch.mean((hb - xb) ** 2)

    with torch.no_grad():
        before = float(loss_at(0))
    for step in range(25):
        loss = loss_at(step + 1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = float(loss_at(0))
    assert after < 0.7 * before, (before, after)
