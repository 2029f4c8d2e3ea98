"""QA of ``sfma_decoder``: a received frame of the library chain (``encode_pair``,
``superpose``, ``awgn``, scaled by sqrt(P g)) decodes to the library's ``decode`` of the same
symbols at the SNR P g / (N0 B); the gain from CSI is frame-exact; blind mode without a gain;
side information by message when the stream has no group tag; every frame gives exactly one
image PDU, an explicit erasure where it cannot be decoded."""

from __future__ import annotations

import math

import numpy as np
import pmt
import pytest
from block_harness import SFMA_VARIANTS, IdleSource, make_tag, run_stream, wait_until
from gnuradio import gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.sc_sfma.sfma_decoder import sfma_decoder

from semdacom.data.datasets import load_fashion_mnist

VARIANTS = SFMA_VARIANTS
N0_DBM_HZ = -165.0
N0 = 10 ** ((N0_DBM_HZ - 30) / 10)
FL = 128


@pytest.fixture(scope="module")
def images():
    imgs, labels = load_fashion_mnist("test")
    return imgs[:8].reshape(8, 1, 28, 28), labels[:8]


def _chain(variant, xa, xb, nu, snr_db, seed):
    """Library chain: the pair's symbols, the superposition, user-side y at ``snr_db``."""
    import torch

    from semdacom.sc_sfma.transceiver import awgn, shared_transceiver, superpose

    m = shared_transceiver(variant)
    t = [torch.from_numpy(x.astype(np.float32)[None] / 255.0) for x in (xa, xb)]
    with torch.no_grad():
        sa, sb, masks = m.encode_pair(t[0], t[1], nu)
        y = awgn(superpose(sa, sb, 0.5), snr_db, generator=torch.Generator().manual_seed(seed))
    return m, y, masks[0].numpy()


def _lib_decode(m, y, mask, nu, slot, snr_db):
    import torch

    with torch.no_grad():
        x = m.decode(y, torch.from_numpy(mask[None]), nu, slot, snr_db)[0]
    return np.round(x.clamp(0, 1).numpy() * 255.0).astype(np.uint8)


def _group_tag(masks, nu, n_sym, power, bw, users=(0, 1), image_ids=(10, 11), **extra):
    slots = {}
    for r in (0, 1):
        slots[f"slot{r}"] = {"user": users[r], "group": 0, "slot": r, "partner": users[1 - r],
                             "nu": nu, "n_sym": n_sym, "mask": masks[r].astype(np.uint8),
                             "erased": False, "pdu_image_id": image_ids[r], "pdu_label": 3,
                             "enc_alloc_seq": 2}  # fmt: skip
    return {"group": 0, "power": power, "bw": bw, "power_split": 0.5, "alloc_seq": 2,
            **slots, **extra}  # fmt: skip


def _run(blk, frames, msgs=(), n_out=None):
    """Frames: (samples, tag dict or None, packet_len); ``msgs``: (port, msg) posted first."""
    data, tags, off = [], [], 0
    for f, (s, tag, plen) in enumerate(frames):
        tags += [make_tag(off, "frame", pmt.from_uint64(f)),
                 make_tag(off, "packet_len", pmt.from_long(plen))]  # fmt: skip
        if tag is not None:
            tags.append(make_tag(off, messages.SFMA_GROUP_TAG, messages.meta_to_pmt(tag)))
        data += list(s)
        off += len(s)
    n = len(frames) if n_out is None else n_out
    dbg = run_stream(blk, data, tags, msgs, until=n)
    return [messages.unpack_image_pdu(dbg.get_message(i)) for i in range(dbg.num_messages())]


def _frame(y, amp):
    s = np.zeros(FL, np.complex64)
    s[: y.shape[1]] = (y[0].numpy() * amp).astype(np.complex64)
    return s


@pytest.mark.parametrize("variant", VARIANTS)
def test_decodes_as_the_library_at_the_planned_snr(variant, images) -> None:
    imgs, _ = images
    g, p, bw = 2e-10, 0.05, 4e6
    snr_db = 10 * math.log10(p * g / (N0 * bw))
    m, y, masks = _chain(variant, imgs[0], imgs[1], 0.5, snr_db, seed=3)
    tag = _group_tag(masks, 0.5, y.shape[1], p, bw)
    want = [_lib_decode(m, y, masks[r], 0.5, r, snr_db) for r in (0, 1)]
    for user in (0, 1):
        blk = sfma_decoder(user=user, weights=variant, gain=g, noise_dbm_hz=N0_DBM_HZ)
        ((meta, img),) = _run(blk, [(_frame(y, math.sqrt(p * g)), tag, FL)])
        assert not meta["erased"] and meta["snr_source"] == "param"
        assert meta["snr_db"] == pytest.approx(snr_db, abs=1e-9)
        assert (meta["slot"], meta["partner"], meta["group"], meta["nu"]) == (
            user,
            1 - user,
            0,
            0.5,
        )
        assert (meta["image_id"], meta["label"], meta["enc_alloc_seq"], meta["alloc_seq"]) == (
            10 + user, 3, 2, 2)  # fmt: skip
        # the same network on the same symbols; float32 rounding may move a pixel by one level
        assert np.max(np.abs(img.astype(int) - want[user].astype(int))) <= 1
        assert np.mean(img != want[user]) < 0.01


@pytest.mark.parametrize("variant", VARIANTS)
def test_csi_gain_is_frame_exact_and_blind_mode(variant, images) -> None:
    imgs, _ = images
    p, bw, g0, g1 = 0.05, 4e6, 2e-10, 5e-11
    m, y, masks = _chain(variant, imgs[2], imgs[3], 0.25, 12.0, seed=4)
    tag = _group_tag(masks, 0.25, y.shape[1], p, bw)
    csi = [
        messages.sfma_csi_to_pmt(messages.SfmaCsi(gain=np.array([g0, 1e-9]), seq=1, frame=0)),
        messages.sfma_csi_to_pmt(messages.SfmaCsi(gain=np.array([g1, 1e-9]), seq=2, frame=2)),
    ]
    blk = sfma_decoder(user=0, weights=variant, noise_dbm_hz=N0_DBM_HZ)
    frames = [(_frame(y, math.sqrt(p * g)), tag, FL) for g in (g0, g0, g1)]
    out = _run(blk, frames, [("csi", c) for c in csi])
    snrs = [meta["snr_db"] for meta, _ in out]
    assert snrs == pytest.approx([10 * math.log10(p * g / (N0 * bw)) for g in (g0, g0, g1)])
    assert all(meta["snr_source"] == "csi" for meta, _ in out)
    assert out[0][1].tobytes() == out[1][1].tobytes()  # the same frame, the same image
    # blind: no gain known, the amplitude from the frame's power at snr_db
    blk = sfma_decoder(user=0, weights=variant, snr_db=12.0)
    ((meta, img),) = _run(blk, [(_frame(y, 3e-6), tag, FL)])
    assert meta["snr_source"] == "blind" and meta["snr_db"] == pytest.approx(12.0)
    assert not meta["erased"]
    want = _lib_decode(m, y, masks[0], 0.25, 0, 12.0)
    # the blind amplitude is an estimate: the image is close to the coherent one
    assert np.mean(np.abs(img.astype(float) - want.astype(float))) < 8.0


@pytest.mark.parametrize("variant", VARIANTS)
def test_side_information_by_message(variant, images) -> None:
    imgs, _ = images
    p, bw, g = 0.05, 4e6, 1e-10
    snr_db = 10 * math.log10(p * g / (N0 * bw))
    m, y, masks = _chain(variant, imgs[4], imgs[5], 1.0, snr_db, seed=5)
    tag = _group_tag(masks, 1.0, y.shape[1], p, bw, users=(3, 1))
    side = messages.meta_to_pmt({"frame": np.uint64(0), **tag})
    other = messages.meta_to_pmt(
        {"frame": np.uint64(1), **_group_tag(masks, 1.0, y.shape[1], p, bw, users=(2, 0))}
    )
    blk = sfma_decoder(user=1, weights=variant, gain=g, noise_dbm_hz=N0_DBM_HZ)
    out = _run(blk, [(_frame(y, math.sqrt(p * g)), None, FL)], [("side", side), ("side", other)])
    ((meta, img),) = out
    assert not meta["erased"] and meta["slot"] == 1 and meta["image_id"] == 11
    assert np.max(np.abs(img.astype(int) - _lib_decode(m, y, masks[1], 1.0, 1, snr_db))) <= 1
    c = blk.counters()
    assert (c["side_accepted"], c["side_other"], c["side_rejected"]) == (1, 1, 0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_frame_one_pdu_erasures_with_reasons(variant, images) -> None:
    imgs, _ = images
    p, bw, g = 0.05, 4e6, 1e-10
    m, y, masks = _chain(variant, imgs[6], imgs[7], 0.5, 10.0, seed=6)
    n = y.shape[1]
    good = _frame(y, math.sqrt(p * g))
    tag = _group_tag(masks, 0.5, n, p, bw)
    erased = _group_tag(masks, 0.5, n, p, bw)
    erased["slot0"] = dict(erased["slot0"], erased=True, erasure_reason="bad image")
    bad_nsym = _group_tag(masks, 0.5, n + 2, p, bw)
    nan = good.copy()
    nan[3] = np.nan
    frames = [
        (good, None, FL),  # no side information
        (good, _group_tag(masks, 0.5, n, p, bw, users=(2, 3)), FL),  # not for user 0
        (good, erased, FL),  # erased at the transmitter
        (good[: n - 1], tag, n - 1),  # short
        (nan, tag, FL),  # non-finite
        (good, bad_nsym, FL),  # n_sym does not match the mask
        (good, {"group": "x"}, FL),  # malformed
        (good, tag, FL),  # fine
    ]
    blk = sfma_decoder(user=0, weights=variant, gain=g, noise_dbm_hz=N0_DBM_HZ)
    out = _run(blk, frames)
    assert len(out) == len(frames) == blk.counters()["pdus_out"]
    words = ("side information", "for users", "bad image", "shorter", "non-finite", "n_sym", "'")
    for (meta, img), word in zip(out[:-1], words, strict=True):
        assert meta["erased"] and word in meta["erasure_reason"], meta
        assert np.array_equal(img, blk.erasure_fill) and meta["user"] == 0
    assert not out[-1][0]["erased"] and blk.counters()["erasures"] == 7
    assert [meta["frame"] for meta, _ in out] == list(range(len(frames)))


@pytest.mark.parametrize("variant", VARIANTS)
def test_bad_csi_and_side_rejected_state_kept(variant) -> None:
    blk = sfma_decoder(user=3, weights=variant, gain=1e-10)
    tb = gr.top_block()
    src = IdleSource()  # a stream that never ends: the block keeps handling messages
    tb.connect(src, blk)
    tb.start()
    try:
        before = blk._gain.state()
        bad = [
            pmt.intern("x"),
            # K = 2 does not include user 3
            messages.sfma_csi_to_pmt(messages.SfmaCsi(gain=np.array([1e-9, 1e-9]), seq=1)),
            # a gain above 1
            messages.meta_to_pmt({"gain": np.array([2.0, 0.5, 0.1, 0.1]), "seq": 1}),
        ]
        for i, msg in enumerate(bad):
            blk.to_basic_block()._post(pmt.intern("csi"), msg)
            wait_until(lambda i=i: blk.counters()["csi_rejected"] > i)
        assert blk._gain.state() == before
        for i, msg in enumerate([pmt.intern("x"), messages.meta_to_pmt({"frame": 3}),
                                 messages.meta_to_pmt({"group": 0})]):  # fmt: skip
            blk.to_basic_block()._post(pmt.intern("side"), msg)
            wait_until(lambda i=i: blk.counters()["side_rejected"] > i)
        assert not blk._side
    finally:
        tb.stop()
        tb.wait()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("batch_fails", [False, True])
def test_frames_of_one_chunk_decode_as_batches_each_as_alone(
    variant, images, batch_fails, monkeypatch
) -> None:
    """Issue 23: the frames of one stream chunk are decoded as one batch per (nu, slot, mask
    size), each as the library decodes it alone (its own mask and SNR), answered once, in
    order; a frame that fails its checks is an erasure on its own, and when a batch's
    decoding raises its frames are decoded one at a time."""
    imgs, _ = images
    p, bw = 0.05, 4e6
    frames, want = [], []
    for j in range(10):
        nu, g = (0.5, 2e-10) if j % 3 else (0.25, 6e-11)
        snr_db = 10 * math.log10(p * g / (N0 * bw))
        m, y, masks = _chain(variant, imgs[j % 8], imgs[(j + 3) % 8], nu, snr_db, seed=20 + j)
        frames.append((_frame(y, math.sqrt(p * g)), _group_tag(masks, nu, y.shape[1], p, bw), FL))
        want.append(_lib_decode(m, y, masks[0], nu, 0, snr_db))
    bad = frames[4][0].copy()
    bad[7] = np.inf
    frames[4] = (bad, frames[4][1], FL)
    blk = sfma_decoder(user=0, weights=variant, noise_dbm_hz=N0_DBM_HZ)
    # each frame's own gain, frame-exact (the SNR that conditions its decoding)
    gains = [2e-10 if j % 3 else 6e-11 for j in range(10)]
    csi = [("csi", messages.sfma_csi_to_pmt(messages.SfmaCsi(gain=np.array([g, 1e-9]), seq=j + 1,
                                                             frame=j)))
           for j, g in enumerate(gains)]  # fmt: skip
    sizes, real = [], blk._decode_many

    def spy(jobs, nu, slot):
        sizes.append(len(jobs))
        if batch_fails and len(jobs) > 1:
            raise RuntimeError("a batch that fails")
        return real(jobs, nu, slot)

    monkeypatch.setattr(blk, "_decode_many", spy)
    out = _run(blk, frames, csi)
    assert [meta["frame"] for meta, _ in out] == list(range(10))
    assert blk.counters()["pdus_out"] == 10 and max(sizes) > 1  # batches were formed
    for j, (meta, img) in enumerate(out):
        if j == 4:
            assert meta["erased"] and "non-finite" in meta["erasure_reason"]
            continue
        assert not meta["erased"] and meta["snr_source"] == "csi", meta
        assert np.max(np.abs(img.astype(int) - want[j].astype(int))) <= 1
        assert np.mean(img != want[j]) < 0.01


@pytest.mark.parametrize("variant", VARIANTS)
def test_samples_beyond_complex64_once_equalised_are_an_erasure(variant, images) -> None:
    """A finite frame that overflows complex64 when divided by sqrt(P g) (a front end at full
    scale, a tiny gain) is an explicit erasure, not a NaN image cast to pixels; the frames
    around it decode."""
    imgs, _ = images
    p, bw, g = 0.05, 4e6, 1e-10
    m, y, masks = _chain(variant, imgs[0], imgs[1], 0.5, 10.0, seed=9)
    good = _frame(y, math.sqrt(p * g))
    loud = (good / np.max(np.abs(good)) * 1e36).astype(np.complex64)  # finite, 1e41 equalised
    tag = _group_tag(masks, 0.5, y.shape[1], p, bw)
    blk = sfma_decoder(user=0, weights=variant, gain=g, noise_dbm_hz=N0_DBM_HZ)
    out = _run(blk, [(good, tag, FL), (loud, tag, FL), (good, tag, FL)])
    assert [meta["erased"] for meta, _ in out] == [False, True, False]
    assert "overflow" in out[1][0]["erasure_reason"]
    assert np.array_equal(out[1][1], blk.erasure_fill)
    assert out[0][1].tobytes() == out[2][1].tobytes()
