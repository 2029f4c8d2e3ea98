"""The codec blocks in one flowgraph: image_source -> source_encoder -> {source_decoder,
semantic_decoder} -> metrics_sink, with the references on the sink's ``ref`` port."""

from __future__ import annotations

import json
import time

import numpy as np
from gnuradio import gr
from gnuradio.semdacom.source_coding.image_source import image_source
from gnuradio.semdacom.source_coding.metrics_sink import metrics_sink
from gnuradio.semdacom.source_coding.semantic_decoder import semantic_decoder
from gnuradio.semdacom.source_coding.source_decoder import source_decoder
from gnuradio.semdacom.source_coding.source_encoder import source_encoder

from semdacom.data.datasets import load_fashion_mnist
from semdacom.source_coding.codec import shared_codec
from semdacom.source_coding.metrics import msssim

N = 30


def test_loopback_metrics_match_the_codec(tmp_path) -> None:
    codec = shared_codec(None, semantic=True)
    r = codec.levels - 1
    tb = gr.top_block()
    src0 = image_source(user=0, count=N, period_ms=2.0)
    src1 = image_source(user=1, count=N, period_ms=2.0)
    enc0, enc1 = source_encoder(user=0, rate_index=r), source_encoder(user=1, rate_index=r)
    dec, sem = source_decoder(user=0), semantic_decoder(user=1)
    sink = metrics_sink(json_path=str(tmp_path / "summary.json"))
    tb.msg_connect(src0, "pdus", enc0, "pdus")
    tb.msg_connect(src1, "pdus", enc1, "pdus")
    tb.msg_connect(src0, "pdus", sink, "ref")
    tb.msg_connect(enc0, "pdus", dec, "pdus")
    tb.msg_connect(enc1, "pdus", sem, "pdus")
    tb.msg_connect(dec, "pdus", sink, "pdus")
    tb.msg_connect(sem, "pdus", sink, "pdus")
    tb.start()
    t0 = time.monotonic()
    while sink.counters()["results"] < 2 * N:
        assert time.monotonic() - t0 < 60, sink.summary()
        time.sleep(0.01)
    tb.stop()
    tb.wait()
    s = json.loads((tmp_path / "summary.json").read_text())
    du, su = s["users"]["0"], s["users"]["1"]
    assert du["received"] == du["evaluated"] == N and du["erased"] == 0
    assert su["received"] == su["evaluated"] == N
    x, y = load_fashion_mnist("test")
    streams = [codec.encode(x[i : i + 1], r)[0] for i in range(N)]  # one at a time, as the block
    dec_imgs = codec.decode(streams, r).images
    ref = np.round(dec_imgs * 255) / 255
    expected = msssim(ref.astype(np.float32), (x[:N, None] / 255.0).astype(np.float32)).mean()
    assert abs(du["msssim"] - expected) < 1e-4
    pred, _ = codec.classify(streams, r)
    assert su["accuracy"] == np.mean(pred == y[:N])
    assert s["counts"]["malformed"] == 0 and s["counts"]["unmatched"] == 0
