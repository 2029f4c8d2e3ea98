"""Every input message port and every stream input of every block has a fuzz target.

The blocks are what ``gnuradio.semdacom`` exports (the Python blocks and the C++ ones); each is
built and asked for its input message ports (``message_ports_in``) and stream inputs, so that a
new block or port without a fuzz target fails here.
"""

from __future__ import annotations

import pmt
from fuzz_targets import PORTS, TARGETS
from gnuradio import semdacom
from gnuradio.semdacom.plumbing.base import Block
from stream_attacks import CASES

#: Blocks whose default arguments do not build them (C++ lists, weights, tables).
BUILD = {
    "miso_channel": lambda: semdacom.miso_channel(2, 2, [1, 0, 0, 1], [0.1, 0.1]),
    "superposition_beamformer": lambda: semdacom.superposition_beamformer(
        2, 2, [1.0, 1.0], [1, 0, 0, 1]
    ),
    "sfma_optimizer": lambda: semdacom.sfma_optimizer(
        labels=(0, 0, 5, 7), xi_table="synthetic", distortion_table="synthetic"
    ),
    "sfma_encoder": lambda: semdacom.sfma_encoder(k=2, weights="sc_sfma"),
    "sfma_decoder": lambda: semdacom.sfma_decoder(user=0, weights="sc_sfma", gain=1e-10),
}


def blocks_of_the_package() -> list[str]:
    out = []
    for name in dir(semdacom):
        obj = getattr(semdacom, name)
        if isinstance(obj, type) and (issubclass(obj, Block) or hasattr(obj, "message_ports_in")):
            out.append(name)
    return sorted(out)


def inputs(name: str) -> tuple[list[str], int]:
    blk = BUILD.get(name, getattr(semdacom, name))()
    bb = blk.to_basic_block()
    ports = bb.message_ports_in()
    names = [pmt.symbol_to_string(pmt.vector_ref(ports, i)) for i in range(pmt.length(ports))]
    return [p for p in names if p != "system"], bb.input_signature().max_streams()


def test_the_package_exports_the_blocks_of_its_docstring() -> None:
    found = blocks_of_the_package()
    assert len(found) >= 25, found
    for name in ("superposition_beamformer", "miso_channel", "sfma_decoder", "csi_combiner"):
        assert name in found


def test_every_input_port_of_every_block_is_fuzzed() -> None:
    missing = []
    for name in blocks_of_the_package():
        msg_ports, streams = inputs(name)
        missing += [(name, p) for p in msg_ports if (name, p) not in PORTS]
        if streams != 0 and name not in CASES:
            missing.append((name, "stream input"))
    assert not missing, f"no fuzz target for: {missing}"
    assert {b for b, _ in PORTS} <= set(TARGETS)
