"""Scoring at int8 (scoring/quantize.py): the quantised path scores like fp32 on a tiny model, and only
where it applies."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from scoring.ensemble import Ensemble
from scoring.quantize import quantize_int8
from tests.conftest import make_window
from tests.tiny_models import tiny_encoder


def _linears(module: nn.Module) -> tuple[int, int]:
    """(fp32 nn.Linear layers, dynamically quantised int8 ones)."""
    from torch.ao.nn.quantized.dynamic import Linear as Int8Linear

    kinds = [type(m) for m in module.modules()]
    return kinds.count(nn.Linear), kinds.count(Int8Linear)


def test_an_int8_backbone_embeds_like_the_fp32_one() -> None:
    backbone = tiny_encoder()
    quantised = quantize_int8(backbone.module)
    fp32_layers, _ = _linears(backbone.module)
    assert fp32_layers > 0 and _linears(quantised) == (0, fp32_layers)
    assert _linears(backbone.module) == (fp32_layers, 0)  # the original is untouched
    ids = torch.randint(1000, 5000, (4, 32))
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        fp32, int8 = backbone.pool(backbone.module, ids, mask), backbone.pool(quantised, ids, mask)
    assert torch.nn.functional.cosine_similarity(fp32, int8).min() > 0.99


def test_an_int8_ensemble_scores_like_the_fp32_one(tiny_artifact: Path) -> None:
    windows = [make_window(i, i / 8) for i in range(8)]
    fp32 = Ensemble.load(tiny_artifact, device="cpu")
    int8 = Ensemble.load(tiny_artifact, device="cpu", precision="int8")
    assert (fp32.precision, int8.precision) == ("fp32", "int8")
    for a, b in zip(fp32.predict(windows), int8.predict(windows), strict=True):
        assert b.total == pytest.approx(a.total, abs=0.25)  # of 0..27
        assert b.items == pytest.approx(a.items, abs=0.1)  # each of 0..3


def test_it_refuses_an_unknown_precision(tiny_artifact: Path) -> None:
    with pytest.raises(ValueError, match="precision must be one of fp32, int8"):
        Ensemble.load(tiny_artifact, device="cpu", precision="int4")
