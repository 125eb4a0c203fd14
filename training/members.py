"""Training one ensemble member: what both kinds share (targets, seed, `MemberTraining`, assembled windows)
and the "heads" kind on frozen chunk vectors. LoRA / full fine-tuning end to end: training/end_to_end.py."""

from __future__ import annotations

import copy
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from scoring.backbone import Backbone
from scoring.ensemble import token_batches
from scoring.model import ItemHeads, phq9_loss
from scoring.phq9 import N_ITEMS, band_for
from scoring.types import LabeledWindow, Window
from scoring.windowing import Chunk
from training.args import TrainArgs

log = logging.getLogger(__name__)
Progress = Callable[[str, float], None]  # (stage, fraction done)


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Targets:
    def __init__(self, examples: list[LabeledWindow], weights: list[float]) -> None:
        self.total = torch.tensor([e.total for e in examples], dtype=torch.float32)  # (N,)
        self.items = torch.tensor(
            [e.items or (0.0,) * N_ITEMS for e in examples], dtype=torch.float32
        )  # (N, 9)
        self.has_items = torch.tensor([e.items is not None for e in examples])  # (N,)
        self.weight = torch.tensor(weights, dtype=torch.float32)  # (N,)

    def item_targets(self, idx: list[int]) -> torch.Tensor:
        """(N, 9) item targets of these examples; totals spread evenly where items are missing."""
        rows = torch.tensor(idx, dtype=torch.long)
        spread = self.total[rows].unsqueeze(-1).expand(-1, N_ITEMS) / N_ITEMS  # (N, 9)
        return torch.where(self.has_items[rows].unsqueeze(-1), self.items[rows], spread)

    def item_means(self, idx: list[int]) -> torch.Tensor:
        """(9,) mean item scores of these examples; totals spread evenly where items are missing."""
        return self.item_targets(idx).mean(0)

    def loss(self, items: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        dev = items.device
        return phq9_loss(
            items,
            self.items[idx].to(dev),
            self.has_items[idx].to(dev),
            self.total[idx].to(dev),
            self.weight[idx].to(dev),
        )


def band_weights(examples: list[LabeledWindow]) -> list[float]:
    """Inverse band frequency, mean 1: keeps the model from collapsing onto the commonest band."""
    bands = [band_for(e.total).key for e in examples]
    counts = {b: bands.count(b) for b in set(bands)}
    raw = [e.weight * len(examples) / (len(counts) * counts[b]) for e, b in zip(examples, bands, strict=True)]
    mean = sum(raw) / len(raw)
    return [w / mean for w in raw]


@dataclass(frozen=True)
class MemberTraining:
    """What a member trainer learns from and how, the same for both kinds (`train_heads` on chunk
    vectors, `training.end_to_end.train_end_to_end` on the backbone): indices point into `examples`."""

    examples: list[LabeledWindow]
    targets: Targets
    train_idx: list[int]
    val_idx: list[int]  # the early-stopping windows
    args: TrainArgs
    seed: int
    device: torch.device
    progress: Progress


def window_mae(pred_items: torch.Tensor, examples: list[LabeledWindow]) -> float:
    totals = pred_items.sum(-1).tolist()
    return (
        float(np.mean([abs(p - e.total) for p, e in zip(totals, examples, strict=True)])) if examples else 0.0
    )


ASSEMBLED_GROUP = "assembled"  # the group of assembled windows (never a validation patient)


def assemble_windows(
    examples: list[LabeledWindow],
    chunked: list[list[Chunk]],
    train_idx: list[int],
    *,
    per_window: float,
    max_chunks: int,
    seed: int,
) -> tuple[list[LabeledWindow], list[list[Chunk]]]:
    """Multi-chunk training windows assembled from 2-8 training windows of one band, labelled with their
    mean, so the pooling over chunks learns from windows as long as a fortnight of chat even when the
    training data are single posts (a public dataset). Only `train_idx` windows are used: no text of a
    validation patient enters training this way. `per_window` assembled windows per training window."""
    rng = random.Random(seed)
    by_band: dict[str, list[int]] = {}
    for i in train_idx:
        if chunked[i]:
            by_band.setdefault(band_for(examples[i].total).key, []).append(i)
    pools = [pool for pool in by_band.values() if len(pool) >= 2]
    wanted = round(per_window * len(train_idx)) if pools else 0
    made: list[LabeledWindow] = []
    made_chunks: list[list[Chunk]] = []
    for k in range(wanted):
        pool = pools[k % len(pools)]
        parts = rng.sample(pool, min(len(pool), rng.randint(2, 8)))
        chunks = [c for i in parts for c in chunked[i]][-max_chunks:]
        rows = [examples[i].items for i in parts]
        items = (
            tuple(sum(row[j] for row in rows if row is not None) / len(rows) for j in range(N_ITEMS))
            if all(row is not None for row in rows)
            else None
        )
        made.append(
            LabeledWindow(
                window=Window(id=f"assembled-{k}", conversations=()),
                total=sum(examples[i].total for i in parts) / len(parts),
                items=items,
                group=ASSEMBLED_GROUP,
                weight=sum(examples[i].weight for i in parts) / len(parts),
                source="assembled",
                meta={"parts": [examples[i].window.id for i in parts]},
            )
        )
        made_chunks.append(chunks)
    return made, made_chunks


# ---- "heads": frozen backbone ---------------------------------------------------------------------
def embed_all(
    backbone: Backbone, chunks: list[Chunk], device: torch.device, batch_tokens: int
) -> dict[bytes, torch.Tensor]:
    vectors: dict[bytes, torch.Tensor] = {}
    unique = list({c.key: c for c in chunks}.values())
    module = backbone.module.to(device).eval()
    with torch.inference_mode():
        for batch, ids, mask in token_batches(
            unique, batch_tokens=batch_tokens, pad_id=backbone.tokenizer.pad_token_id or 0
        ):
            out = backbone.pool(module, ids.to(device), mask.to(device)).float().cpu()  # (N, H)
            for chunk, vector in zip(batch, out, strict=True):
                vectors[chunk.key] = vector
    return vectors


def stack_windows(
    chunked: list[list[Chunk]], vectors: dict[bytes, torch.Tensor], hidden: int
) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(1, max((len(cs) for cs in chunked), default=1))
    h = torch.zeros((len(chunked), width, hidden))  # (N, C, H)
    mask = torch.zeros((len(chunked), width), dtype=torch.bool)  # (N, C)
    for row, cs in enumerate(chunked):
        for col, chunk in enumerate(cs):
            h[row, col] = vectors[chunk.key]
        mask[row, : len(cs)] = True
    return h, mask


def train_heads(h: torch.Tensor, mask: torch.Tensor, job: MemberTraining) -> ItemHeads:
    """Pooling and item heads on the chunk vectors `h` (N, C, H) of a frozen backbone, `mask` (N, C),
    for `args.epochs` epochs, stopped after `args.patience` epochs without improvement; the best kept."""
    targets, train_idx, args, seed, device = job.targets, job.train_idx, job.args, job.seed, job.device
    set_seed(seed)
    heads = ItemHeads(h.size(-1), pooling=args.pooling, dropout=args.dropout)
    heads.init_item_bias(targets.item_means(train_idx))
    heads.to(device)
    optimizer = torch.optim.AdamW(heads.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    h, mask = h.to(device), mask.to(device)
    fit_idx = torch.tensor(train_idx)
    watch = job.val_idx or train_idx  # with no validation patients, early stopping watches the training fit
    best, best_state, stale = math.inf, copy.deepcopy(heads.state_dict()), 0
    for epoch in range(args.epochs):
        heads.train()
        for batch in fit_idx[torch.randperm(len(fit_idx))].split(args.batch_size):
            items, _ = heads(h[batch], mask[batch])
            loss = targets.loss(items, batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        heads.eval()
        with torch.no_grad():
            items, _ = heads(h[watch], mask[watch])
        mae = window_mae(items.cpu(), [job.examples[i] for i in watch])
        if mae < best - 1e-4:
            best, best_state, stale = mae, copy.deepcopy(heads.state_dict()), 0
        else:
            stale += 1
        job.progress("train", (epoch + 1) / args.epochs)
        if stale >= args.patience:
            break
    heads.load_state_dict(best_state)
    log.info("member seed=%s: best validation MAE %.3f", seed, best)
    return heads.eval()
