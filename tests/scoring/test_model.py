from __future__ import annotations

import pytest
import torch

from scoring.calibration import Calibration
from scoring.model import ItemHeads, phq9_loss
from scoring.phq9 import band_for
from tests.tiny_models import tiny_encoder, tiny_qwen3_5


def test_it_keeps_items_in_range_and_weights_normalised() -> None:
    heads = ItemHeads(16).eval()
    h = torch.randn(3, 5, 16) * 10
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    items, weights = heads(h, mask)
    assert items.shape == (3, 9) and weights.shape == (3, 5, 9)
    assert ((items >= 0) & (items <= 3)).all()
    assert torch.allclose(weights.sum(1), torch.ones(3, 9), atol=1e-5)
    assert (weights[0, 3:] == 0).all()  # padding chunks get no weight


def test_it_ignores_padding_chunks() -> None:
    heads = ItemHeads(16).eval()
    h = torch.randn(1, 2, 16)
    items_short, _ = heads(h[:, :1], torch.ones(1, 1, dtype=torch.bool))
    items_padded, _ = heads(h, torch.tensor([[True, False]]))
    assert torch.allclose(items_short, items_padded, atol=1e-6)


def test_it_trains_on_totals_when_items_are_missing() -> None:
    items = torch.full((2, 9), 1.0, requires_grad=True)
    target_items = torch.zeros(2, 9)
    has_items = torch.tensor([False, False])
    loss = phq9_loss(items, target_items, has_items, torch.tensor([9.0, 9.0]), torch.ones(2))
    assert loss.item() == pytest.approx(0.0)  # total 9 matches; missing items do not count
    loss = phq9_loss(
        items, target_items, torch.tensor([True, False]), torch.tensor([9.0, 9.0]), torch.ones(2)
    )
    assert loss.item() > 0  # the first row's items (all 0) now disagree with 1.0


def test_it_embeds_chunks_with_an_encoder_and_a_qwen3_5_decoder() -> None:
    for backbone in (tiny_encoder(), tiny_qwen3_5()):
        ids = torch.tensor([[101, 2000, 2001, 102], [101, 2003, 102, 0]])
        mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
        with torch.no_grad():
            out = backbone.embed(ids, mask)
        assert out.shape == (2, backbone.hidden_size)
        assert torch.isfinite(out).all()
    assert tiny_qwen3_5().kind == "decoder" and tiny_encoder().kind == "encoder"
    assert tiny_qwen3_5().module.config.pad_token_id is not None


def test_it_pools_the_last_real_token_for_decoders() -> None:
    backbone = tiny_qwen3_5()
    ids = torch.tensor([[101, 2000, 2001, 102]])
    with torch.no_grad():
        alone = backbone.embed(ids, torch.ones_like(ids))
        padded = backbone.embed(
            torch.cat([ids, torch.zeros(1, 3, dtype=torch.long)], 1), torch.tensor([[1] * 4 + [0] * 3])
        )
    assert torch.allclose(alone, padded, atol=1e-4)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4.4, "minimal"),
        (4.5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (15, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_it_maps_totals_to_bands(total: float, band: str) -> None:
    assert band_for(total).key == band


def test_it_fits_split_conformal_intervals() -> None:
    cal = Calibration.fit([1.0, -2.0, 3.0, -4.0, 0.5, 0.2, -0.1, 2.5, 1.5], coverage=0.8)
    assert cal.half_width == 3.0  # ceil(10 * 0.8) = 8th smallest |r|
    assert cal.interval(1.0) == (0.0, 4.0)
    assert cal.interval(26.0) == (23.0, 27.0)
    assert Calibration.fit([1.0], coverage=0.9).half_width == 27.0  # too few residuals: whole scale


def test_calibration_gives_each_predicted_band_with_enough_residuals_its_own_width() -> None:
    small = [0.2 * (i % 5) for i in range(12)]  # |r| <= 0.8, predicted minimal (total 2)
    large = [float(i % 7) for i in range(12)]  # |r| up to 6, predicted severe (total 24)
    few = [5.0, -5.0, 5.0]  # predicted moderate (total 12): too few for a width of its own
    cal = Calibration.fit(small + large + few, coverage=0.8, predicted=[2.0] * 12 + [24.0] * 12 + [12.0] * 3)
    assert cal.method == "patient-level split-conformal by predicted band"
    assert set(cal.by_band) == {"minimal", "severe"}
    assert cal.by_band["minimal"] <= 0.8 < cal.by_band["severe"]
    assert cal.interval(2.0)[1] == pytest.approx(2.0 + cal.by_band["minimal"])
    assert cal.interval(12.0) == (12.0 - cal.half_width, 12.0 + cal.half_width)  # pooled width
    assert Calibration.from_dict(cal.to_dict()) == cal
    older = {"method": "split-conformal", "coverage": 0.8, "half_width": 3.0, "n": 9}  # before by_band
    assert Calibration.from_dict(older).interval(10.0) == (7.0, 13.0)
