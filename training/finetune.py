"""Train an ensemble of PHQ-9 regressors on labeled windows and write a model artifact.

Entry point: `train_ensemble(examples, TrainArgs(...), store_dir)`. Three ways to train a member:
- "heads": backbone frozen; chunk vectors computed once, then only pooling + item heads learn
  (seconds on a CPU; the default for the starter model);
- "lora": peft LoRA adapters on the backbone, trained end to end with the heads;
- "full": every backbone weight trained (small encoders only).
Splits are by patient (`LabeledWindow.group`), never by window. The validation patients drive early
stopping and the split-conformal interval, and give the metrics written to the manifest.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import random
import shutil
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file, save_model
from torch import nn

from scoring.artifact import FORMAT, code_version, write_manifest
from scoring.backbone import DEFAULT_BACKBONE, LORA_TARGETS, Backbone, load_backbone
from scoring.bands import band_for
from scoring.calibration import Calibration
from scoring.ensemble import Ensemble, pick_device, token_batches
from scoring.model import POOLINGS, ItemHeads, phq9_loss
from scoring.types import N_ITEMS, LabeledWindow
from scoring.windowing import Chunk, Chunker
from training.metrics import regression_report

log = logging.getLogger(__name__)
MODES = ("heads", "lora", "full")
Progress = Callable[[str, float], None]  # (stage, fraction done)


@dataclass
class TrainArgs:
    backbone: str = field(
        default=DEFAULT_BACKBONE, metadata={"help": "package:..., or a local checkpoint dir"}
    )
    mode: str = field(default="heads", metadata={"help": "heads | lora | full"})
    pooling: str = field(default="attention", metadata={"help": "attention | mean over chunks"})
    max_tokens: int = field(default=256, metadata={"help": "tokens per chunk, special tokens included"})
    members: int = field(default=2, metadata={"help": "ensemble members (different seeds)"})
    epochs: int = field(default=150, metadata={"help": "upper bound; early stopping on validation MAE"})
    patience: int = field(default=25, metadata={"help": "epochs without validation improvement"})
    learning_rate: float = field(default=0.0, metadata={"help": "0 = per-mode default"})
    weight_decay: float = 0.01
    batch_size: int = 16
    dropout: float = 0.1
    val_fraction: float = field(default=0.2, metadata={"help": "share of patients held out"})
    coverage: float = field(default=0.8, metadata={"help": "target coverage of the prediction interval"})
    balance_bands: bool = field(default=True, metadata={"help": "weight samples by inverse band frequency"})
    max_chunks_per_window: int = field(
        default=48, metadata={"help": "most recent chunks kept in e2e training"}
    )
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_target_modules: tuple[str, ...] = ()
    gradient_checkpointing: bool = False
    device: str = "auto"
    seed: int = 13
    batch_tokens: int = 16384

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if self.members < 1:
            raise ValueError("members must be at least 1")
        if not 0 <= self.val_fraction < 1:
            raise ValueError("val_fraction must lie in [0, 1)")
        if self.epochs < 1 or self.batch_size < 1 or self.max_tokens < 16:
            raise ValueError("epochs and batch_size must be >= 1, max_tokens >= 16")
        if self.learning_rate == 0.0:
            self.learning_rate = {"heads": 3e-3, "lora": 3e-4, "full": 5e-5}[self.mode]


@dataclass
class TrainResult:
    artifact_dir: Path
    version: str
    metrics: dict
    manifest: dict


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def split_by_group(
    examples: list[LabeledWindow], *, val_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Indices of train and validation examples; a patient's windows all land on one side."""
    groups = sorted({e.group or e.window.id for e in examples})
    random.Random(seed).shuffle(groups)
    n_val = math.ceil(len(groups) * val_fraction) if len(groups) > 1 and val_fraction > 0 else 0
    val_groups = set(groups[:n_val])
    train = [i for i, e in enumerate(examples) if (e.group or e.window.id) not in val_groups]
    val = [i for i, e in enumerate(examples) if (e.group or e.window.id) in val_groups]
    return train, val


def band_weights(examples: list[LabeledWindow]) -> list[float]:
    """Inverse band frequency, mean 1: keeps the model from collapsing onto the commonest band."""
    bands = [band_for(e.total).key for e in examples]
    counts = {b: bands.count(b) for b in set(bands)}
    raw = [e.weight * len(examples) / (len(counts) * counts[b]) for e, b in zip(examples, bands, strict=True)]
    mean = sum(raw) / len(raw)
    return [w / mean for w in raw]


class _Targets:
    def __init__(self, examples: list[LabeledWindow], weights: list[float]) -> None:
        self.total = torch.tensor([e.total for e in examples], dtype=torch.float32)  # (N,)
        self.items = torch.tensor(
            [e.items or (0.0,) * N_ITEMS for e in examples], dtype=torch.float32
        )  # (N, 9)
        self.has_items = torch.tensor([e.items is not None for e in examples])  # (N,)
        self.weight = torch.tensor(weights, dtype=torch.float32)  # (N,)

    def item_means(self, idx: list[int]) -> torch.Tensor:
        """(9,) mean item scores of these examples; totals spread evenly where items are missing."""
        rows = torch.tensor(idx)
        spread = self.total[rows].unsqueeze(-1).expand(-1, N_ITEMS) / N_ITEMS  # (N, 9)
        items = torch.where(self.has_items[rows].unsqueeze(-1), self.items[rows], spread)
        return items.mean(0)

    def loss(self, items: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        dev = items.device
        return phq9_loss(
            items,
            self.items[idx].to(dev),
            self.has_items[idx].to(dev),
            self.total[idx].to(dev),
            self.weight[idx].to(dev),
        )


def _mae(pred_items: torch.Tensor, examples: list[LabeledWindow]) -> float:
    totals = pred_items.sum(-1).tolist()
    return (
        float(np.mean([abs(p - e.total) for p, e in zip(totals, examples, strict=True)])) if examples else 0.0
    )


# ---- "heads": frozen backbone ---------------------------------------------------------------------
def _embed_all(
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


def _stack(
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


def _train_heads(
    h: torch.Tensor,
    mask: torch.Tensor,
    targets: _Targets,
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
        mae = _mae(items.cpu(), [examples[i] for i in watch])
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
def _prepare_module(base: nn.Module, args: TrainArgs, kind: str) -> nn.Module:
    module = copy.deepcopy(base)
    if args.mode == "lora":
        from peft import LoraConfig, get_peft_model

        targets = list(args.lora_target_modules or LORA_TARGETS[kind])
        config = LoraConfig(
            r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout, target_modules=targets
        )
        module = get_peft_model(module, config)
    if args.gradient_checkpointing and hasattr(module, "gradient_checkpointing_enable"):
        module.gradient_checkpointing_enable()  # type: ignore[operator]
    return module


def _forward_windows(
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


def _train_end_to_end(
    backbone: Backbone,
    chunked: list[list[Chunk]],
    targets: _Targets,
    train_idx: list[int],
    val_idx: list[int],
    examples: list[LabeledWindow],
    args: TrainArgs,
    seed: int,
    device: torch.device,
    progress: Progress,
) -> tuple[ItemHeads, nn.Module]:
    set_seed(seed)
    module = _prepare_module(backbone.module, args, backbone.kind).to(device)
    heads = ItemHeads(backbone.hidden_size, pooling=args.pooling, dropout=args.dropout)
    heads.init_item_bias(targets.item_means(train_idx))
    heads.to(device)
    params = [p for p in module.parameters() if p.requires_grad] + list(heads.parameters())
    optimizer = torch.optim.AdamW(params, lr=args.learning_rate, weight_decay=args.weight_decay)
    # Keep each window's most recent chunks so one step fits in memory.
    clipped = [cs[-args.max_chunks_per_window :] or cs for cs in chunked]
    watch = val_idx or train_idx
    best, stale = math.inf, 0
    best_state = (copy.deepcopy(heads.state_dict()), _trainable_state(module))
    for epoch in range(args.epochs):
        module.train()
        heads.train()
        order = list(train_idx)
        random.Random(seed + epoch).shuffle(order)
        for start in range(0, len(order), args.batch_size):
            batch = order[start : start + args.batch_size]
            items = _forward_windows(backbone, module, heads, [clipped[i] for i in batch], device)
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
                    _forward_windows(
                        backbone, module, heads, [clipped[i] for i in watch[s : s + args.batch_size]], device
                    )
                    for s in range(0, len(watch), args.batch_size)
                ]
            ).cpu()
        mae = _mae(preds, [examples[i] for i in watch])
        if mae < best - 1e-4:
            best, stale = mae, 0
            best_state = (copy.deepcopy(heads.state_dict()), _trainable_state(module))
        else:
            stale += 1
        progress("train", (epoch + 1) / args.epochs)
        if stale >= args.patience:
            break
    heads.load_state_dict(best_state[0])
    module.load_state_dict(best_state[1], strict=False)
    return heads.eval(), module.eval()


def _trainable_state(module: nn.Module) -> dict[str, torch.Tensor]:
    names = {n for n, p in module.named_parameters() if p.requires_grad}
    return {k: v.detach().clone() for k, v in module.state_dict().items() if k in names}


# ---- the whole thing ----------------------------------------------------------------------------------
def train_ensemble(
    examples: list[LabeledWindow],
    args: TrainArgs,
    store_dir: Path,
    *,
    backbone: Backbone | None = None,
    data_summary: dict | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train `args.members` members, calibrate, evaluate on validation patients, write the artifact.

    `backbone` overrides `args.backbone` with a module built in memory (tests use tiny random ones);
    it is then saved inside the artifact. The artifact appears in `store_dir` only when complete.
    """
    if len(examples) < 2:
        raise ValueError(f"need at least 2 labeled windows to train, got {len(examples)}")
    report = progress or (lambda stage, fraction: None)
    set_seed(args.seed)
    device = pick_device(args.device)
    if backbone is None:
        backbone = load_backbone(args.backbone)
    chunker = Chunker(backbone.tokenizer, max_tokens=args.max_tokens, kind=backbone.kind)
    chunked = chunker.chunk_windows([e.window for e in examples])
    train_idx, val_idx = split_by_group(examples, val_fraction=args.val_fraction, seed=args.seed)
    weights = band_weights(examples) if args.balance_bands else [e.weight for e in examples]
    targets = _Targets(examples, weights)

    version = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    store_dir.mkdir(parents=True, exist_ok=True)
    tmp = store_dir / f".tmp-{version}"
    final = store_dir / version
    try:
        backbone.tokenizer.save_pretrained(tmp / "tokenizer")
        backbone_id = backbone.backbone_id
        if backbone_id.startswith("artifact:"):
            backbone.module.save_pretrained(tmp / backbone_id.removeprefix("artifact:"))  # type: ignore[operator]
        if args.mode == "heads":
            report("embed", 0.0)
            vectors = _embed_all(backbone, [c for cs in chunked for c in cs], device, args.batch_tokens)
            h, mask = _stack(chunked, vectors, backbone.hidden_size)
        members = []
        for m in range(args.members):
            name, seed = f"m{m}", args.seed + 1000 * m

            def member_progress(stage: str, fraction: float, m: int = m) -> None:
                report(stage, (m + fraction) / args.members)

            member_dir = tmp / "members" / name
            member_dir.mkdir(parents=True)
            if args.mode == "heads":
                heads = _train_heads(
                    h, mask, targets, train_idx, val_idx, examples, args, seed, device, member_progress
                )
            else:
                heads, module = _train_end_to_end(
                    backbone,
                    chunked,
                    targets,
                    train_idx,
                    val_idx,
                    examples,
                    args,
                    seed,
                    device,
                    member_progress,
                )
                if args.mode == "lora":
                    module.save_pretrained(str(member_dir / "adapter"))  # type: ignore[operator]
                else:
                    save_model(module, str(member_dir / "backbone.safetensors"))
            save_file(
                {k: v.contiguous() for k, v in heads.state_dict().items()},
                str(member_dir / "heads.safetensors"),
            )
            members.append({"name": name, "mode": args.mode, "trained_on": "ground_truth", "seed": seed})

        manifest = {
            "format": FORMAT,
            "version": version,
            "created_at": datetime.now(UTC).isoformat(),
            "backbone": {
                "id": backbone_id,
                "kind": backbone.kind,
                "model_type": backbone.model_type,
                "hidden_size": backbone.hidden_size,
            },
            "pooling": args.pooling,
            "max_tokens": args.max_tokens,
            "members": members,
            "calibration": Calibration.fit([], coverage=args.coverage).to_dict(),  # replaced below
            "training_args": asdict(args),
            "training_data": {
                "windows": len(examples),
                "patients": len({e.group for e in examples}),
                "train_windows": len(train_idx),
                "validation_windows": len(val_idx),
                "with_items": sum(e.items is not None for e in examples),
                "sources": sorted({e.source for e in examples}),
                **(data_summary or {}),
            },
            "code_version": code_version(),
        }
        write_manifest(tmp, manifest)

        # Calibrate and evaluate through the artifact itself, exactly as scoring will load it.
        report("evaluate", 0.0)
        ensemble = Ensemble.load(tmp, device=str(device))
        held = val_idx or train_idx
        scores = ensemble.predict([examples[i].window for i in held])
        residuals = [s.total - examples[i].total for s, i in zip(scores, held, strict=True)]
        calibration = Calibration.fit(residuals, coverage=args.coverage)
        manifest["calibration"] = calibration.to_dict()
        metrics = regression_report(
            [examples[i].total for i in held],
            [s.total for s in scores],
            intervals=[calibration.interval(s.total) for s in scores],
            items_true=[examples[i].items for i in held],
            items_pred=[s.items for s in scores],
        )
        metrics["evaluated_on"] = (
            "validation patients" if val_idx else "training patients (too few patients to hold out)"
        )
        metrics["interval_method"] = f"split-conformal, target coverage {args.coverage:.0%}"
        manifest["metrics"] = metrics
        write_manifest(tmp, manifest)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report("done", 1.0)
    log.info(
        "trained %s: %s", version, json.dumps({k: metrics.get(k) for k in ("n", "mae", "rmse", "auc_at_10")})
    )
    return TrainResult(artifact_dir=final, version=version, metrics=metrics, manifest=manifest)
