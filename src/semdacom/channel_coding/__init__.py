"""Practical channel coding: LDPC (C++ kernels), CRC, Gray QAM, MCS table, framing.

See docs/channel_coding.md. Numpy and the C++ bindings only; no GNU Radio blocks here.
"""

from semdacom.channel_coding.codes import (
    CRC_BITS,
    AlistCode,
    LdpcCode,
    crc16,
    design_base_matrix,
    qc_code,
)
from semdacom.channel_coding.framing import DecodeResult, decode_symbols, encode_bits, n_blocks
from semdacom.channel_coding.mcs import (
    MAX_CODEWORD,
    MCS_TABLE,
    BlockLayout,
    Mcs,
    block_layout,
    mcs_for_rc,
)
from semdacom.channel_coding.qam import BITS_PER_SYMBOL, demap, interleaver, modulate

__all__ = [
    "BITS_PER_SYMBOL",
    "CRC_BITS",
    "MAX_CODEWORD",
    "MCS_TABLE",
    "AlistCode",
    "BlockLayout",
    "DecodeResult",
    "LdpcCode",
    "Mcs",
    "block_layout",
    "crc16",
    "decode_symbols",
    "demap",
    "design_base_matrix",
    "encode_bits",
    "interleaver",
    "mcs_for_rc",
    "modulate",
    "n_blocks",
    "qc_code",
]
