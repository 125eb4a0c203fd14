"""Training one ensemble member end to end: LoRA adapters on the backbone ("lora") or every backbone
weight ("full"), with the item heads, on a step budget; gradients accumulated over micro-batches that fit
the GPU (training/plan.py), sharded with FSDP inside a torch.distributed job (training/distributed.py);
and the precision and micro-batch a run trains with on its device."""

from __future__ import annotations

import copy
import json
import logging
import math
import random
import shutil
from pathlib import Path

import torch
from torch import nn

from scoring.backbone import LORA_ALL_LINEAR, Backbone
from scoring.model import ItemHeads
from scoring.types import LabeledWindow
from scoring.windowing import Chunk
from training.args import TrainArgs
from training.members import MemberTraining, Targets, set_seed, window_mae
from training.plan import make_plan, micro_batches, require_fit

log = logging.getLogger(__name__)


def take_pretrained_member(sources: list[Path], m: int, seed: int, args: TrainArgs, member_dir: Path) -> int:
    """Copy member `m` trained by training.distributed into `member_dir`; checks that it is a LoRA member
    trained with this member's seed. Returns the number of processes that trained it."""
    if args.mode != "lora":
        raise ValueError("distributed members are LoRA members: set mode = lora")
    if m >= len(sources):
        raise ValueError(f"{len(sources)} trained member(s) given for more members: train member {m} too")
    source = sources[m]
    try:
        info = json.loads((source / "member.json").read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{source}: no member.json; train it with torchrun -m training.distributed") from exc
    if info.get("seed") != seed:
        raise ValueError(
            f"{source} was trained with seed {info.get('seed')}, member {m} needs {seed}: "
            f"train it with --member {m}"
        )
    shutil.copytree(source / "adapter", member_dir / "adapter")
    shutil.copy2(source / "heads.safetensors", member_dir / "heads.safetensors")
    return int(info.get("world_size", 1))


def base_dtype(args: TrainArgs, device: torch.device) -> torch.dtype | None:
    """On a GPU the frozen base is held in bf16 (LoRA weights stay fp32 masters, peft's default); full
    fine-tuning trains fp32 weights; on a CPU, fp32."""
    return torch.bfloat16 if device.type == "cuda" and args.mode != "full" else None


def fitting_micro_batch(backbone: Backbone, args: TrainArgs, device: torch.device) -> int:
    """End-to-end training on a GPU: the memory plan of this backbone and configuration
    (training/plan.py) for the device's memory; refused, with the plan in the message, when it cannot
    fit. Returns the micro-batch in tokens (`args.micro_batch_tokens` if set, else the plan's largest);
    0 elsewhere (heads mode, CPU: one pass per step unless `args.micro_batch_tokens` says otherwise)."""
    if args.mode == "heads" or device.type != "cuda":
        return args.micro_batch_tokens
    targets = tuple(args.lora_target_modules) or "all-linear"
    plan = make_plan(
        backbone.backbone_id,
        config=backbone.module.config,
        mode=args.mode,
        gpu_memory=torch.cuda.get_device_properties(device).total_memory,
        seq_len=args.max_tokens,
        lora_rank=args.lora_r,
        lora_targets=targets,
        gradient_checkpointing=True,
    )
    require_fit(plan)
    log.info("training plan: %s", plan.why)
    return args.micro_batch_tokens or plan.micro_batch_tokens


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
    batch's weight: the summed gradients equal the full batch's (tests/training/test_end_to_end.py).

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
    backbone: Backbone, chunked: list[list[Chunk]], job: MemberTraining, *, micro_batch_tokens: int = 0
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
    targets, train_idx, args, seed, device = job.targets, job.train_idx, job.args, job.seed, job.device
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
    watch = job.val_idx or train_idx
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
                mae = _validation_mae(model, clipped, watch, job.examples, args, pad, device)
                if mae < best - 1e-4:
                    best, stale = mae, 0
                    best_state = trainable_state(model)
                else:
                    stale += 1
            job.progress("train", step / total_steps)
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
