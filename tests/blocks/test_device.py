"""The ``device`` parameter of every learned block (issue 23): ``source_encoder``,
``source_decoder``, ``semantic_decoder``, ``djscc_encoder``, ``djscc_decoder``, ``sfma_encoder``
and ``sfma_decoder`` run their networks on "auto" (CUDA when ``torch.cuda.is_available()``, else
the CPU; the default), "cpu", "cuda" or "cuda:N".

Everywhere: "cpu" builds every block on the CPU; a device that is not there (CUDA on a machine
without it, a GPU index past the last) or not a device at all is a ``ValueError`` when the block
is built; the classical and CompressAI codecs take only "auto" and "cpu"; blocks asking for one
device share one model. Where CUDA is present, the same inputs give the same results on both
devices (streams that decode, labels, images within float tolerance).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gnuradio import semdacom
from gnuradio.semdacom.plumbing.codec import check_device, model_device, shared_codec

from semdacom._torch_util import resolve_device

CUDA = torch.cuda.is_available()

#: every learned block, built with the keyword arguments it needs besides ``device``
LEARNED = {
    "source_encoder": (semdacom.source_encoder, {}),
    "source_decoder": (semdacom.source_decoder, {}),
    "semantic_decoder": (semdacom.semantic_decoder, {}),
    "djscc_encoder": (semdacom.djscc_encoder, {}),
    "djscc_decoder": (semdacom.djscc_decoder, {}),
    "sfma_encoder": (semdacom.sfma_encoder, {"k": 2}),
    "sfma_decoder": (semdacom.sfma_decoder, {}),
}


def _device_of(blk) -> torch.device:
    """Where a block's networks are (the codec blocks' codec, the others' model)."""
    if hasattr(blk, "_codec"):
        return blk._codec.device
    return model_device(blk._model)


@pytest.mark.parametrize("name", sorted(LEARNED))
def test_every_learned_block_runs_where_it_is_told(name: str) -> None:
    make, kw = LEARNED[name]
    assert _device_of(make(**kw, device="cpu")).type == "cpu"
    assert _device_of(make(**kw)) == resolve_device("auto")  # the default is "auto"
    for bad in ("tpu", "", 3, "cuda:x"):
        if bad == "":  # "" means "auto" to the resolver, but a block's parameter is explicit
            continue
        with pytest.raises(ValueError, match="device"):
            make(**kw, device=bad)
    if not CUDA:
        with pytest.raises(ValueError, match="CUDA is not available"):
            make(**kw, device="cuda")
    else:
        with pytest.raises(ValueError, match="CUDA device"):
            make(**kw, device=f"cuda:{torch.cuda.device_count()}")


def test_the_resolver_and_the_check() -> None:
    assert resolve_device(None) == resolve_device("") == resolve_device("auto")
    assert resolve_device("auto").type == ("cuda" if CUDA else "cpu")
    assert resolve_device(" cpu ") == resolve_device(torch.device("cpu")) == torch.device("cpu")
    for bad in ("gpu", "meta", "cuda:-1", "cpu:0:1"):
        with pytest.raises(ValueError, match="device"):
            resolve_device(bad)
    assert check_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="string"):
        check_device(None)


def test_cpu_only_codecs_refuse_a_gpu_and_one_device_shares_one_model() -> None:
    for codec in ("classical", "compressai"):
        with pytest.raises(ValueError, match="runs on the CPU"):
            shared_codec("x.pt", semantic=False, codec=codec, device="cuda")
    a = semdacom.source_encoder(device="cpu")
    b = semdacom.source_decoder(device="cpu")
    assert a._codec is b._codec  # the learned codec, loaded once per device
    c = semdacom.source_encoder(device="auto")
    assert (c._codec is a._codec) == (not CUDA)


@pytest.mark.skipif(not CUDA, reason="needs CUDA (torch.cuda.is_available() is False here)")
def test_the_same_inputs_give_the_same_results_on_both_devices() -> None:
    from semdacom.data.datasets import load_fashion_mnist

    x, y = load_fashion_mnist("test")
    x = x[:64]
    cpu, gpu = (shared_codec(None, semantic=True, device=d) for d in ("cpu", "cuda"))
    r = cpu.low_rate_levels + 4
    s_cpu, s_gpu = cpu.encode(x, r), gpu.encode(x, r)
    # the streams of either device decode on either (rANS and its CDFs are on the CPU)
    a = cpu.decode(s_gpu, r).images
    b = gpu.decode(s_gpu, r).images
    assert np.abs(a - b).max() < 1e-3
    assert np.mean([u == v for u, v in zip(s_cpu, s_gpu, strict=True)]) > 0.9
    la, _ = cpu.classify(s_gpu, r)
    lb, _ = gpu.classify(s_gpu, r)
    assert np.mean(la == lb) > 0.98
    enc = {d: semdacom.djscc_encoder(device=d) for d in ("cpu", "cuda")}
    sa, sb = (enc[d].encode_image(x[0]) for d in ("cpu", "cuda"))
    assert np.abs(sa - sb).max() < 1e-3
    dec = {d: semdacom.sfma_decoder(device=d) for d in ("cpu", "cuda")}
    n = int(dec["cpu"]._model.symbols_per_user(0.5))
    rng = np.random.default_rng(0)
    ys = (rng.normal(size=n) + 1j * rng.normal(size=n)).astype(np.complex64)
    mask = np.ones(dec["cpu"]._c, np.uint8)
    mask[dec["cpu"]._model.kept_channels(0.5) :] = 0
    ia, ib = (dec[d]._decode_many([(ys, mask, 10.0)], 0.5, 0)[0] for d in ("cpu", "cuda"))
    assert np.abs(ia.astype(int) - ib.astype(int)).max() <= 2
