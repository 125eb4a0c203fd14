"""Train an ensemble of PHQ-9 regressors on labeled windows and write a model artifact.

Entry point: `train_ensemble(examples, TrainArgs(...), store_dir)`. Three ways to train a member:
- "heads": backbone frozen; chunk vectors computed once, then only pooling + item heads learn
  (seconds on a CPU; the default for the starter model);
- "lora": peft LoRA adapters on the backbone, trained end to end with the heads;
- "full": every backbone weight trained (small encoders only).
Beside them, a lexical member (TF-IDF + ridge over the same turns, scoring/lexical.py) unless
`lexical=False`. Splits are by patient (`LabeledWindow.group`), never by window. The validation
patients are shared out in two: half drive early stopping and fit the blend weights of the members,
the other half fit the split-conformal interval and give the metrics written to the manifest (the
learning loop then evaluates on held-out test patients).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file, save_model

from scoring.artifact import FORMAT, code_version, write_manifest
from scoring.backbone import Backbone, load_backbone
from scoring.calibration import Calibration
from scoring.ensemble import Ensemble, pick_device
from scoring.lexical import LexicalMember
from scoring.phq9 import ITEM_SELF_HARM, band_for
from scoring.types import LabeledWindow
from scoring.windowing import Chunker, InputView
from training.args import TrainArgs
from training.blend import fit_blend
from training.members import (
    Progress,
    Targets,
    assemble_windows,
    embed_all,
    set_seed,
    stack_windows,
    train_end_to_end,
    train_heads,
)
from training.metrics import item9_threshold, regression_report

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemberSet:
    """What one ensemble member learns from: the ground-truth training split plus `extra` windows
    (pseudo-labelled or re-labelled). Validation and calibration always use ground truth only."""

    trained_on: str = "ground_truth"
    extra: tuple[LabeledWindow, ...] = ()


@dataclass
class TrainResult:
    artifact_dir: Path
    version: str
    metrics: dict
    manifest: dict


# Why the model reads the patient's turns only (TrainArgs.turn_roles), recorded in each manifest.
INPUT_CHOICE = (
    "patient turns only (turn_roles) by default: a PHQ-9 score is of the patient's own words; assistant "
    "replies come from another product's model and carry none of the patient's symptoms (in the "
    "synthetic clinic they once leaked the label). Measured 2026-12-02 on the synthetic clinic "
    "(time-ordered split, 5 test patients, 3 seeds): user-only vs user+assistant MAE 3.54 vs 3.33, "
    "r 0.79 vs 0.80, AUC@10 0.89 vs 0.99, no difference these patients can show (README)."
)
ITEM9_TARGET_RECALL = 0.9  # of windows whose self-report item 9 is >= 1, on validation patients


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


def split_validation(examples: list[LabeledWindow], val_idx: list[int]) -> tuple[list[int], list[int]]:
    """(early-stopping, calibration) indices: the validation patients shared out alternately, so the
    patients that chose the epoch are not the ones that size the prediction interval and give the
    validation metrics. With a single validation patient both roles fall to them (said in the manifest)."""
    groups = sorted({examples[i].group or examples[i].window.id for i in val_idx})
    if len(groups) < 2:
        return val_idx, val_idx
    stop_groups = set(groups[0::2])
    stop = [i for i in val_idx if (examples[i].group or examples[i].window.id) in stop_groups]
    calibrate = [i for i in val_idx if (examples[i].group or examples[i].window.id) not in stop_groups]
    return stop, calibrate


def band_weights(examples: list[LabeledWindow]) -> list[float]:
    """Inverse band frequency, mean 1: keeps the model from collapsing onto the commonest band."""
    bands = [band_for(e.total).key for e in examples]
    counts = {b: bands.count(b) for b in set(bands)}
    raw = [e.weight * len(examples) / (len(counts) * counts[b]) for e, b in zip(examples, bands, strict=True)]
    mean = sum(raw) / len(raw)
    return [w / mean for w in raw]


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
    from training.plan import make_plan, require_fit

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


# ---- the whole thing ----------------------------------------------------------------------------------
def train_ensemble(
    examples: list[LabeledWindow],
    args: TrainArgs,
    store_dir: Path,
    *,
    backbone: Backbone | None = None,
    data_summary: dict | None = None,
    progress: Progress | None = None,
    member_sets: list[MemberSet] | None = None,
    vector_cache: dict[bytes, torch.Tensor] | None = None,
    pretrained_members: list[Path] | None = None,
) -> TrainResult:
    """Train the members, calibrate, evaluate on calibration patients, write the artifact.

    Members: `member_sets` when given (one member each), else `args.members` members on ground truth
    that differ only by seed. `vector_cache` (frozen backbone only) keeps chunk vectors across calls
    with the same backbone, as the learning loop's repeated trainings do.
    `backbone` overrides `args.backbone` with a module built in memory (tests use tiny random ones);
    it is then saved inside the artifact. The artifact appears in `store_dir` only when complete.
    `pretrained_members`: LoRA members already trained by `torchrun -m training.distributed` on these
    examples (one directory per member, in order): they are taken as they are, and the rest (lexical
    member, blend, calibration, metrics) is done here.
    """
    if len(examples) < 2:
        raise ValueError(f"need at least 2 labeled windows to train, got {len(examples)}")
    report = progress or (lambda stage, fraction: None)
    set_seed(args.seed)
    device = pick_device(args.device)
    if backbone is None:
        backbone = load_backbone(args.backbone, dtype=base_dtype(args, device))
    micro_batch_tokens = fitting_micro_batch(backbone, args, device)
    if args.whole_window:
        text_config = getattr(backbone.module.config, "text_config", None) or backbone.module.config
        context = int(getattr(text_config, "max_position_embeddings", 0) or 0)
        if context and args.max_tokens > context:
            raise ValueError(
                f"max_tokens {args.max_tokens} is beyond the backbone's context ({context} tokens): lower it"
            )
    view = InputView(roles=args.turn_roles, day_markers=args.day_markers, whole_window=args.whole_window)
    input_manifest = {"max_tokens": args.max_tokens, "input": view.to_dict()}
    chunker = Chunker.for_artifact(backbone.tokenizer, kind=backbone.kind, manifest=input_manifest)
    sets = member_sets or [MemberSet()] * args.members
    chunked = chunker.chunk_windows([e.window for e in examples])
    extra_chunked = [chunker.chunk_windows([e.window for e in ms.extra]) for ms in sets]
    train_idx, val_idx = split_by_group(examples, val_fraction=args.val_fraction, seed=args.seed)
    stop_idx, calibrate_idx = split_validation(examples, val_idx)

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
            every_chunk = [c for group in (chunked, *extra_chunked) for cs in group for c in cs]
            cache = vector_cache if vector_cache is not None else {}
            todo = [c for c in every_chunk if c.key not in cache]
            cache.update(embed_all(backbone, todo, device, args.batch_tokens))
            vectors = cache
        members = []
        for m, member_set in enumerate(sets):
            name, seed = f"m{m}", args.seed + 1000 * m
            combined = examples + list(member_set.extra)
            combined_chunks = chunked + extra_chunked[m]
            # An extra window of a validation patient would let the member learn the text it is early-
            # stopped and calibrated on: such windows are left out of training (counted in the manifest).
            val_groups = {examples[i].group or examples[i].window.id for i in val_idx}
            kept_extra = [
                len(examples) + j
                for j, e in enumerate(member_set.extra)
                if (e.group or e.window.id) not in val_groups
            ]
            member_train = train_idx + kept_extra
            if args.mode == "heads" and args.assemble_windows > 0:
                assembled, assembled_chunks = assemble_windows(
                    combined,
                    combined_chunks,
                    member_train,
                    per_window=args.assemble_windows,
                    max_chunks=args.max_chunks_per_window,
                    seed=seed,
                )
                member_train = member_train + list(range(len(combined), len(combined) + len(assembled)))
                combined, combined_chunks = combined + assembled, combined_chunks + assembled_chunks
            weights = band_weights(combined) if args.balance_bands else [e.weight for e in combined]
            targets = Targets(combined, weights)

            def member_progress(stage: str, fraction: float, m: int = m) -> None:
                report(stage, (m + fraction) / len(sets))

            member_dir = tmp / "members" / name
            member_dir.mkdir(parents=True)
            trained_on = member_set.trained_on
            if pretrained_members is not None:
                world = take_pretrained_member(pretrained_members, m, seed, args, member_dir)
                trained_on += f" (training.distributed, {world} processes)"
            elif args.mode == "heads":
                h, mask = stack_windows(combined_chunks, vectors, backbone.hidden_size)
                heads = train_heads(
                    h, mask, targets, member_train, stop_idx, combined, args, seed, device, member_progress
                )
            else:
                heads, module = train_end_to_end(
                    backbone,
                    combined_chunks,
                    targets,
                    member_train,
                    stop_idx,
                    combined,
                    args,
                    seed,
                    device,
                    member_progress,
                    micro_batch_tokens=micro_batch_tokens,
                )
                if args.mode == "lora":
                    module.save_pretrained(str(member_dir / "adapter"))  # type: ignore[operator]
                    module.unload()  # type: ignore[operator] # the base, without LoRA layers, for the next member
                else:
                    save_model(module, str(member_dir / "backbone.safetensors"))
            if pretrained_members is None:
                save_file(
                    {k: v.contiguous() for k, v in heads.state_dict().items()},
                    str(member_dir / "heads.safetensors"),
                )
            members.append(
                {
                    "name": name,
                    "mode": args.mode,
                    "trained_on": trained_on,
                    "extra_windows": len(kept_extra),
                    "extra_windows_of_validation_patients_left_out": len(member_set.extra) - len(kept_extra),
                    "assembled_windows": len(member_train) - len(train_idx) - len(kept_extra),
                    "seed": seed,
                }
            )

        if args.lexical:
            report("lexical", 0.0)
            lexical_train = train_idx + [len(examples) + j for j in range(len(sets[0].extra))]
            lexical_pool = examples + list(sets[0].extra)
            val_groups = {examples[i].group or examples[i].window.id for i in val_idx}
            lexical_train = [
                i
                for i in lexical_train
                if (lexical_pool[i].group or lexical_pool[i].window.id) not in val_groups
            ]
            weights = band_weights(lexical_pool) if args.balance_bands else [e.weight for e in lexical_pool]
            lexical_targets = Targets(lexical_pool, weights)
            lexical = LexicalMember.fit(
                [lexical_pool[i].window for i in lexical_train],
                lexical_targets.item_targets(lexical_train).numpy(),
                np.array([weights[i] for i in lexical_train]),
                roles=args.turn_roles,
                val_windows=[examples[i].window for i in stop_idx],
                val_totals=[examples[i].total for i in stop_idx],
            )
            lexical.save(tmp / "members" / "lexical")
            members.append(
                {
                    "name": "lexical",
                    "mode": "lexical",
                    "trained_on": sets[0].trained_on,
                    "extra_windows": len(lexical_train) - len(train_idx),
                    "ridge_alpha": lexical.alpha,
                    "seed": args.seed,
                }
            )

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
            **input_manifest,
            "input_choice": INPUT_CHOICE,
            "members": members,
            "calibration": Calibration.fit([], coverage=args.coverage).to_dict(),  # replaced below
            "training_args": asdict(args),
            "training_data": {
                "windows": len(examples),
                "patients": len({e.group for e in examples}),
                "train_windows": len(train_idx),
                "validation_windows": len(val_idx),
                "early_stopping_windows": len(stop_idx),
                "calibration_windows": len(calibrate_idx),
                "early_stopping_and_calibration_patients": "separate"
                if set(stop_idx).isdisjoint(calibrate_idx)
                else "shared (one validation patient)",
                "with_items": sum(e.items is not None for e in examples),
                "sources": sorted({e.source for e in examples} | {e.source for ms in sets for e in ms.extra}),
                **(data_summary or {}),
            },
            "code_version": code_version(),
        }
        write_manifest(tmp, manifest)

        # Blend weights on the early-stopping patients, through the artifact as scoring will load it.
        report("evaluate", 0.0)
        # Through the artifact as scoring will load it, on this process's one backbone (released after).
        ensemble = Ensemble.load(tmp, device=str(device), backbone=backbone)
        kinds = {str(m["name"]): str(m["mode"]) for m in members}
        if stop_idx and len(members) > 1:
            try:
                per_member = ensemble.member_items([examples[i].window for i in stop_idx])
            finally:
                ensemble.release()
            manifest["blend"] = fit_blend(
                {name: items.sum(-1).numpy() for name, items in per_member.items()},
                kinds,
                np.array([examples[i].total for i in stop_idx]),
                fitted_on="early-stopping patients",
            )
        else:
            manifest["blend"] = fit_blend({}, kinds, np.zeros(0), fitted_on="none (no validation patients)")
        write_manifest(tmp, manifest)
        # Calibrate and evaluate through the artifact itself, exactly as scoring will load it.
        ensemble.release()
        ensemble = Ensemble.load(tmp, device=str(device), backbone=backbone)
        held = calibrate_idx or train_idx
        try:
            scores = ensemble.predict([examples[i].window for i in held])
        finally:
            ensemble.release()
        residuals = [s.total - examples[i].total for s, i in zip(scores, held, strict=True)]
        calibration = Calibration.fit(residuals, coverage=args.coverage, predicted=[s.total for s in scores])
        manifest["calibration"] = calibration.to_dict()
        metrics = regression_report(
            [examples[i].total for i in held],
            [s.total for s in scores],
            intervals=[calibration.interval(s.total) for s in scores],
            items_true=[examples[i].items for i in held],
            items_pred=[s.items for s in scores],
            groups=[examples[i].group or examples[i].window.id for i in held],
        )
        metrics["evaluated_on"] = (
            "calibration patients (validation patients not used for early stopping; interval coverage here "
            "is in-sample)"
            if val_idx
            else "training patients (too few patients to hold out)"
        )
        metrics["interval_method"] = f"{calibration.method}, target coverage {args.coverage:.0%}"
        manifest["metrics"] = metrics
        # The item-9 flag threshold this model recommends, chosen on the calibration patients for a
        # recall of 0.9 of their windows with self-report item 9 >= 1 (the learning loop adds test figures).
        rated = [
            (items[ITEM_SELF_HARM], s.items[ITEM_SELF_HARM])
            for s, i in zip(scores, held, strict=True)
            if (items := examples[i].items) is not None
        ]
        manifest["item9_flag"] = {
            "chosen_on": metrics["evaluated_on"].split(" (")[0],
            **item9_threshold([t for t, _ in rated], [p for _, p in rated], recall=ITEM9_TARGET_RECALL),
        }
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
