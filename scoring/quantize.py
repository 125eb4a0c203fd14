"""Scoring at int8 on CPU: PyTorch dynamic quantisation of the backbone's Linear layers.

Weights are stored as int8 (per tensor) and each Linear's input is quantised batch by batch at run
time; everything else (embeddings, layer norms, the attention product, the item heads) stays fp32.
CPU only: on CUDA the backbone already runs in bf16. Chosen by `precision` in Ensemble.load
(SCORING_PRECISION on the Django side, `--precision` in the CLIs); what it gains and costs is measured
by `make bench-model` (tokens/s) and the cross-source benchmark (AUC), docs/benchmarks.md.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

PRECISIONS = ("fp32", "int8")
DEFAULT_PRECISION = "fp32"  # what the measurement chose (docs/benchmarks.md); SCORING_PRECISION's default too


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def quantize_int8(module: nn.Module) -> nn.Module:
    """A copy of `module` with every nn.Linear replaced by its dynamically quantised int8 version (the
    original is left as it is: a training process may share it). CPU only."""
    with warnings.catch_warnings():
        # torch.ao.quantization announces its move to torchao; this eager-mode API is still the one that
        # needs nothing beyond torch (torchao is not installed here).
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization is deprecated.*")
        warnings.filterwarnings("ignore", message=r".*quantize_per_tensor.*")
        return torch.ao.quantization.quantize_dynamic(module, {nn.Linear}, dtype=torch.qint8, inplace=False)
