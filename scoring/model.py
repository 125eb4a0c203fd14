"""The PHQ-9 regressor: backbone chunk vectors -> per-item attention over chunks -> 9 item scores.

    window --chunks--> backbone --> h (B, C, H)
    per item i: a_i = softmax_c(w_i . h_c)          (B, C, 9)   how much each chunk informs item i
                z_i = sum_c a_ic h_c                 (B, 9, H)
                item_i = 3 * sigmoid(v_i . z_i + b)  (B, 9)      in [0, 3]
    total = sum_i item_i                              (B,)        in [0, 27]

The attention weights a_ic are the evidence shown to clinicians: which chunks (and so which messages)
most informed each item. With pooling="mean" a_ic is uniform over the window's chunks.
"""

from __future__ import annotations

import torch
from torch import nn

from scoring.phq9 import ITEM_MAX, N_ITEMS

POOLINGS = ("attention", "mean")


class ItemHeads(nn.Module):
    def __init__(self, hidden_size: int, *, pooling: str = "attention", dropout: float = 0.1) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.pooling = pooling
        self.norm = nn.LayerNorm(hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.attention = nn.Linear(hidden_size, N_ITEMS)
        self.item_weight = nn.Parameter(torch.randn(N_ITEMS, hidden_size) * hidden_size**-0.5)
        self.item_bias = nn.Parameter(torch.zeros(N_ITEMS))

    @torch.no_grad()
    def init_item_bias(self, item_means: torch.Tensor) -> None:
        """Start each item at its training mean (9,), so early stopping never keeps an untrained 1.5."""
        p = (item_means / ITEM_MAX).clamp(0.02, 0.98)
        self.item_bias.copy_(torch.log(p / (1 - p)))

    def forward(self, chunks: torch.Tensor, chunk_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """chunks (B, C, H), chunk_mask (B, C) bool -> items (B, 9) in [0, 3], weights (B, C, 9)."""
        h = self.dropout(self.norm(chunks))  # (B, C, H)
        if self.pooling == "attention":
            scores = self.attention(h)  # (B, C, 9)
        else:
            scores = torch.zeros(*h.shape[:2], N_ITEMS, device=h.device, dtype=h.dtype)
        scores = scores.masked_fill(~chunk_mask.unsqueeze(-1), float("-inf"))
        weights = torch.softmax(scores, dim=1)  # (B, C, 9)
        weights = torch.nan_to_num(weights)  # a window with no chunk at all gets zero weights
        pooled = torch.einsum("bci,bch->bih", weights, h)  # (B, 9, H)
        logits = (pooled * self.item_weight).sum(-1) + self.item_bias  # (B, 9)
        return ITEM_MAX * torch.sigmoid(logits), weights


def phq9_loss(
    items: torch.Tensor,
    target_items: torch.Tensor,
    has_items: torch.Tensor,
    target_total: torch.Tensor,
    sample_weight: torch.Tensor,
) -> torch.Tensor:
    """Loss for targets that carry 9 items, or only a total.

    items, target_items (B, 9); has_items (B,) bool; target_total, sample_weight (B,).
    The total error is divided by 3 so both terms are on the per-item scale.
    """
    total_err = ((items.sum(-1) - target_total) / 3.0) ** 2  # (B,)
    item_err = ((items - target_items) ** 2).mean(-1) * has_items.to(items.dtype)  # (B,)
    per_sample = total_err + item_err
    return (per_sample * sample_weight).sum() / sample_weight.sum().clamp(min=1e-8)
