"""QA of ``sfma_encoder``: one image per user -> one slot of per-user frames whose symbols are
the library's ``SfmaTransceiver.encode_pair`` of each pair (power-normalised, zero-padded,
tagged with the mask side information); pairing and nu from ``cmd`` at ``apply_frame``;
``hold`` waits for the first allocation; a malformed PDU still gives its user's frame
(erased), so every image in gives one frame out."""

from __future__ import annotations

import time

import numpy as np
import pmt
import pytest
from block_harness import SFMA_VARIANTS, WEIGHTS_DIR, wait_until
from gnuradio import blocks, gr
from gnuradio.semdacom import messages
from gnuradio.semdacom.sc_sfma.sfma_encoder import sfma_encoder

from semdacom.data.datasets import load_fashion_mnist

VARIANTS = SFMA_VARIANTS


@pytest.fixture(scope="module")
def images():
    imgs, labels = load_fashion_mnist("test")
    return imgs[:16], labels[:16]


def _pdu(images, i, **meta):
    imgs, labels = images
    return messages.image_pdu({"image_id": i, "label": int(labels[i]), **meta}, imgs[i])


class Run:
    """A running encoder with K vector sinks and the ``sent`` port stored."""

    def __init__(self, **kw) -> None:
        self.tb = gr.top_block()
        self.blk = sfma_encoder(**kw)
        self.k = kw.get("k", 2)
        self.sinks = [blocks.vector_sink_c() for _ in range(self.k)]
        for u, s in enumerate(self.sinks):
            self.tb.connect((self.blk, u), s)
        self.sent = blocks.message_debug()
        self.tb.msg_connect((self.blk, "sent"), (self.sent, "store"))
        self.tb.start()

    def post(self, port: str, msg) -> None:
        self.blk.to_basic_block()._post(pmt.intern(port), msg)

    def wait_slots(self, n: int) -> None:
        wait_until(lambda: self.blk.counters()["slots_out"] >= n, what=f"{n} slots")
        fl = self.blk.frame_len
        wait_until(lambda: all(len(s.data()) >= n * fl for s in self.sinks), what="samples")

    def stop(self):
        self.tb.stop()
        self.tb.wait()
        data = [np.asarray(s.data(), np.complex64) for s in self.sinks]
        tags = []
        for s in self.sinks:
            d = {}
            for t in s.tags():
                d.setdefault(t.offset, {})[pmt.symbol_to_string(t.key)] = t.value
            tags.append(d)
        return data, tags


def _info(tags, off):
    return messages.sfma_frame_info(messages.meta_from_pmt(tags[off][messages.SFMA_TAG]))


def _library(variant, xa, xb, nu):
    import torch

    from semdacom.sc_sfma.transceiver import shared_transceiver

    m = shared_transceiver(variant)
    to = [torch.from_numpy(x.astype(np.float32).reshape(1, 1, 28, 28) / 255.0) for x in (xa, xb)]
    with torch.no_grad():
        sa, sb, masks = m.encode_pair(to[0], to[1], nu)
    return sa[0].numpy(), sb[0].numpy(), masks[0].numpy()


@pytest.mark.parametrize("variant", VARIANTS)
def test_slot_is_the_library_encoding_of_each_pair(variant, images) -> None:
    imgs, _ = images
    r = Run(k=4, weights=variant, pairs=[0, 2, 3, 1], nu=0.5, first_frame=5)
    for u in range(4):
        r.post(f"pdus{u}", _pdu(images, u, frame=np.uint64(40 + u), user=u))
    r.wait_slots(1)
    time.sleep(0.05)
    data, tags = r.stop()
    fl = r.blk.frame_len
    assert fl == 128 and all(d.size == fl for d in data)
    for m, (i, j) in enumerate(((0, 2), (3, 1))):
        sa, sb, masks = _library(variant, imgs[i], imgs[j], 0.5)
        for slot, (u, s) in enumerate(((i, sa), (j, sb))):
            info = _info(tags[u], 0)
            assert pmt.to_uint64(tags[u][0]["frame"]) == 5
            assert pmt.to_long(tags[u][0]["packet_len"]) == fl
            assert (info["user"], info["group"], info["slot"], info["partner"]) == (
                u, m, slot, (i, j)[1 - slot])  # fmt: skip
            assert info["nu"] == 0.5 and info["n_sym"] == s.size == 64
            assert not info["erased"] and "enc_alloc_seq" not in info
            assert (info["pdu_image_id"], info["pdu_frame"]) == (u, 40 + u)
            np.testing.assert_array_equal(info["mask"], masks[slot])
            np.testing.assert_allclose(data[u][: s.size], s, rtol=1e-5, atol=1e-6)
            assert np.mean(np.abs(data[u][: s.size]) ** 2) == pytest.approx(1.0, rel=1e-4)
            assert np.all(data[u][s.size :] == 0)
    sent = [messages.meta_from_pmt(r.sent.get_message(i)) for i in range(r.sent.num_messages())]
    assert sent == [{"sent_frame": 5, "user": -1}]


def _alloc(seq, apply_frame, pairs, nu):
    m = len(nu)
    a = messages.Allocation(seq=seq, apply_frame=apply_frame, pairs=np.asarray(pairs, np.int32),
                            nu=np.asarray(nu, float), group_power=np.full(m, 0.01),
                            group_bw=np.full(m, 1e6))  # fmt: skip
    return messages.alloc_to_pmt(a)


@pytest.mark.parametrize("variant", VARIANTS)
def test_cmd_applies_at_its_frame(variant, images) -> None:
    r = Run(k=4, weights=variant, nu=0.5)
    r.post("cmd", _alloc(1, 1, (0, 3, 2, 1), (0.25, 1.0)))
    for f in range(2):
        for u in range(4):
            r.post(f"pdus{u}", _pdu(images, 4 * f + u))
    r.wait_slots(2)
    data, tags = r.stop()
    fl = r.blk.frame_len
    want = {0: [((0, 1), 0.5), ((2, 3), 0.5)], 1: [((0, 3), 0.25), ((2, 1), 1.0)]}
    for f, groups in want.items():
        for m, (pair, nu) in enumerate(groups):
            for slot, u in enumerate(pair):
                info = _info(tags[u], f * fl)
                assert (info["group"], info["slot"], info["nu"]) == (m, slot, nu)
                assert info.get("enc_alloc_seq") == (None if f == 0 else 1)
                assert info["n_sym"] == int(round(nu * 64)) * 2
    assert r.blk.counters()["cmd_accepted"] == 1


@pytest.mark.parametrize("variant", VARIANTS)
def test_hold_waits_for_the_first_allocation(variant, images) -> None:
    r = Run(k=2, weights=variant, hold=True)
    r.post("pdus0", _pdu(images, 0))
    r.post("pdus1", _pdu(images, 1))
    wait_until(lambda: r.blk.waiting() == [1, 1], what="images queued")
    time.sleep(0.2)
    assert r.blk.counters()["slots_out"] == 0
    r.post("cmd", _alloc(4, 0, (1, 0), (0.75,)))
    r.wait_slots(1)
    _, tags = r.stop()
    info = _info(tags[1], 0)
    assert (info["slot"], info["nu"], info["enc_alloc_seq"]) == (0, 0.75, 4)


@pytest.mark.parametrize("variant", VARIANTS)
def test_hold_gives_up_after_its_timeout(variant, images, monkeypatch) -> None:
    """An optimiser that never answers (an infeasible first solve) does not stall the loop:
    after HOLD_TIMEOUT_S the held slots are coded with the parameters."""
    monkeypatch.setattr(sfma_encoder, "HOLD_TIMEOUT_S", 0.5)
    r = Run(k=2, weights=variant, hold=True, nu=0.25)
    r.post("pdus0", _pdu(images, 0))
    r.post("pdus1", _pdu(images, 1))
    r.wait_slots(1)
    _, tags = r.stop()
    info = _info(tags[0], 0)
    assert info["nu"] == 0.25 and "enc_alloc_seq" not in info


@pytest.mark.parametrize("variant", VARIANTS)
def test_malformed_pdu_is_an_erased_frame_partner_coded_with_blank(variant, images) -> None:
    imgs, _ = images
    r = Run(k=2, weights=variant, nu=0.5)
    bad = [pmt.intern("garbage"), messages.image_pdu({"user": 0}, np.zeros((1, 8, 8), np.uint8)),
           messages.image_pdu({"erased": True, "erasure_reason": "x"}, imgs[0])]  # fmt: skip
    for i, msg in enumerate(bad):
        r.post("pdus0", msg)
        r.post("pdus1", _pdu(images, 5 + i))
    r.wait_slots(3)
    data, tags = r.stop()
    fl = r.blk.frame_len
    assert r.blk.counters()["erasures"] == 3 and r.blk.counters()["frames_out"] == 6
    for f in range(3):
        i0, i1 = _info(tags[0], f * fl), _info(tags[1], f * fl)
        assert i0["erased"] and i0["erasure_reason"] and not i1["erased"]
        assert np.all(data[0][f * fl : (f + 1) * fl] == 0) and not np.any(i0["mask"])
        _, sb, _ = _library(variant, np.zeros((1, 28, 28), np.uint8), imgs[5 + f], 0.5)
        np.testing.assert_allclose(data[1][f * fl : f * fl + sb.size], sb, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant", VARIANTS)
def test_bad_cmd_rejected_state_kept(variant) -> None:
    r = Run(k=4, weights=variant)
    sched = r.blk._cmds.sched
    bad = [pmt.intern("x"), _alloc(1, 0, (0, 1), (0.5,)),  # K = 2
           _alloc(1, 0, (0, 0, 1, 2), (0.5, 0.5)),  # not a matching
           _alloc(1, 0, (0, 1, 2, 3), (0.5, 1.5))]  # nu > 1  # fmt: skip
    for i, msg in enumerate(bad):
        r.post("cmd", msg)
        wait_until(lambda i=i: r.blk.counters()["cmd_rejected"] > i)
    assert sched.last_seq is None and sched.pending == 0
    r.post("cmd", _alloc(2, 9, (0, 1, 2, 3), (0.5, 0.5)))
    wait_until(lambda: r.blk.counters()["cmd_accepted"] == 1)
    r.post("cmd", _alloc(2, 9, (0, 1, 2, 3), (0.5, 0.5)))  # not newer
    wait_until(lambda: r.blk.counters()["cmd_rejected"] == 5)
    assert sched.last_seq == 2 and sched.pending == 1
    r.stop()


@pytest.mark.parametrize(
    "kw", [{"k": 3}, {"nu": 0.0}, {"nu": 1.5}, {"pairs": [0, 0]}, {"frame_len": 10},
           {"weights": "swinjscc_oma"}],
)  # fmt: skip
def test_bad_parameters(kw) -> None:
    if kw.get("weights") == "swinjscc_oma" and not (WEIGHTS_DIR / "sfma_swinjscc_oma.pt").exists():
        pytest.skip("sfma_swinjscc_oma.pt is not shipped yet")
    base = {} if "weights" in kw else {"weights": "swinjscc_noma"}
    with pytest.raises(ValueError):
        sfma_encoder(**{**base, **kw})


@pytest.mark.parametrize("first", [2**64 - 1, 2**64 - 2, 2**63 + 1])
def test_a_first_frame_that_leaves_no_room_is_refused(first) -> None:
    """Issue 24: frame numbers are u64 and never wrap (an allocation's ``apply_frame`` is
    compared with them), so ``first_frame`` must leave room: at most ``MAX_FIRST_FRAME``
    (2**63, which leaves 2**63 slots)."""
    with pytest.raises(ValueError, match="first_frame"):
        sfma_encoder(weights="swinjscc_noma", first_frame=first)


def test_every_image_gives_one_frame_at_the_top_of_the_frame_counter(images) -> None:
    """Issue 24: 4 images at the largest first_frame give 2 slots, 4 frames (before: near
    2**64 the second slot was "not formed" and its images lost)."""
    first = 2**63  # sfma_encoder.MAX_FIRST_FRAME
    r = Run(k=2, weights="swinjscc_noma", first_frame=first)
    _two_slots_of_two(r, images)
    data, tags = r.stop()
    fl = r.blk.frame_len
    for u in range(2):
        assert [pmt.to_uint64(tags[u][o]["frame"]) for o in (0, fl)] == [first, first + 1]
        assert not any(_info(tags[u], o)["erased"] for o in (0, fl))
    assert r.blk.counters()["frames_out"] == 4 and r.blk.waiting() == [0, 0]


def _two_slots_of_two(r, images) -> None:
    """Post 4 images to a K = 2 encoder (two slots) and wait for both slots."""
    for i in range(2):
        for u in range(2):
            r.post(f"pdus{u}", _pdu(images, 2 * i + u))
    r.wait_slots(2)


def test_a_slot_that_cannot_be_built_goes_out_erased(images) -> None:
    """Every image gives one frame: when building a slot fails after its images left the
    queues (here forced once), each user gets an erased frame for it, and the next slot is
    coded as usual (before: "slot not formed", the images lost)."""
    r = Run(k=2, weights="swinjscc_noma")
    real, calls = r.blk._encode_slot, []

    def flaky(frame, entries, alloc, coded=None):
        calls.append(frame)
        if len(calls) == 1:
            raise OverflowError("forced")
        return real(frame, entries, alloc, coded)

    r.blk._encode_slot = flaky
    _two_slots_of_two(r, images)
    data, tags = r.stop()
    fl = r.blk.frame_len
    for u in range(2):
        assert [pmt.to_uint64(tags[u][o]["frame"]) for o in (0, fl)] == [0, 1]
        first, second = _info(tags[u], 0), _info(tags[u], fl)
        assert first["erased"] and "forced" in first["erasure_reason"]
        assert first["pdu_image_id"] == u and not second["erased"]
        assert np.all(data[u][:fl] == 0)
    assert r.blk.counters()["frames_out"] == 4 and r.blk.counters()["erasures"] == 2


def test_an_allocation_with_per_user_fields_of_another_k_is_rejected() -> None:
    """Issue 24: an SFMA allocation whose ``rate_index`` length disagrees with K."""
    r = Run(k=2, weights="swinjscc_noma")
    a = messages.Allocation(
        seq=1,
        apply_frame=0,
        pairs=np.array([0, 1], np.int32),
        nu=np.array([0.5]),
        group_power=np.array([0.1]),
        group_bw=np.array([1e6]),
        rate_index=np.array([0, 1, 2], np.int32),
    )
    r.post("cmd", messages.alloc_to_pmt(a))
    wait_until(lambda: r.blk.counters()["cmd_rejected"] == 1)
    assert r.blk.counters()["cmd_accepted"] == 0 and r.blk._cmds.sched.last_seq is None
    r.stop()


def test_waiting_slots_are_coded_as_one_batch_each_as_alone(images) -> None:
    """Issue 23: the images waiting when the worker runs form every slot they complete, and
    those slots' groups are coded with one network call per nu; each frame is what the
    library gives for its pair alone, and a group whose coding fails alone is erased alone."""
    from gnuradio.semdacom.sc_sfma.sfma_encoder import sfma_encoder as enc_cls

    blk = enc_cls(k=2, weights="swinjscc_noma", nu=0.5)
    sizes: list[int] = []
    code = blk._code_pairs

    def spy(pairs, nu):
        sizes.append(len(pairs))
        if len(pairs) == 1 and pairs[0][0] is not None and pairs[0][0][0, 10, 10] == 7:
            raise RuntimeError("this pair fails alone")
        if len(pairs) > 1 and any(p[0] is not None and p[0][0, 10, 10] == 7 for p in pairs):
            raise RuntimeError("a batch with it fails")
        return code(pairs, nu)

    blk._code_pairs = spy
    imgs, labels = images
    marked = imgs[4].copy()
    marked[10, 10] = 7  # slot 2's first image: its group fails alone
    items = []
    for i in range(6):
        for u in range(2):
            img = marked if (i, u) == (2, 0) else imgs[2 * i + u]
            items.append((u, messages.image_pdu({"image_id": 2 * i + u}, img)))
    blk._take_many(items)  # what the worker hands over when 12 PDUs have queued up
    slots = [blk._slots.get_nowait() for _ in range(6)]
    assert [s[0] for s in slots] == list(range(6)) and blk._slots.empty()
    assert max(sizes) == 6  # the six slots' groups in one call
    for i, (_, slot) in enumerate(slots):
        infos = [messages.sfma_frame_info(messages.meta_from_pmt(dict(t)[messages.SFMA_TAG]))
                 for _, t in slot]  # fmt: skip
        if i == 2:
            assert all(f["erased"] and "fails alone" in f["erasure_reason"] for f in infos)
            continue
        sa, sb, masks = _library("swinjscc_noma", imgs[2 * i], imgs[2 * i + 1], 0.5)
        for r, want in enumerate((sa, sb)):
            sym = slot[r][0]
            assert not infos[r]["erased"] and infos[r]["pdu_image_id"] == 2 * i + r
            np.testing.assert_allclose(sym[: want.size], want, atol=1e-5)
            np.testing.assert_array_equal(infos[r]["mask"], masks[r])
