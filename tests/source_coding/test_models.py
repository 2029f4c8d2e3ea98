"""The codec networks' rate conditioning (gain units + FiLM) and the balanced training loss."""

from __future__ import annotations

import math

import pytest
import torch

from semdacom.source_coding import train
from semdacom.source_coding.models import Classifier, MaxPool2d, SemanticDecoder, VBRHyperprior


def _pair(levels: int = 4) -> tuple[VBRHyperprior, VBRHyperprior]:
    torch.manual_seed(0)
    plain = VBRHyperprior(levels=levels)
    film = VBRHyperprior(levels=levels, film=True)
    film.load_state_dict(plain.state_dict(), strict=False)
    return plain.eval(), film.eval()


def test_film_starts_as_identity() -> None:
    plain, film = _pair()
    x = torch.rand(3, 1, 32, 32)
    r = torch.tensor([0, 2, 3])
    with torch.no_grad():
        torch.testing.assert_close(film.analysis(x, r), plain.analysis(x, r))
        y = torch.randn(3, 32, 8, 8)
        torch.testing.assert_close(film.synthesis(y, r), plain.synthesis(y, r))


def test_film_conditions_each_sample_on_its_own_point() -> None:
    _, film = _pair()
    with torch.no_grad():
        film.film_a[1, 0].fill_(math.log(2.0))
        film.film_o[1, 1].fill_(0.25)
    x = torch.rand(2, 1, 32, 32)
    y = torch.randn(2, 32, 8, 8)
    with torch.no_grad():
        mixed_a = film.analysis(x, torch.tensor([0, 1]))
        mixed_s = film.synthesis(y, torch.tensor([0, 1]))
        for i, r in enumerate((0, 1)):
            ri = torch.tensor([r])
            torch.testing.assert_close(mixed_a[i : i + 1], film.analysis(x[i : i + 1], ri))
            torch.testing.assert_close(mixed_s[i : i + 1], film.synthesis(y[i : i + 1], ri))
        # point 1's output bias is visible, point 0 is untouched
        assert not torch.allclose(mixed_s[1], film.synthesis(y[1:2], torch.tensor([0]))[0])


def test_semantic_decoder_copies_the_film_maps() -> None:
    _, film = _pair()
    with torch.no_grad():
        film.film_s.normal_()
    q = SemanticDecoder(film, Classifier())
    torch.testing.assert_close(q.film_s.detach(), film.film_s.detach())
    assert q.film_s.data_ptr() != film.film_s.data_ptr()
    plain_q = SemanticDecoder(_pair()[0], Classifier())
    assert plain_q.film_s is None and plain_q.film_o is None


def test_forward_matches_analysis_and_synthesis() -> None:
    _, film = _pair()
    with torch.no_grad():
        for p in (film.film_a, film.film_s, film.film_o):
            p.normal_(std=0.1)
        x = torch.rand(2, 1, 28, 28)
        r = torch.tensor([1, 3])
        out = film(x, r)
        xp, pad = film.pad(x)
        _, ig = film.gains(r)
        y_hat = torch.round(film.analysis(xp, r)) * ig
        torch.testing.assert_close(out["y_hat"], y_hat)
        torch.testing.assert_close(out["x_hat"], film.crop(film.synthesis(y_hat, r), pad))


def test_balance_scale_is_a_per_point_running_mean() -> None:
    state: dict = {}
    per = torch.tensor([1.0, 3.0, 10.0])
    r = torch.tensor([0, 0, 2])
    s = train._balance_scale(state, per, r, levels=3)
    torch.testing.assert_close(s, torch.tensor([2.0, 2.0, 10.0]))  # first sight sets the mean
    assert math.isnan(float(state["loss_ema"][1]))  # unseen points stay unset
    s = train._balance_scale(state, torch.tensor([4.0]), torch.tensor([0]), levels=3)
    assert float(s[0]) == pytest.approx(0.99 * 2.0 + 0.01 * 4.0)
    assert float(state["loss_ema"][2]) == pytest.approx(10.0)
    # the normalised loss of each point is about one whatever its lambda
    assert float((per / train._balance_scale({}, per, r, 3))[2]) == pytest.approx(1.0)


@pytest.mark.parametrize("shape", [(1, 1, 3, 3), (3, 32, 28, 28), (2, 64, 14, 14), (5, 8, 7, 9)])
def test_the_channels_last_max_pool_is_torchs_bit_for_bit(shape) -> None:
    """models.MaxPool2d (issue 23: a channels-last copy, 4-6x faster on one CPU thread) gives
    nn.MaxPool2d's values exactly, odd sizes, NaN and infinities included, and a contiguous
    NCHW tensor, so what follows it computes as before."""
    g = torch.Generator().manual_seed(sum(shape))
    x = torch.randn(shape, generator=g)
    x.view(-1)[:: max(1, x.numel() // 5)] = float("nan")
    x.view(-1)[1 :: max(1, x.numel() // 3)] = float("-inf")
    for k in (2, 3):
        ours, ref = MaxPool2d(k)(x), torch.nn.MaxPool2d(k)(x)
        assert ours.is_contiguous() and ours.shape == ref.shape
        assert torch.equal(torch.nan_to_num(ours, nan=7.0), torch.nan_to_num(ref, nan=7.0))
        assert torch.equal(ours.isnan(), ref.isnan())
    assert MaxPool2d(2)(x[0]).shape == torch.nn.MaxPool2d(2)(x[0]).shape  # 3-D: torch's own path
