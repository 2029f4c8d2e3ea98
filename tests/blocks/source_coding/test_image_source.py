"""QA of ``image_source``: dataset images as image PDUs, trigger-driven and free-running."""

from __future__ import annotations

import time

import numpy as np
import pmt
import pytest
from block_harness import BlockHarness
from gnuradio.semdacom import messages
from gnuradio.semdacom.source_coding.image_source import image_source

from semdacom.data.datasets import load_fashion_mnist

TIMEOUT_S = 10.0


class Harness(BlockHarness):
    timeout = TIMEOUT_S

    def __init__(self, **kwargs) -> None:
        super().__init__(image_source(**kwargs), ["pdus"])

    def trigger(self, msg=pmt.PMT_T) -> None:
        self.post_and_wait("trigger", msg, ("triggers",))

    def out(self) -> list[tuple[dict, np.ndarray]]:
        return super().out("pdus", messages.unpack_image_pdu)


def test_trigger_emits_images_with_meta(harness) -> None:
    images, labels = load_fashion_mnist("test")
    h = harness(split="test", user=2, count=3, start=10)
    for _ in range(3):
        h.trigger()
    h.wait_for(lambda: h.dbg.num_messages() == 3)
    out = h.out()
    for k, (meta, img) in enumerate(out):
        assert meta["image_id"] == 10 + k and meta["label"] == labels[10 + k]
        assert meta["user"] == 2 and meta["frame"] == k and meta["split"] == "test"
        np.testing.assert_array_equal(img[0], images[10 + k])


def test_finite_source_ignores_extra_triggers(harness) -> None:
    h = harness(count=2)
    for _ in range(5):
        h.trigger()
    h.wait_for(lambda: h.blk.counters()["triggers"] == 5)
    assert h.dbg.num_messages() == 2
    assert h.blk.counters()["triggers_ignored"] == 3 and h.blk.finished()


def test_trigger_frame_numbers_and_loop(harness) -> None:
    h = harness(count=2, loop=True)
    h.trigger(messages.meta_to_pmt({"frame": 40}))
    h.trigger()
    h.trigger()
    h.wait_for(lambda: h.dbg.num_messages() == 3)
    out = h.out()
    assert [m["frame"] for m, _ in out] == [40, 41, 42]
    assert [m["image_id"] for m, _ in out] == [0, 1, 0]


@pytest.mark.parametrize(
    "bad",
    [
        pmt.intern("junk"),
        pmt.make_dict(),
        messages.meta_to_pmt({"frame": -3}),
        messages.meta_to_pmt({"frame": "x"}),
        pmt.init_u8vector(10**6, [0] * 10**6),
        pmt.from_double(float("nan")),
    ],
)
def test_malformed_triggers_still_count_once(harness, bad) -> None:
    """Any trigger emits exactly one image (frame taken only from a valid dict)."""
    h = harness(count=5)
    h.trigger(bad)
    h.wait_for(lambda: h.dbg.num_messages() == 1)
    assert h.out()[0][0]["frame"] == 0


def test_free_running_shuffled(harness) -> None:
    h = harness(count=20, period_ms=1.0, shuffle=True, seed=3)
    h.wait_for(lambda: h.dbg.num_messages() == 20)
    time.sleep(0.05)
    assert h.dbg.num_messages() == 20
    ids = [m["image_id"] for m, _ in h.out()]
    assert len(set(ids)) == 20 and ids != list(range(20))


def test_bad_parameters() -> None:
    for kwargs in (
        {"split": "val"},
        {"user": -1},
        {"start": 10**6},
        {"count": -1},
        {"period_ms": float("nan")},
    ):
        with pytest.raises(ValueError):
            image_source(**kwargs)


# ---------------------------------------------------------------------------------------------
# Issue 12 regressions (defect 3)
# ---------------------------------------------------------------------------------------------


def test_trigger_with_u64_max_frame_does_not_wedge_the_source(harness) -> None:
    """After a trigger with frame 2**64-1, plain triggers still emit every image in order."""
    h = harness(count=6)
    h.trigger(messages.meta_to_pmt({"frame": np.uint64(2**64 - 1)}))
    for _ in range(3):
        h.trigger()
    h.wait_for(lambda: h.dbg.num_messages() == 4)
    out = h.out()
    assert [m["image_id"] for m, _ in out] == [0, 1, 2, 3]
    assert [int(m["frame"]) for m, _ in out] == [2**64 - 1, 0, 1, 2]
    assert h.blk.counters()["triggers_ignored"] == 0


def _deep_dict(depth: int) -> object:
    d = pmt.make_dict()
    for _ in range(depth):
        d = pmt.dict_add(pmt.make_dict(), pmt.intern("x"), d)
    return pmt.dict_add(d, pmt.intern("frame"), pmt.from_uint64(4))


@pytest.mark.parametrize(
    ("build", "frame"),
    [
        (lambda: pmt.dict_add(pmt.make_dict(), pmt.from_long(3), pmt.from_long(1)), 0),
        (
            lambda: pmt.dict_add(
                pmt.dict_add(pmt.make_dict(), pmt.from_long(3), pmt.from_long(1)),
                pmt.intern("frame"),
                pmt.from_uint64(9),
            ),
            9,
        ),
        (lambda: _deep_dict(5000), 4),
    ],
    ids=["non_symbol_key", "non_symbol_key_and_frame", "nested_5000"],
)
def test_odd_dict_triggers_emit_one_image(harness, build, frame) -> None:
    h = harness(count=5)
    h.trigger(build())
    h.wait_for(lambda: h.dbg.num_messages() == 1)
    assert int(h.out()[0][0]["frame"]) == frame
    assert h.blk.counters()["triggers_ignored"] == 0


def test_prefill_emits_images_at_start_for_a_credit_loop(harness) -> None:
    """prefill images leave when the flowgraph starts; each later trigger (a channel
    encoder's "sent" credit, whose key is not "frame") emits the next one, numbered on."""
    h = harness(count=5, prefill=2)
    h.wait_for(lambda: h.dbg.num_messages() == 2)
    h.trigger(pmt.dict_add(pmt.make_dict(), pmt.intern("sent_frame"), pmt.from_uint64(0)))
    h.wait_for(lambda: h.dbg.num_messages() == 3)
    assert [m["frame"] for m, _ in h.out()] == [0, 1, 2]
    with pytest.raises(ValueError):
        image_source(prefill=-1)
    # more credits than one block of the chain holds would be dropped there: the loop stalls
    with pytest.raises(ValueError, match="prefill must be at most 256"):
        image_source(prefill=257)


def test_bursts_bank_triggers_and_leave_together(harness) -> None:
    """Issue 23: with burst = 3 triggers are banked and 3 images leave at once (the first
    with a banked trigger's frame, the others numbered on), so the coders behind code them as
    one batch; other users' done messages bank nothing; a finite source ends mid-burst."""
    h = harness(count=7, prefill=3, burst=3, user=0)
    h.wait_for(lambda: h.dbg.num_messages() == 3)  # the prefill
    h.trigger()
    h.trigger(messages.meta_to_pmt({"user": 1}))  # another user's: not banked
    h.trigger(messages.meta_to_pmt({"frame": 40}))
    time.sleep(0.2)
    assert h.dbg.num_messages() == 3  # two banked, not yet a burst
    h.trigger()
    h.wait_for(lambda: h.dbg.num_messages() == 6)
    assert [m["frame"] for m, _ in h.out()] == [0, 1, 2, 40, 41, 42]  # a banked frame leads
    for _ in range(3):
        h.trigger(messages.meta_to_pmt({"frame": 90}))
    h.wait_for(lambda: h.dbg.num_messages() == 7)
    c = h.blk.counters()
    assert h.out()[-1][0]["frame"] == 90 and c["triggers_ignored"] == 2 and h.blk.finished()
    assert c["triggers_other"] == 1
    with pytest.raises(ValueError, match="burst"):
        image_source(prefill=2, burst=3)  # a credit loop would never bank a burst
    with pytest.raises(ValueError):
        image_source(burst=0)


def test_a_done_for_another_user_is_not_a_trigger(harness) -> None:
    """Issue 24: metrics_sink ``done`` (one port for every user) is wired to every user's
    source; each takes its own user's ({user: u}), counts the others in ``triggers_other``.
    Before, every ``done`` emitted an image in every source: credits multiplied."""
    h = harness(count=5, user=1)
    h.trigger(messages.meta_to_pmt({"user": 0, "image_id": 3}))
    h.trigger(messages.meta_to_pmt({"user": np.uint64(2)}))
    h.trigger(messages.meta_to_pmt({"user": 1, "image_id": 4}))
    h.trigger(messages.meta_to_pmt({"user": "1"}))  # not an integer: a trigger for anyone
    # sfma_encoder's sent (user -1: one slot of every user); before, it counted as another
    # user's and examples/sfma_usrp.grc's transmitter stopped after its prefill
    h.trigger(messages.frame_sent_to_pmt(0, -1))
    h.wait_for(lambda: h.dbg.num_messages() == 3)
    c = h.blk.counters()
    assert c["triggers"] == 5 and c["triggers_other"] == 2 and c["triggers_ignored"] == 0
    assert [m["frame"] for m, _ in h.out()] == [0, 1, 2]  # done carries no frame


# ---------------------------------------------------------------------------------------------
# Your own images (issue 25): a folder or an .npz
# ---------------------------------------------------------------------------------------------


def _drain(h, n: int) -> list[tuple[dict, np.ndarray]]:
    for _ in range(n):
        h.trigger()
    h.wait_for(lambda: h.blk.counters()["triggers"] == n)
    return h.out()


def test_a_folder_goes_out_in_order_with_labels_and_files(harness, image_folder) -> None:
    root = image_folder()
    h = harness(folder=str(root), size=28, fit="crop", mode="L", user=1)
    out = _drain(h, 8)
    assert len(out) == 6 and h.blk.finished()  # six images; the two last triggers find none
    files = [m["file"] for m, _ in out]
    assert files == ["cat/a.png", "cat/b.jpg", "cat/c.png", "dog/d.png", "dog/e.png", "top.jpeg"]
    assert [m["label"] for m, _ in out] == [0, 0, 0, 1, 1, -1]
    assert [m["image_id"] for m, _ in out] == list(range(6))
    assert [m["frame"] for m, _ in out] == list(range(6))
    assert all(m["dataset"] == "folder" and m["split"] == str(root) for m, _ in out)
    assert all(img.shape == (1, 28, 28) and m["user"] == 1 for m, img in out)
    c = h.blk.counters()
    assert c["pdus_out"] == 6 and c["unreadable"] == 0 and c["triggers_ignored"] == 2


def test_an_unreadable_file_is_skipped_and_nothing_else_is_lost(harness, image_folder) -> None:
    """A truncated JPEG among the images: logged, counted in ``unreadable``, and the next image
    goes out for the same trigger (no stall, no gap in the frames); a second source with the
    same parameters (a metrics_sink's reference) skips the same file, so both agree image by
    image."""
    root = image_folder(corrupt=True)
    outs = []
    for _ in range(2):
        h = harness(folder=str(root), size=20, fit="resize", mode="RGB", shuffle=True, seed=3)
        outs.append(_drain(h, 7))
        assert h.blk.counters()["unreadable"] == 1 and h.blk.counters()["pdus_out"] == 6
    a, b = outs
    assert len(a) == 6 and "dog/broken.jpg" not in [m["file"] for m, _ in a]
    # count is the images that go out: 5 of the 7 files (one unreadable among them or not)
    h = harness(folder=str(root), size=20, fit="resize", mode="RGB", shuffle=True, seed=3, count=5)
    assert len(_drain(h, 7)) == 5 and h.blk.finished()
    assert [m["frame"] for m, _ in a] == list(range(6))
    assert [(m["image_id"], m["file"]) for m, _ in a] == [(m["image_id"], m["file"]) for m, _ in b]
    for (_, x), (_, y) in zip(a, b, strict=True):
        assert x.shape == (3, 20, 20)
        np.testing.assert_array_equal(x, y)


def test_tiles_count_as_images_and_an_npz_is_a_folder_too(harness, tmp_path) -> None:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (2, 56, 84), dtype=np.uint8)  # 2 x 3 tiles of 28 each
    np.savez(tmp_path / "x.npz", images=arr, labels=np.array([7, 9]))
    h = harness(folder=str(tmp_path / "x.npz"), size=28, fit="tile", count=8, start=2)
    out = _drain(h, 8)
    assert [m["image_id"] for m, _ in out] == list(range(2, 10))
    assert [m["label"] for m, _ in out] == [7] * 4 + [9] * 4
    np.testing.assert_array_equal(out[0][1][0], arr[0][:28, 56:84])  # tile 2 of image 0
    np.testing.assert_array_equal(out[-1][1][0], arr[1][28:, :28])  # tile 3 of image 1


def test_bad_folder_parameters_are_refused(tmp_path, image_folder) -> None:
    root = str(image_folder())
    for kw in ({"folder": str(tmp_path / "none")}, {"folder": root, "fit": "zoom"},
               {"folder": root, "mode": "CMYK"}, {"folder": root, "size": -3},
               {"folder": root, "start": 6}):  # fmt: skip
        with pytest.raises((ValueError, FileNotFoundError)):
            image_source(**kw)
