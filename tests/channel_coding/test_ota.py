"""coding.ota: the over-the-air burst layout, its header, and receiving a burst."""

from __future__ import annotations

import math

import numpy as np
import pytest

from semdacom.channel_coding import framing, ota
from semdacom.phy import beamforming as bf
from semdacom.phy import pilots

LAYOUT = ota.BurstLayout(k=2, n_t=2, preamble_len=127, n_pilots=16, header_mcs=2,
                         payload_len=1024, guard=32)  # fmt: skip


def test_layout_offsets_add_up() -> None:
    lay = LAYOUT
    assert lay.pilots_first == 254 and lay.header_start == 270
    assert lay.pilots_mid == lay.header_start + lay.header_uses
    assert lay.payload_start == lay.pilots_mid + 16
    # a pilot block after every 256 payload samples inside the payload: 3 of them
    assert lay.pilot_spacing == 256 and lay.inner_blocks == 3
    assert lay.payload_segments == tuple((lay.payload_start + i * 272, 256) for i in range(4))
    assert lay.pilots_last == lay.payload_start + 1024 + 3 * 16
    assert lay.pilot_offsets == (
        254,
        lay.pilots_mid,
        *(lay.payload_start + 256 + i * 272 for i in range(3)),
        lay.pilots_last,
    )
    assert lay.span == lay.pilots_last + 16 and lay.length == lay.span + 32
    assert lay.pilots_total == 6 * 16 and 0 < lay.overhead() < 1
    assert lay.header_uses >= ota.header_bits(2) / 2 / (1 / 3)  # QPSK rate 1/3
    for bad in ({"n_pilots": 2}, {"preamble_len": 128}, {"payload_len": 0}, {"guard": -1},
                {"pilot_spacing": -1}):  # fmt: skip
        with pytest.raises(ValueError):
            ota.BurstLayout(**{**LAYOUT.__dict__, **bad})


@pytest.mark.parametrize(
    ("slot", "m", "inner", "last"),
    [(1024, 0, 0, 1024), (1000, 256, 3, 232), (256, 256, 0, 256), (257, 256, 1, 1)],
)
def test_payload_segments_cover_the_slot(slot: int, m: int, inner: int, last: int) -> None:
    lay = ota.BurstLayout(2, 2, 31, 8, 2, slot, 0, m)
    seg = lay.payload_segments
    assert lay.inner_blocks == inner and len(seg) == inner + 1 and seg[-1][1] == last
    assert sum(n for _, n in seg) == slot and seg[-1][0] + last == lay.pilots_last
    # build_burst puts the payload there, in order, and the pilot blocks between
    pay = np.arange(1, 2 * slot + 1).reshape(2, slot).astype(np.complex64)
    b = ota.build_burst(lay, 0, [{"present": False}] * 2, pay, 1.0)
    got = np.concatenate([b[:, a : a + n] for a, n in seg], axis=1)
    assert np.array_equal(got, pay)
    for i, o in enumerate(lay.pilot_offsets):
        assert np.allclose(b[:, o : o + 8], pilots.pilot_matrix(2, 8, 1.0, i))


def test_header_round_trip_keeps_every_field() -> None:
    infos = [{"user": 0, "mode": "ldpc", "n_bits": 1234, "mcs": 3, "pdu_image_id": 77,
              "pdu_label": 4, "pdu_rate_index": 9, "pdu_frame": 2},
             None,
             {"user": 2, "mode": "ldpc", "n_bits": 0, "erased": True, "pdu_image_id": -5,
              "pdu_label": 2**40}]  # fmt: skip
    entries = [ota.entry_from_chan_info(i) for i in infos]
    bits = ota.encode_header(2**40 + 3, entries, 4, truncated=True)
    assert bits.size == ota.header_bits(3)
    out = ota.decode_header(bits, 3, 4)
    assert out["frame"] == 2**40 + 3 and out["truncated"]
    e0, e1, e2 = out["entries"]
    assert e0 == {"present": True, "n_bits": 1234, "erased": False, "mcs": 3, "image_id": 77,
                  "label": 4, "rate_index": 9, "frame": 2}  # fmt: skip
    assert e1 == {"present": False}
    assert e2 == {"present": True, "n_bits": 0, "erased": True, "image_id": -5}  # label: > s32
    info = ota.chan_info_from_entry(e0, 0, 256)
    assert info == {"user": 0, "mode": "ldpc", "L": 256, "n_bits": 1234, "mcs": 3,
                    "pdu_image_id": 77, "pdu_label": 4, "pdu_rate_index": 9,
                    "pdu_frame": 2}  # fmt: skip
    assert ota.chan_info_from_entry(e2, 2, 256)["erased"] is True
    with pytest.raises(ota.HeaderError):
        ota.decode_header(bits, 2, 4)  # another K
    with pytest.raises(ota.HeaderError):
        ota.encode_header(-1, entries, 4)


def test_a_burst_through_a_channel_gives_csi_header_and_payload() -> None:
    rng = np.random.default_rng(5)
    H = bf.paper_channel()
    p = 1.5
    lay = LAYOUT
    entries = [ota.entry_from_chan_info({"user": u, "mode": "ldpc", "n_bits": 900, "mcs": 3,
                                         "pdu_image_id": 10 + u}) for u in range(2)]  # fmt: skip
    bits = rng.integers(0, 2, 900).astype(np.uint8)
    s = framing.encode_bits(bits, 3, 256)
    w = np.array([1.0, 1.0j]) / math.sqrt(2)
    burst = ota.build_burst(lay, 41, entries, math.sqrt(p) * np.outer(w, s), p)
    assert burst.shape == (2, lay.length) and np.all(burst[:, lay.span :] == 0)
    for u in range(2):
        nv = p * float(np.linalg.norm(H[u]) ** 2) / 10  # 10 dB
        y = np.conj(H[u]) @ burst * np.exp(1j * (1e-4 * np.arange(lay.length) + 2.0))
        y = y + (rng.standard_normal(y.size) + 1j * rng.standard_normal(y.size)) * math.sqrt(nv / 2)
        rb = ota.receive_burst(y[: lay.span], lay, p)
        assert rb.header is not None and rb.reason == ""
        assert rb.header["frame"] == 41 and rb.header["entries"][u]["image_id"] == 10 + u
        assert rb.cfo == pytest.approx(1e-4, abs=3e-5)
        assert rb.h[0].imag == pytest.approx(0.0, abs=1e-12) and rb.h[0].real > 0
        # trained on preamble, pilots and the decoded header: far below the 3 pilot blocks' LS
        assert pilots.aligned_mse(rb.h, H[u]) < pilots.ls_mse_theory(nv, 48, p)
        assert rb.noise_var == pytest.approx(nv, rel=0.2)
        # the payload in the estimate's frame of reference decodes with g = sqrt(p) h^H w
        g = math.sqrt(p) * np.vdot(rb.h, w)
        res = framing.decode_symbols(rb.payload[: s.size], 3, 256, rb.noise_var, g, 900)
        assert res.crc_ok.all() and np.array_equal(res.bits, bits)
    with pytest.raises(ValueError):
        ota.receive_burst(y[:100], lay, p)
    with pytest.raises(ValueError):
        ota.build_burst(lay, 0, entries, np.zeros((2, 2000)), p)  # longer than the slot


def test_a_noisy_header_fails_its_crc_instead_of_parsing_garbage() -> None:
    rng = np.random.default_rng(6)
    y = rng.standard_normal(LAYOUT.span) + 1j * rng.standard_normal(LAYOUT.span)
    rb = ota.receive_burst(y, LAYOUT, 1.0)
    assert rb.header is None and "CRC" in rb.reason


def test_header_gain_is_the_known_phase_mix() -> None:
    h = np.array([1.0, 2.0j])
    g = ota.header_gain(h, 4.0, 10)
    c = ota.header_phases(2, 10)
    assert np.allclose(g, 2.0 * (c[0] - 2.0j * c[1]))
    assert np.allclose(np.abs(c), 1.0)
