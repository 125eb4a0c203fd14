"""Training one ensemble member: "heads" on frozen chunk vectors, or LoRA / full fine-tuning end to end."""

from __future__ import annotations

import copy
import logging
import math
import random
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from scoring.backbone import LORA_TARGETS, Backbone
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


def train_heads(
    h: torch.Tensor,
    mask: torch.Tensor,
    targets: Targets,
    train_idx: list[int],
    val_idx: list[int],
    examples: list[LabeledWindow],
    args: TrainArgs,
    seed: int,
    device: torch.device,
    progress: Progress,
) -> ItemHeads:
    set_seed(seed)
    heads = ItemHeads(h.size(-1), pooling=args.pooling, dropout=args.dropout)
    heads.init_item_bias(targets.item_means(train_idx))
    heads.to(device)
    optimizer = torch.optim.AdamW(heads.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    h, mask = h.to(device), mask.to(device)
    fit_idx = torch.tensor(train_idx)
    watch = val_idx or train_idx  # with no validation patients, early stopping watches the training fit
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
        mae = window_mae(items.cpu(), [examples[i] for i in watch])
        if mae < best - 1e-4:
            best, best_state, stale = mae, copy.deepcopy(heads.state_dict()), 0
        else:
            stale += 1
        progress("train", (epoch + 1) / args.epochs)
        if stale >= args.patience:
            break
    heads.load_state_dict(best_state)
    log.info("member seed=%s: best validation MAE %.3f", seed, best)
    return heads.eval()


# ---- "lora" / "full": end to end --------------------------------------------------------------------
def prepare_module(base: nn.Module, args: TrainArgs, kind: str, device: torch.device) -> nn.Module:
    """LoRA wraps the base in place (no second copy of a large model; the caller unloads it after
    saving the adapter); full fine-tuning trains a copy, so the base stays intact for other members."""
    module = copy.deepcopy(base) if args.mode == "full" else base
    if args.mode == "lora":
        from peft import LoraConfig, get_peft_model

        targets = list(args.lora_target_modules or LORA_TARGETS[kind])
        config = LoraConfig(
            r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout, target_modules=targets
        )
        module = get_peft_model(module, config)
    # On a GPU, decoders always checkpoint activations: memory, not compute, limits their batch.
    checkpointing = args.gradient_checkpointing or (device.type == "cuda" and kind == "decoder")
    if checkpointing and hasattr(module, "gradient_checkpointing_enable"):
        module.gradient_checkpointing_enable()  # type: ignore[operator]
    return module


def forward_windows(
    backbone: Backbone,
    module: nn.Module,
    heads: ItemHeads,
    chunked: list[list[Chunk]],
    device: torch.device,
) -> torch.Tensor:
    flat = [c for cs in chunked for c in cs]
    pad = backbone.tokenizer.pad_token_id or 0
    width = max(len(c) for c in flat)
    ids = torch.full((len(flat), width), pad, dtype=torch.long)  # (N, T)
    attn = torch.zeros((len(flat), width), dtype=torch.long)  # (N, T)
    for row, chunk in enumerate(flat):
        ids[row, : len(chunk)] = torch.tensor(chunk.token_ids)
        attn[row, : len(chunk)] = 1
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda"
        else torch.autocast("cpu", enabled=False)
    )
    with autocast:
        vectors = backbone.pool(module, ids.to(device), attn.to(device)).float()  # (N, H)
    n_chunks = max(len(cs) for cs in chunked)
    h = vectors.new_zeros((len(chunked), n_chunks, vectors.size(-1)))  # (B, C, H)
    mask = torch.zeros((len(chunked), n_chunks), dtype=torch.bool, device=device)  # (B, C)
    pos = 0
    for row, cs in enumerate(chunked):
        h[row, : len(cs)] = vectors[pos : pos + len(cs)]
        mask[row, : len(cs)] = True
        pos += len(cs)
    items, _ = heads(h, mask)
    return items


def train_end_to_end(
    backbone: Backbone,
    chunked: list[list[Chunk]],
    targets: Targets,
    train_idx: list[int],
    val_idx: list[int],
    examples: list[LabeledWindow],
    args: TrainArgs,
    seed: int,
    device: torch.device,
    progress: Progress,
) -> tuple[ItemHeads, nn.Module]:
    set_seed(seed)
    module = prepare_module(backbone.module, args, backbone.kind, device).to(device)
    heads = ItemHeads(backbone.hidden_size, pooling=args.pooling, dropout=args.dropout)
    heads.init_item_bias(targets.item_means(train_idx))
    heads.to(device)
    params = [p for p in module.parameters() if p.requires_grad] + list(heads.parameters())
    optimizer = torch.optim.AdamW(params, lr=args.learning_rate, weight_decay=args.weight_decay)
    # Keep each window's most recent chunks so one step fits in memory.
    clipped = [cs[-args.max_chunks_per_window :] or cs for cs in chunked]
    watch = val_idx or train_idx
    best, stale = math.inf, 0
    best_state = (copy.deepcopy(heads.state_dict()), trainable_state(module))
    for epoch in range(args.epochs):
        module.train()
        heads.train()
        order = list(train_idx)
        random.Random(seed + epoch).shuffle(order)
        for start in range(0, len(order), args.batch_size):
            batch = order[start : start + args.batch_size]
            items = forward_windows(backbone, module, heads, [clipped[i] for i in batch], device)
            loss = targets.loss(items, torch.tensor(batch))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
        module.eval()
        heads.eval()
        with torch.no_grad():
            preds = torch.cat(
                [
                    forward_windows(
                        backbone, module, heads, [clipped[i] for i in watch[s : s + args.batch_size]], device
                    )
                    for s in range(0, len(watch), args.batch_size)
                ]
            ).cpu()
        mae = window_mae(preds, [examples[i] for i in watch])
        if mae < best - 1e-4:
            best, stale = mae, 0
            best_state = (copy.deepcopy(heads.state_dict()), trainable_state(module))
        else:
            stale += 1
        progress("train", (epoch + 1) / args.epochs)
        if stale >= args.patience:
            break
    heads.load_state_dict(best_state[0])
    module.load_state_dict(best_state[1], strict=False)
    return heads.eval(), module.eval()


def trainable_state(module: nn.Module) -> dict[str, torch.Tensor]:
    names = {n for n, p in module.named_parameters() if p.requires_grad}
    return {k: v.detach().clone() for k, v in module.state_dict().items() if k in names}
