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

from scoring.backbone import LORA_ALL_LINEAR, Backbone
from scoring.ensemble import token_batches
from scoring.model import ItemHeads, phq9_loss
from scoring.phq9 import N_ITEMS, band_for
from scoring.types import LabeledWindow, Window
from scoring.windowing import Chunk
from training.args import TrainArgs
from training.plan import micro_batches

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
    saving the adapter); full fine-tuning trains a copy, so the base stays intact for other members,
    and is refused for a decoder above `full_max_parameters` (that copy and its optimizer state would
    need ~18 bytes a parameter: use LoRA)."""
    if args.mode == "full":
        n = sum(p.numel() for p in base.parameters())
        if kind == "decoder" and n > args.full_max_parameters:
            raise ValueError(
                f"full fine-tuning of a {n / 1e9:.1f}B-parameter decoder is refused (full_max_parameters "
                f"{args.full_max_parameters / 1e9:.1f}B, TRAINING_FULL_MAX_PARAMETERS): train with mode=lora"
            )
    module = copy.deepcopy(base) if args.mode == "full" else base
    if args.mode == "lora":
        from peft import LoraConfig, get_peft_model

        targets = list(args.lora_target_modules) if args.lora_target_modules else LORA_ALL_LINEAR
        config = LoraConfig(
            r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout, target_modules=targets
        )
        # peft keeps the adapter weights in fp32 beside a bf16 base (autocast_adapter_dtype): fp32 masters.
        module = get_peft_model(module, config)
    # On a GPU, decoders always checkpoint activations: memory, not compute, limits their batch.
    checkpointing = args.gradient_checkpointing or (device.type == "cuda" and kind == "decoder")
    if checkpointing:
        enable_checkpointing(module)
    return module


def enable_checkpointing(module: nn.Module) -> None:
    """Activation checkpointing per layer (transformers 5 names it activation_checkpointing_enable)."""
    enable = getattr(module, "activation_checkpointing_enable", None) or getattr(
        module, "gradient_checkpointing_enable", None
    )
    if callable(enable):
        enable()


def window_token_cost(chunks: list[Chunk]) -> int:
    """Tokens one window puts through the backbone (its chunks, as long as the longest: padded)."""
    return len(chunks) * max((len(c) for c in chunks), default=0)


def accumulated_backward(
    model: EndToEnd,
    chunked: list[list[Chunk]],
    targets: Targets,
    batch: list[int],
    device: torch.device,
    micro_batch_tokens: int,
    *,
    pad: int = 0,
    rank: int = 0,
    world: int = 1,
) -> float:
    """Gradients of one optimiser step's loss over `batch` (window indices into `chunked`), computed in
    micro-batches of at most `micro_batch_tokens` backbone tokens (a longer window goes alone; 0 = one
    pass). The loss is a weighted mean, so each micro-batch's loss is scaled by its share of the whole
    batch's weight: the summed gradients equal the full batch's (tests/training/test_members.py).

    Under FSDP (`world` > 1) each rank takes every world-th window of the batch; its losses keep their
    share of the whole batch's weight and are multiplied by `world`, undoing FSDP's gradient average, so
    the update is the single-process one. Every rank runs as many micro-batches as the busiest (an idle
    one runs a pass with zero weight), since each pass gathers parameters from all ranks. Returns this
    rank's part of the loss."""
    total_weight = float(targets.weight[torch.tensor(batch)].sum().clamp(min=1e-8))
    mine = batch[rank::world]
    budget = micro_batch_tokens or sum(window_token_cost(chunked[i]) for i in mine) or 1
    groups = [
        [mine[g] for g in group]
        for group in micro_batches([window_token_cost(chunked[i]) for i in mine], budget)
    ]
    if world > 1:
        import torch.distributed as dist

        most = torch.tensor([len(groups)])
        dist.all_reduce(most, op=dist.ReduceOp.MAX)
        groups += [[]] * (int(most) - len(groups))
    loss_sum = 0.0
    for idx in groups:
        share = float(targets.weight[torch.tensor(idx)].sum()) / total_weight if idx else 0.0
        run = idx or [batch[0]]  # an idle rank's pass: any window, zero weight
        items = forward_windows(model, [chunked[i] for i in run], pad, device)
        loss = targets.loss(items, torch.tensor(run)) * (share * world)
        loss.backward()
        loss_sum += float(loss.detach()) / world
    return loss_sum


def warmup_cosine(step: int, *, total: int, warmup: int) -> float:
    """Learning-rate factor: linear warm-up over `warmup` steps, then cosine decay to 0 at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class EndToEnd(nn.Module):
    """The backbone (or its LoRA / full variant) and the item heads as one module: chunk token ids in,
    item scores out. One forward through it is what FSDP gathers around (training/distributed.py)."""

    def __init__(self, backbone: Backbone, module: nn.Module, heads: ItemHeads) -> None:
        super().__init__()
        self.module = module
        self.heads = heads
        self._pool = backbone.pool  # a bound method, not a submodule

    def forward(self, ids: torch.Tensor, attn: torch.Tensor, chunk_counts: list[int]) -> torch.Tensor:
        device = ids.device
        autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if device.type == "cuda"
            else torch.autocast("cpu", enabled=False)
        )
        with autocast:
            vectors = self._pool(self.module, ids, attn).float()  # (N, H)
        n_chunks = max(chunk_counts)
        h = vectors.new_zeros((len(chunk_counts), n_chunks, vectors.size(-1)))  # (B, C, H)
        mask = torch.zeros((len(chunk_counts), n_chunks), dtype=torch.bool, device=device)  # (B, C)
        pos = 0
        for row, count in enumerate(chunk_counts):
            h[row, :count] = vectors[pos : pos + count]
            mask[row, :count] = True
            pos += count
        items, _ = self.heads(h, mask)
        return items


def forward_windows(
    model: EndToEnd, chunked: list[list[Chunk]], pad: int, device: torch.device
) -> torch.Tensor:
    """Item scores (B, 9) of these windows, each given as its chunks."""
    flat = [c for cs in chunked for c in cs]
    width = max(len(c) for c in flat)
    ids = torch.full((len(flat), width), pad, dtype=torch.long)  # (N, T)
    attn = torch.zeros((len(flat), width), dtype=torch.long)  # (N, T)
    for row, chunk in enumerate(flat):
        ids[row, : len(chunk)] = torch.tensor(chunk.token_ids)
        attn[row, : len(chunk)] = 1
    return model(ids.to(device), attn.to(device), [len(cs) for cs in chunked])


def world() -> tuple[int, int]:
    """(rank, world size) of a torchrun / torch.distributed job; (0, 1) otherwise."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


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
    *,
    micro_batch_tokens: int = 0,
) -> tuple[ItemHeads, nn.Module]:
    """LoRA / full fine-tuning on a step budget (`args.steps` optimiser steps of `args.batch_size`
    windows, linear warm-up then cosine decay), each step's gradient accumulated over micro-batches of
    at most `micro_batch_tokens` tokens (0 = `args.micro_batch_tokens`, else the whole step at once);
    validation every `args.eval_every` steps (0: once per pass over the data), the best state kept,
    stopped after `args.patience` evaluations without improvement.

    Inside a torch.distributed job of several processes the model is sharded with FSDP (every decoder
    layer, then the rest: training/distributed.py) and each step's windows are shared out (see
    accumulated_backward); the returned module then holds sharded parameters (read them with
    `full_trainable_state`)."""
    set_seed(seed)
    module = prepare_module(backbone.module, args, backbone.kind, device).to(device)
    heads = ItemHeads(backbone.hidden_size, pooling=args.pooling, dropout=args.dropout)
    heads.init_item_bias(targets.item_means(train_idx))
    heads.to(device)
    model = EndToEnd(backbone, module, heads)
    rank, size = world()
    if size > 1:
        from training.fsdp import shard

        shard(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.learning_rate, weight_decay=args.weight_decay)
    total_steps = args.steps
    warmup = max(1, round(total_steps * args.warmup_fraction))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, total=total_steps, warmup=warmup)
    )
    budget = micro_batch_tokens or args.micro_batch_tokens
    pad = backbone.tokenizer.pad_token_id or 0
    # Keep each window's most recent chunks so one step fits in memory.
    clipped = [cs[-args.max_chunks_per_window :] or cs for cs in chunked]
    watch = val_idx or train_idx
    steps_per_pass = max(1, math.ceil(len(train_idx) / args.batch_size))
    eval_every = args.eval_every or steps_per_pass
    best, stale, step, epoch = math.inf, 0, 0, 0
    best_state = trainable_state(model)
    while step < total_steps and stale < args.patience:
        order = list(train_idx)
        random.Random(seed + epoch).shuffle(order)
        epoch += 1
        for start in range(0, len(order), args.batch_size):
            model.train()
            optimizer.zero_grad()
            batch = order[start : start + args.batch_size]
            accumulated_backward(
                model, clipped, targets, batch, device, budget, pad=pad, rank=rank, world=size
            )
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            if step % eval_every == 0 or step == total_steps:
                mae = _validation_mae(model, clipped, watch, examples, args, pad, device)
                if mae < best - 1e-4:
                    best, stale = mae, 0
                    best_state = trainable_state(model)
                else:
                    stale += 1
            progress("train", step / total_steps)
            if step >= total_steps or stale >= args.patience:
                break
    model.load_state_dict(best_state, strict=False)
    log.info("member seed=%s: %d steps, best validation MAE %.3f", seed, step, best)
    return heads.eval(), module.eval()


def _validation_mae(
    model: EndToEnd,
    clipped: list[list[Chunk]],
    watch: list[int],
    examples: list[LabeledWindow],
    args: TrainArgs,
    pad: int,
    device: torch.device,
) -> float:
    model.eval()
    with torch.no_grad():
        preds = torch.cat(
            [
                forward_windows(model, [clipped[i] for i in watch[s : s + args.batch_size]], pad, device)
                for s in range(0, len(watch), args.batch_size)
            ]
        ).cpu()
    return window_mae(preds, [examples[i] for i in watch])


def trainable_state(module: nn.Module) -> dict[str, torch.Tensor]:
    names = {n for n, p in module.named_parameters() if p.requires_grad}
    return {k: v.detach().clone() for k, v in module.state_dict().items() if k in names}


def full_trainable_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """The trained parameters as whole CPU tensors, also when FSDP holds them sharded (a collective:
    every rank calls it)."""
    state = trainable_state(module)
    return {k: (v.full_tensor() if hasattr(v, "full_tensor") else v).cpu() for k, v in state.items()}
