"""QA of ``frame_sync``: bursts found in a received stream, timed, CFO removed (docs/ota.md)."""

from __future__ import annotations

import math

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, semdacom
from gnuradio.semdacom import messages

from semdacom.channel_coding import ota

P = 1.0
LAY = dict(k=2, n_t=2, preamble_len=63, n_pilots=8, header_mcs=2, payload_len=300)


def received(h, n_bursts, cfo, snr_db, gaps, seed=0):
    """A user's stream: bursts of ``pilot_inserter`` at random gaps, CFO, noise."""
    rng = np.random.default_rng(seed)
    lay = ota.BurstLayout(**LAY, guard=0)
    entries = [{"present": True, "n_bits": 10, "erased": False}] * 2
    parts, starts, pos = [], [], 0
    for b in range(n_bursts):
        g = int(rng.integers(*gaps))
        parts.append(np.zeros(g))
        pos += g
        starts.append(pos)
        pay = rng.standard_normal((2, 300)) + 1j * rng.standard_normal((2, 300))
        parts.append(np.conj(h) @ ota.build_burst(lay, b, entries, pay * 0.7, P))
        pos += lay.length
    parts.append(np.zeros(500))
    y = np.concatenate(parts)
    y = y * np.exp(1j * (cfo * np.arange(y.size) + 1.0))
    nv = P * float(np.linalg.norm(h) ** 2) / 10 ** (snr_db / 10)
    y = y + (rng.standard_normal(y.size) + 1j * rng.standard_normal(y.size)) * math.sqrt(nv / 2)
    return y.astype(np.complex64), starts, lay


def run(y, chunk=0, **kw):
    blk = semdacom.frame_sync(**{**LAY, **kw})
    if chunk:
        blk.set_max_noutput_items(chunk)
    tb = gr.top_block()
    src = blocks.vector_source_c(y.tolist(), False)
    snk = blocks.vector_sink_c()
    tb.connect(src, blk, snk)
    tb.run()
    tags = [(t.offset, pmt.symbol_to_string(t.key), t.value) for t in snk.tags()]
    return blk, np.array(snk.data(), np.complex64), tags


@pytest.mark.parametrize(("cfo", "chunk"), [(0.0, 0), (0.02, 0), (-0.015, 257)])
def test_every_burst_is_found_at_its_first_sample(cfo: float, chunk: int) -> None:
    h = np.array([0.8 - 0.3j, 0.5 + 0.9j])
    y, starts, lay = received(h, 12, cfo, 10.0, (0, 400))
    blk, out, tags = run(y, chunk)
    c = blk.counters()
    assert c["bursts"] == 12 and c["samples_in"] == y.size, c
    assert out.size == 12 * lay.span
    sync = [messages.meta_from_pmt(v) for _, k, v in tags if k == "ota_sync"]
    assert [s["start"] for s in sync] == starts
    assert [o for o, k, _ in tags if k == "packet_len"] == [b * lay.span for b in range(12)]
    assert np.allclose([s["cfo"] for s in sync], cfo, atol=2e-3)
    assert all(s["metric"] > 0.3 and s["rho"] > 0.3 for s in sync)
    # what comes out is the burst with the CFO removed: the header decodes
    for b in range(12):
        rb = ota.receive_burst(out[b * lay.span : (b + 1) * lay.span], lay, P)
        assert rb.header is not None and rb.header["frame"] == b
        assert rb.cfo == pytest.approx(cfo - sync[b]["cfo"], abs=3e-4)


def test_back_to_back_bursts_and_a_channel_on_one_antenna() -> None:
    y, starts, lay = received(np.array([0.0, 1.0j]), 6, 0.005, 10.0, (0, 1))
    blk, out, tags = run(y)
    sync = [messages.meta_from_pmt(v) for _, k, v in tags if k == "ota_sync"]
    assert [s["start"] for s in sync] == starts and blk.counters()["bursts"] == 6


def test_noise_gives_nothing() -> None:
    rng = np.random.default_rng(3)
    y = (rng.standard_normal(20000) + 1j * rng.standard_normal(20000)).astype(np.complex64)
    blk, out, tags = run(y)
    assert out.size == 0 and not tags and blk.counters()["bursts"] == 0


@pytest.mark.parametrize("kw", [{"threshold": 0.0}, {"rho_min": 1.0}, {"n_pilots": 1},
                                {"preamble_len": 2}])  # fmt: skip
def test_bad_parameters_are_refused(kw) -> None:
    with pytest.raises(ValueError):
        semdacom.frame_sync(**{**LAY, **kw})


@pytest.mark.parametrize(("ppm", "chunk"), [(0.0, 0), (50.0, 0), (-30.0, 501)])
def test_two_samples_per_symbol_absorb_a_sample_clock_offset(ppm: float, chunk: int) -> None:
    """RRC-shaped bursts, a fractional delay and a sample clock offset: each burst is read at
    its own symbol instants, so headers and payloads decode as without the offset."""
    from semdacom.channel_coding import framing
    from semdacom.phy import sync as core_sync

    rng = np.random.default_rng(11)
    sps = 2
    h = np.array([0.7 + 0.2j, -0.3 + 0.6j])
    lay = ota.BurstLayout(**LAY, guard=16)
    bits = rng.integers(0, 2, 200).astype(np.uint8)
    s = framing.encode_bits(bits, 3, 256)[:300]
    w = np.array([1.0, 1.0j]) / math.sqrt(2)
    entries = [{"present": True, "n_bits": 200, "erased": False, "mcs": 3}] * 2
    sym = np.concatenate(
        [ota.build_burst(lay, b, entries, np.outer(w, s), P) for b in range(8)], axis=1
    )
    g = core_sync.rrc_taps(sps)
    up = np.zeros((2, sym.shape[1] * sps), complex)
    up[:, ::sps] = sym
    tx = np.conj(h) @ np.stack([np.convolve(u, g) for u in up]) * math.sqrt(sps)
    tx = np.concatenate([np.zeros(100), tx, np.zeros(100)])
    pos = 50.37 + np.arange(tx.size - 120) * (1 + ppm * 1e-6)
    y = core_sync.interpolate(tx, pos) * np.exp(1j * 0.002 * np.arange(pos.size))
    nv = P * float(np.linalg.norm(h) ** 2) / 10  # 10 dB per symbol after the matched filter
    y = y + (rng.standard_normal(y.size) + 1j * rng.standard_normal(y.size)) * math.sqrt(nv / 2)
    r = (np.convolve(y, g) / math.sqrt(sps)).astype(np.complex64)
    blk, out, tags = run(r, chunk, sps=sps)
    assert blk.counters()["bursts"] == 8 and out.size == 8 * lay.span
    info = [messages.meta_from_pmt(v) for _, k, v in tags if k == "ota_sync"]
    assert all(-0.5 <= i["frac"] <= 0.5 for i in info)
    # rad/symbol; the coarse estimate of a 63-symbol half at 10 dB: std about 6e-4
    assert np.allclose([i["cfo"] for i in info], 0.002 * sps, atol=2.5e-3)
    for b in range(8):
        rb = ota.receive_burst(out[b * lay.span : (b + 1) * lay.span], lay, P)
        assert rb.header is not None and rb.header["frame"] == b
        gain = math.sqrt(1.0) * np.vdot(rb.h, w)
        res = framing.decode_symbols(rb.payload[:256], 3, 256, rb.noise_var, gain, 200)
        assert res.crc_ok.all() and np.array_equal(res.bits, bits)


@pytest.mark.parametrize("junk", [np.nan, np.inf, 1e12])
def test_a_junk_sample_ahead_of_bursts_blinds_nothing(junk) -> None:
    """Issue 24: one NaN, inf or 1e12 sample ahead of the bursts, in the same buffer: every
    burst is found, with the start, metric and CFO of the clean stream, and the junk sample
    is counted (``samples_junk``); what comes out is finite."""
    h = np.array([0.8 - 0.3j, 0.5 + 0.9j])
    y, starts, lay = received(h, 6, 0.01, 10.0, (300, 400))
    _, _, clean_tags = run(y)
    clean = [messages.meta_from_pmt(v) for _, k, v in clean_tags if k == "ota_sync"]
    assert [s["start"] for s in clean] == starts
    bad = y.copy()
    bad[100] = junk
    blk, out, tags = run(bad)
    got = [messages.meta_from_pmt(v) for _, k, v in tags if k == "ota_sync"]
    c = blk.counters()
    assert c["bursts"] == 6 and c["samples_junk"] == 1, c
    assert [s["start"] for s in got] == starts
    for a, b in zip(got, clean, strict=True):
        assert a["metric"] == pytest.approx(b["metric"], rel=1e-6)
        assert a["cfo"] == pytest.approx(b["cfo"], rel=1e-6, abs=1e-9)
    assert np.all(np.isfinite(out))


def test_a_junk_sample_inside_a_burst_is_zeroed_in_the_output() -> None:
    h = np.array([0.8 - 0.3j, 0.5 + 0.9j])
    y, starts, lay = received(h, 3, 0.0, 10.0, (300, 400))
    y[starts[1] + lay.span - 5] = np.inf  # in the last pilot block of burst 1
    blk, out, _ = run(y)
    assert blk.counters()["bursts"] == 3 and blk.counters()["samples_junk"] == 1
    assert np.all(np.isfinite(out)) and out[2 * lay.span - 5] == 0


# --- issue 21: CFO acquisition beyond 1/(2N), ambiguous estimates rejected ----------------
LAY127 = {**LAY, "preamble_len": 127}


def shaped(h, n_bursts, cfo_cyc, sps, seed, snr_db=10.0, two_paths=False):
    """Bursts of ``pilot_inserter`` (``LAY127``, guard 16) through ``h``, at a CFO of
    ``cfo_cyc`` cycles/symbol, noise at ``snr_db`` per symbol; with ``sps > 1`` RRC-shaped,
    fractionally delayed and matched-filtered. ``two_paths``: the stream plus an equally
    strong copy ``1/N`` cycles/symbol higher (an ambiguous CFO)."""
    from semdacom.phy import sync as core_sync

    rng = np.random.default_rng(seed)
    lay = ota.BurstLayout(**LAY127, guard=16)
    entries = [{"present": True, "n_bits": 10, "erased": False}] * 2
    sym = np.concatenate(
        [ota.build_burst(lay, b, entries, 0.7 * np.exp(2j * np.pi * rng.random((2, 300))), P)
         for b in range(n_bursts)], axis=1,
    )  # fmt: skip
    if sps == 1:
        x = np.concatenate([np.zeros(137), np.conj(h) @ sym, np.zeros(400)])
        starts = [137 + b * lay.length for b in range(n_bursts)]
    else:
        g = core_sync.rrc_taps(sps)
        up = np.zeros((2, sym.shape[1] * sps), complex)
        up[:, ::sps] = sym
        tx = np.conj(h) @ np.stack([np.convolve(u, g) for u in up]) * math.sqrt(sps)
        tx = np.concatenate([np.zeros(300), tx, np.zeros(800)])
        x = core_sync.interpolate(tx, 20.3 + np.arange(tx.size - 40))
        starts = [round(300 - 20.3 + g.size - 1 + b * lay.length * sps) for b in range(n_bursts)]
    k = np.arange(x.size)
    w = 2 * np.pi * cfo_cyc / sps
    y = x * np.exp(1j * (w * k + 0.3))
    if two_paths:
        y = y + x * np.exp(1j * ((w + 2 * np.pi / (lay.preamble_len * sps)) * k - 1.9))
    nv = P * float(np.linalg.norm(h) ** 2) / 10 ** (snr_db / 10) * sps  # per sample
    y = y + (rng.standard_normal(y.size) + 1j * rng.standard_normal(y.size)) * math.sqrt(nv / 2)
    if sps > 1:  # the matched filter (taps of energy 1/sps): nv/sps per symbol, as asked
        y = np.convolve(y, core_sync.rrc_taps(sps)) / math.sqrt(sps)
    return y.astype(np.complex64), starts, lay


@pytest.mark.parametrize("sps", [1, 2])
@pytest.mark.parametrize("cfo", [0.006, -0.006, 0.01, -0.01])
def test_bursts_at_a_cfo_beyond_one_over_2n_are_found_and_decode(cfo: float, sps: int) -> None:
    """CFO 0.006 and 0.01 cycles/symbol (0.76 and 1.27 / N for N = 127, beyond the
    Schmidl-Cox range 1/(2N) = 0.0039), both signs, at 1 and 2 samples per symbol, 10 dB, two
    seeds: every burst is found at its start, its CFO (rad/symbol, in the tag) within 1e-3 of
    the truth, none rejected, and its header decodes (today: found one symbol off with a CFO
    wrapped by 2 pi/N, every header lost)."""
    h = np.array([0.8 - 0.3j, 0.5 + 0.9j])
    for seed in (1, 2):
        y, starts, lay = shaped(h, 5, cfo, sps, seed)
        blk, out, tags = run(y, 1000 if seed == 2 else 0, **{**LAY127, "sps": sps})
        c = blk.counters()
        assert c["bursts"] == 5 and c["rejected"] == 0, c
        info = [messages.meta_from_pmt(v) for _, k, v in tags if k == "ota_sync"]
        assert [round(i["start"] + i["frac"]) for i in info] == starts
        assert np.allclose([i["cfo"] for i in info], 2 * np.pi * cfo, atol=1e-3)
        for b in range(5):
            rb = ota.receive_burst(out[b * lay.span : (b + 1) * lay.span], lay, P)
            assert rb.header is not None and rb.header["frame"] == b, (seed, b, rb.reason)
        assert c["cfo_rejected"] == 0


def test_an_ambiguous_cfo_is_rejected_counted_and_never_passed_on(capfd) -> None:
    """Every burst arrives twice, equally strong, 1/N cycles/symbol apart (two paths whose
    Doppler differs by the ambiguity step of the Schmidl-Cox estimate): two CFO hypotheses fit
    each preamble, so no burst goes out; each is counted once in ``cfo_rejected``, and the
    log has one warning for the four (at most one per 10 s). The same stream with one path
    gives every burst."""
    h = np.array([0.8 - 0.3j, 0.5 + 0.9j])
    y, starts, _ = shaped(h, 4, 0.002, 1, 5, snr_db=20.0, two_paths=True)
    capfd.readouterr()
    blk, out, tags = run(y, **LAY127)
    c = blk.counters()
    assert c["bursts"] == 0 and out.size == 0 and not tags, c
    assert c["cfo_rejected"] == 4, c
    logged = capfd.readouterr()
    assert (logged.out + logged.err).count("ambiguous CFO") == 1
    y, starts, _ = shaped(h, 4, 0.002, 1, 5, snr_db=20.0)
    blk, out, tags = run(y, **LAY127)
    assert blk.counters()["bursts"] == 4 and blk.counters()["cfo_rejected"] == 0


@pytest.mark.parametrize("spacing", [0, 64, 256])
def test_the_layout_follows_the_pilot_spacing_of_the_transmitter(spacing) -> None:
    """The burst frame_sync hands on is the layout's span, which grows with the pilot blocks
    inside the payload: frame_sync takes the same pilot_spacing as pilot_inserter and
    csi_estimator (before, it always assumed the default and cut other bursts short)."""
    fs = semdacom.frame_sync(k=2, n_t=2, payload_len=1024, pilot_spacing=spacing)
    want = ota.BurstLayout(k=2, n_t=2, preamble_len=127, n_pilots=16, header_mcs=2,
                           payload_len=1024, pilot_spacing=spacing)  # fmt: skip
    assert fs.layout().span == want.span
