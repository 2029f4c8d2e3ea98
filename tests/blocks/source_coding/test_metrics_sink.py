"""QA of ``metrics_sink``: per-user MS-SSIM/PSNR and accuracy, counts, malformed input, JSON."""

from __future__ import annotations

import json

import numpy as np
import pmt
import pytest
from block_harness import BlockHarness
from gnuradio.semdacom import messages
from gnuradio.semdacom.source_coding.image_source import image_source
from gnuradio.semdacom.source_coding.metrics_sink import metrics_sink

from semdacom.source_coding import metrics

TIMEOUT_S = 10.0


class Harness(BlockHarness):
    timeout = TIMEOUT_S

    def __init__(self, **kwargs) -> None:
        super().__init__(metrics_sink(**kwargs), ["done"], start=False)
        # A flowgraph needs a connection: an idle trigger-driven image_source feeds ref.
        self.src = image_source(count=1)
        self.tb.msg_connect(self.src, "pdus", self.blk, "ref")
        self.start()

    def counters(self) -> dict:
        return self.blk.summary()

    def post(self, port: str, msg) -> None:
        """Post and wait until the message is counted (as a ref, a result or malformed)."""

        def total() -> int:
            c = self.blk.summary()["counts"]
            return c["refs"] + c["results"] + c["malformed"]

        before = total()
        super().post(port, msg)
        self.wait_for(lambda: total() > before)


def _img(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (1, 28, 28), dtype=np.uint8)


def test_du_and_su_metrics_and_json(harness, tmp_path) -> None:
    path = tmp_path / "m.json"
    h = harness(json_path=str(path))
    refs = [_img(i) for i in range(3)]
    noisy = [np.clip(r.astype(int) + 20, 0, 255).astype(np.uint8) for r in refs]
    for i, r in enumerate(refs):
        h.post("ref", messages.image_pdu({"user": 0, "image_id": i}, r))
    for i, x in enumerate(noisy):
        h.post("pdus", messages.image_pdu({"user": 0, "image_id": i, "erased": False}, x))
    for i, pred in enumerate([3, 4, -1, 7]):
        h.post("pdus", messages.label_pdu({"user": 1, "label": 3 if i < 2 else 7}, pred))
    s = h.blk.summary()
    du, su = s["users"]["0"], s["users"]["1"]
    ref = np.stack(refs).astype(np.float32) / 255
    x = np.stack(noisy).astype(np.float32) / 255
    assert du["task"] == "du" and du["received"] == du["evaluated"] == 3
    assert du["msssim"] == pytest.approx(metrics.msssim(x, ref).mean(), abs=1e-6)
    assert du["psnr_db"] == pytest.approx(metrics.psnr_from_mse(metrics.mse(x, ref).mean()))
    assert su["task"] == "su" and su["received"] == 4 and su["erased"] == 1
    assert su["accuracy"] == pytest.approx(0.5)
    h.stop()
    doc = json.loads(path.read_text())
    assert doc["users"]["1"]["accuracy"] == pytest.approx(0.5)


def test_result_before_reference_waits_then_unmatched(harness) -> None:
    h = harness()
    h.post("pdus", messages.image_pdu({"user": 0, "image_id": 5}, _img(5)))
    h.post("pdus", messages.image_pdu({"user": 0, "image_id": 6}, _img(6)))
    assert h.blk.summary()["counts"]["pending"] == 2
    h.post("ref", messages.image_pdu({"user": 0, "image_id": 5}, _img(5)))
    s = h.blk.summary()
    assert s["users"]["0"]["evaluated"] == 1 and s["users"]["0"]["msssim"] == pytest.approx(1.0)
    h.stop()
    assert h.blk.summary()["counts"]["unmatched"] == 1


@pytest.mark.parametrize(
    "bad",
    [
        pmt.intern("junk"),
        pmt.cons(pmt.make_dict(), pmt.init_u8vector(0, [])),  # empty: neither image nor label
        pmt.cons(pmt.PMT_NIL, pmt.init_u8vector(3, [1, 2, 3])),
        pmt.cons(
            messages.meta_to_pmt({"shape": np.array([28, 28], np.int32)}),
            pmt.init_f32vector(784, [0.0] * 784),
        ),
        messages.image_pdu({"image_id": 1}, _img(1)),  # no user
        messages.label_pdu({"user": 0, "label": 1}, 0).__class__(),  # an empty PMT
        pmt.cons(
            messages.meta_to_pmt({"shape": np.array([2000, 2000, 3], np.int32)}),
            pmt.init_u8vector(10, [0] * 10),
        ),  # huge shape
        pmt.cons(messages.meta_to_pmt({"user": 0, "pred": float("nan")}), pmt.init_u8vector(0, [])),
    ],
)
def test_malformed_results_logged_and_counted(harness, bad) -> None:
    h = harness()
    before = h.blk.summary()["counts"]["malformed"]
    h.post("pdus", bad)
    s = h.blk.summary()
    assert s["counts"]["malformed"] == before + 1
    assert s["users"] == {}
    # the block keeps working
    h.post("pdus", messages.label_pdu({"user": 0, "label": 2}, 2))
    assert h.blk.summary()["users"]["0"]["accuracy"] == 1.0


def test_malformed_reference_and_shape_mismatch(harness) -> None:
    h = harness()
    h.post("ref", pmt.intern("junk"))
    h.post("ref", messages.image_pdu({"image_id": 0}, _img(0)))  # no user
    h.post("ref", messages.image_pdu({"user": 0, "image_id": 0}, _img(0)))
    h.post("pdus", messages.image_pdu({"user": 0, "image_id": 0}, np.zeros((1, 14, 14), np.uint8)))
    s = h.blk.summary()
    assert s["counts"]["refs"] == 1 and s["counts"]["malformed"] == 3
    assert s["users"]["0"]["evaluated"] == 0


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        metrics_sink(max_refs=0)
    with pytest.raises(ValueError):
        metrics_sink(keep_scores=-1)


def test_per_image_scores_of_colour_images_for_the_report(harness) -> None:
    """Issue 25: the first ``keep_scores`` images of a data user are listed with their own
    MS-SSIM and PSNR (colour (3, H, W) as grayscale), in the order scored; the means still
    cover every image, and no list is kept by default."""
    h = harness(keep_scores=2)
    rng = np.random.default_rng(5)
    refs = [rng.integers(0, 256, (3, 32, 32), dtype=np.uint8) for _ in range(3)]
    outs = [np.clip(r.astype(int) + 10 * (i + 1), 0, 255).astype(np.uint8)
            for i, r in enumerate(refs)]  # fmt: skip
    for i, r in enumerate(refs):
        h.post("ref", messages.image_pdu({"user": 0, "image_id": i, "frame": i}, r))
    for i, x in enumerate(outs):
        h.post("pdus", messages.image_pdu({"user": 0, "image_id": i, "erased": i == 1}, x))
    du = h.blk.summary()["users"]["0"]
    assert du["received"] == du["evaluated"] == 3 and len(du["images"]) == 2
    for i, item in enumerate(du["images"]):
        x, r = outs[i][None] / 255.0, refs[i][None] / 255.0
        assert item["image_id"] == i and item["erased"] == (i == 1)
        assert item["msssim"] == pytest.approx(float(metrics.msssim(x, r)[0]), abs=1e-6)
        assert item["psnr_db"] == pytest.approx(float(metrics.psnr_from_mse(metrics.mse(x, r)[0])))
    assert du["images"][0]["psnr_db"] > du["images"][1]["psnr_db"]
    h.stop()
    h2 = harness()
    h2.post("ref", messages.image_pdu({"user": 0, "image_id": 0}, refs[0]))
    h2.post("pdus", messages.image_pdu({"user": 0, "image_id": 0}, outs[0]))
    assert "images" not in h2.blk.summary()["users"]["0"]


# ---------------------------------------------------------------------------------------------
# Issue 12 regressions (defect 7)
# ---------------------------------------------------------------------------------------------


def test_result_without_image_id_is_malformed_not_received(harness) -> None:
    """A decoded image with a user but no image_id used to count as received (and as a result)
    before being rejected as malformed."""
    h = harness()
    h.post("pdus", messages.image_pdu({"user": 0, "erased": True}, _img(3)))
    s = h.blk.summary()
    assert s["counts"]["malformed"] == 1 and s["counts"]["results"] == 0
    assert s["users"] == {}


def test_memory_stays_flat_over_many_images(harness) -> None:
    """Issue 24 (soak): a reference is consumed by its result, image or label, so the sink keeps
    only the references of images in flight; before, every reference stayed until max_refs
    (10^5 images of 784 bytes per user) and every score in a list."""
    h = harness(max_refs=100000)
    for i in range(300):
        img = _img(i)
        h.post("ref", messages.image_pdu({"user": 0, "image_id": i}, img))
        h.post("ref", messages.image_pdu({"user": 1, "image_id": i, "label": 2}, img))
        h.post("pdus", messages.image_pdu({"user": 0, "image_id": i, "erased": False}, img))
        h.post("pdus", messages.label_pdu({"user": 1, "image_id": i, "label": 2}, 2))
    s = h.blk.summary()
    assert s["counts"]["refs_kept"] == 0 and s["counts"]["pending"] == 0
    assert s["users"]["0"]["evaluated"] == 300 and s["users"]["0"]["msssim"] == pytest.approx(1.0)
    assert s["users"]["1"]["accuracy"] == 1.0
    assert not any(isinstance(v, list) for u in h.blk._users.values() for v in u.values())


def test_refs_beyond_max_refs_are_dropped_and_counted(harness) -> None:
    h = harness(max_refs=5)
    for i in range(8):
        h.post("ref", messages.image_pdu({"user": 0, "image_id": i}, _img(i)))
    c = h.blk.summary()["counts"]
    assert c["refs_kept"] == 5 and c["refs_dropped"] == 3


# ---------------------------------------------------------------------------------------------
# Issue 21: every image accounted for, erased with one meaning
# ---------------------------------------------------------------------------------------------


def test_images_without_a_result_are_reported_missing(harness, tmp_path) -> None:
    """Five references (image ids 10..14 in frames 0..4); results: image 10 decoded, frame 1's
    erasure without image id (a frame never received over the air: matched to image 11 by its
    frame and scored with its fill), nothing for 12..14. Before, the erasure was malformed and
    nothing said which images never arrived."""
    path = tmp_path / "m.json"
    h = harness(json_path=str(path))
    refs = {i: _img(i) for i in range(10, 15)}
    for f, (i, r) in enumerate(refs.items()):
        h.post("ref", messages.image_pdu({"user": 0, "image_id": i, "frame": f}, r))
    h.post("pdus", messages.image_pdu({"user": 0, "image_id": 10, "erased": False}, refs[10]))
    miss = {"user": 0, "frame": 1, "erased": True, "frame_missing": True, "codewords": 0,
            "codewords_lost": 0}  # fmt: skip
    h.post("pdus", messages.image_pdu(miss, np.zeros((1, 28, 28), np.uint8)))
    u = h.blk.summary()["users"]["0"]
    assert u["received"] == 2 and u["evaluated"] == 2 and u["erased"] == 1
    assert u["frames_missing"] == 1 and u["partial"] == 0
    assert u["missing"] == 3 and u["missing_ids"] == [12, 13, 14]
    x = np.zeros((1, 1, 28, 28), np.float32)
    want = (1.0 + metrics.msssim(x, refs[11][None].astype(np.float32) / 255)[0]) / 2
    assert u["msssim"] == pytest.approx(want, abs=1e-6)
    h.stop()
    doc = json.loads(path.read_text())
    assert doc["users"]["0"]["missing"] == 3 and doc["counts"]["missing"] == 3
    assert doc["counts"]["malformed"] == 0 and doc["counts"]["unmatched"] == 0


def test_erasure_by_frame_waits_for_its_reference_and_labels_consume_late_refs(harness) -> None:
    """An erasure without image id that comes before its reference waits for it (by frame); a
    label that comes before its reference consumes it on arrival: nothing is missing."""
    h = harness()
    miss = {"user": 0, "frame": 7, "erased": True, "frame_missing": True}
    h.post("pdus", messages.image_pdu(miss, np.zeros((1, 28, 28), np.uint8)))
    assert h.blk.summary()["counts"]["pending"] == 1
    h.post("ref", messages.image_pdu({"user": 0, "image_id": 3, "frame": 7}, _img(3)))
    h.post("pdus", messages.label_pdu({"user": 1, "frame": 4, "erased": True}, -1))
    h.post("pdus", messages.label_pdu({"user": 1, "image_id": 9, "label": 2}, 2))
    h.post("ref", messages.image_pdu({"user": 1, "image_id": 5, "frame": 4}, _img(5)))
    h.post("ref", messages.image_pdu({"user": 1, "image_id": 9, "frame": 8}, _img(9)))
    s = h.blk.summary()
    assert s["counts"]["pending"] == 0 and s["counts"]["missing"] == 0, s
    assert s["users"]["0"]["evaluated"] == 1 and s["users"]["0"]["missing"] == 0
    assert s["users"]["1"]["received"] == 2 and s["users"]["1"]["erased"] == 1
    assert s["users"]["1"]["missing"] == 0


def test_erased_counts_one_meaning_and_a_user_without_results(harness) -> None:
    """``erased`` as a count (what the channel decoder used to write) still counts as erased;
    a partial result is erased and scored; a user with references and no result at all is
    listed with everything missing."""
    h = harness()
    h.post("ref", messages.image_pdu({"user": 0, "image_id": 0}, _img(0)))
    h.post("ref", messages.image_pdu({"user": 0, "image_id": 1}, _img(1)))
    h.post("ref", messages.image_pdu({"user": 2, "image_id": 4}, _img(4)))
    part = {"user": 0, "image_id": 0, "erased": True, "partial": True, "codewords": 4,
            "codewords_lost": 1}  # fmt: skip
    h.post("pdus", messages.image_pdu(part, _img(0)))
    h.post("pdus", messages.image_pdu({"user": 0, "image_id": 1, "erased": 2}, _img(1)))
    s = h.blk.summary()
    u = s["users"]["0"]
    assert u["erased"] == 2 and u["partial"] == 1 and u["evaluated"] == 2
    assert (u["codewords"], u["codewords_lost"]) == (4, 1)
    assert u["msssim"] == pytest.approx(1.0)
    assert s["users"]["2"]["received"] == 0 and s["users"]["2"]["missing_ids"] == [4]


def test_done_says_whose_result_was_taken_once_per_result(harness) -> None:
    """Issue 24 soak: the credit loop closes behind the sink (``done`` -> each user's
    image_source ``trigger``), so the sink cannot fall behind. One ``done`` per result taken
    ({user, image_id}; no ``frame``, which a trigger would read), none for a malformed one."""
    h = harness()
    h.post("ref", messages.image_pdu({"user": 0, "image_id": 1, "frame": 5}, _img(1)))
    h.post("pdus", messages.image_pdu({"user": 0, "image_id": 1, "frame": 5}, _img(1)))
    h.post("pdus", messages.image_pdu({"user": 0, "image_id": 2}, _img(2)))  # waits for its ref
    h.post("pdus", messages.label_pdu({"user": 1, "image_id": 7, "label": 2}, 2))
    h.post("pdus", messages.image_pdu({"user": 0, "frame": 9, "erased": True}, _img(3)))
    h.post("pdus", messages.label_pdu({"image_id": 7, "label": 2}, 2))  # no user: malformed
    h.wait_out("done", 4)
    done = h.out("done", pmt.to_python)
    assert done == [{"user": 0, "image_id": 1}, {"user": 0, "image_id": 2},
                    {"user": 1, "image_id": 7}, {"user": 0}]  # fmt: skip
    assert h.blk.summary()["counts"]["malformed"] == 1


def test_images_are_scored_in_batches_and_summary_scores_the_rest(harness, monkeypatch) -> None:
    """Issue 23: the MS-SSIM of a batch costs about as much as of one image, so decoded images
    are scored SCORE_BATCH at a time, and ``done`` goes out without waiting for the scoring;
    ``summary`` scores what is queued first, so its means cover every result taken."""
    calls: list[int] = []
    real = metrics.msssim

    def counting(x, y, *args, **kwargs):
        calls.append(len(x))
        return real(x, y, *args, **kwargs)

    monkeypatch.setattr(metrics, "msssim", counting)
    monkeypatch.setattr(metrics_sink, "BATCH", 1)  # one result per call: batches by scoring only
    h = harness()
    n = metrics_sink.SCORE_BATCH + 7
    refs = [_img(i) for i in range(n)]
    noisy = [np.clip(r.astype(int) + 9 * (i % 5), 0, 255).astype(np.uint8)
             for i, r in enumerate(refs)]  # fmt: skip
    for i, r in enumerate(refs):
        h.post("ref", messages.image_pdu({"user": 0, "image_id": i}, r))
    calls.clear()
    for i, x in enumerate(noisy):  # posted without a summary() in between
        BlockHarness.post(h, "pdus", messages.image_pdu({"user": 0, "image_id": i}, x))
    h.wait_out("done", n)  # every credit, whether its image is scored yet or not
    h.wait_for(lambda: h.blk.counters()["results"] == n)
    assert calls == [metrics_sink.SCORE_BATCH]
    du = h.blk.summary()["users"]["0"]
    assert calls == [metrics_sink.SCORE_BATCH, n - metrics_sink.SCORE_BATCH]
    assert du["evaluated"] == n
    x = np.stack(noisy).astype(np.float32) / 255
    ref = np.stack(refs).astype(np.float32) / 255
    assert du["msssim"] == pytest.approx(real(x, ref).mean(), abs=1e-6)
    assert du["mse"] == pytest.approx(metrics.mse(x, ref).mean(), rel=1e-9)
    assert h.blk.summary()["users"]["0"] == du  # nothing left to score: the same summary


class _Publisher:
    """A sync block that publishes ``msgs[i]`` for the i-th item of its stream, ``delay`` s
    apart (an upstream of the sink that ends, and says so, when its stream ends)."""

    def __new__(cls, msgs: list, delay: float):
        import time

        from gnuradio import gr

        class Pub(gr.sync_block):
            def __init__(self) -> None:
                gr.sync_block.__init__(self, name="pub", in_sig=[np.uint8], out_sig=None)
                self.message_port_register_out(pmt.intern("out"))

            def work(self, input_items, output_items):
                time.sleep(delay)
                self.message_port_pub(pmt.intern("out"), msgs[self.nitems_read(0)])
                return 1

        return Pub()


def test_every_result_of_several_upstreams_is_scored_before_the_end() -> None:
    """The sink fed by a reference source and two decoders that end at different times
    (GNU Radio finishes a message block at its first upstream's end: hold_done): run to the
    natural end, every image's result is scored, none missing, and the end does not wait for
    the grace."""
    import time

    from gnuradio import blocks, gr

    n = 12
    refs = [messages.image_pdu({"user": u, "image_id": i}, _img(10 * u + i))
            for u in (0, 1) for i in range(n)]  # fmt: skip
    results = {u: [messages.image_pdu({"user": u, "image_id": i, "erased": False},
                                      _img(10 * u + i)) for i in range(n)]
               for u in (0, 1)}  # fmt: skip
    sink = metrics_sink()
    tb = gr.top_block()
    keep = []
    # a reference leaves its image_source before the image is coded, so before its result
    # can exist: the references' publisher runs ahead of the decoders' (with both at full
    # speed, the first decoder could end before user 1's references were sent, and no sink
    # can wait for messages nobody has sent yet; docs/blocks/implementation_notes.md)
    for msgs, delay, port in ((refs, 0.0, "ref"), (results[0], 0.004, "pdus"),
                              (results[1], 0.03, "pdus")):  # fmt: skip
        src = blocks.vector_source_b([1] * len(msgs), False)
        pub = _Publisher(msgs, delay)
        tb.connect(src, pub)
        tb.msg_connect((pub, "out"), (sink, port))
        keep += [src, pub]
    t0 = time.monotonic()
    tb.run()
    wall = time.monotonic() - t0
    s = sink.summary()
    for u in ("0", "1"):
        assert s["users"][u]["received"] == s["users"][u]["evaluated"] == n, s
        assert s["users"][u]["missing"] == 0
    assert s["counts"]["refs"] == s["counts"]["results"] == 2 * n
    assert s["counts"]["missing"] == s["counts"]["unmatched"] == 0
    assert wall < sink.DONE_GRACE_S
