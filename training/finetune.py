"""Train an ensemble of PHQ-9 regressors on labeled windows and write a model artifact.

Entry point: `train_ensemble(examples, TrainArgs(...), store_dir)`. Three ways to train a member:
- "heads": backbone frozen; chunk vectors computed once, then only pooling + item heads learn
  (seconds on a CPU; the default for the starter model);
- "lora": peft LoRA adapters on the backbone, trained end to end with the heads;
- "full": every backbone weight trained (small encoders only).
Beside them, a lexical member (TF-IDF + ridge over the same turns, scoring/lexical.py) unless
`lexical=False`; when the training windows cannot fit it (too few with patient text, no terms in them)
the ensemble is the other members, and the manifest's `skipped_members` says why. Splits are by
patient (`LabeledWindow.patient`, training/splits.py), never by window.
The validation patients are shared out in two: half drive early stopping and fit the blend weights of
the members, the other half fit the split-conformal interval and give the metrics written to the
manifest (the learning loop then evaluates on held-out test patients).

Stages, one function each: the members (training/members.py, training/end_to_end.py), the lexical
member, the blend, then calibration and evaluation (training/calibrate.py).
"""

from __future__ import annotations

import json
import logging
import os
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
from scoring.ensemble import Ensemble, blend_weights, pick_device
from scoring.lexical import LexicalError, LexicalMember
from scoring.types import LabeledWindow
from scoring.windowing import Chunk, Chunker, InputView
from training.args import TrainArgs
from training.calibrate import calibrate_and_evaluate, fit_member_blend
from training.end_to_end import base_dtype, fitting_micro_batch, take_pretrained_member, train_end_to_end
from training.members import (
    MemberTraining,
    Progress,
    Targets,
    assemble_windows,
    band_weights,
    embed_all,
    set_seed,
    stack_windows,
    train_heads,
)
from training.splits import split_by_group, split_validation

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
    "r 0.79 vs 0.80, AUC@10 0.89 vs 0.99, no difference these patients can show (docs/benchmarks.md)."
)


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
    _check_context(backbone, args)
    view = InputView(roles=args.turn_roles, day_markers=args.day_markers, whole_window=args.whole_window)
    input_manifest = {"max_tokens": args.max_tokens, "input": view.to_dict()}
    chunker = Chunker.for_artifact(backbone.tokenizer, kind=backbone.kind, manifest=input_manifest)
    sets = member_sets or [MemberSet()] * args.members
    train_idx, val_idx = split_by_group(examples, val_fraction=args.val_fraction, seed=args.seed)
    stop_idx, calibrate_idx = split_validation(examples, val_idx)

    version = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    store_dir.mkdir(parents=True, exist_ok=True)
    run = _Run(
        examples=examples,
        chunked=chunker.chunk_windows([e.window for e in examples]),
        args=args,
        backbone=backbone,
        device=device,
        sets=sets,
        extra_chunked=[chunker.chunk_windows([e.window for e in ms.extra]) for ms in sets],
        train_idx=train_idx,
        val_idx=val_idx,
        stop_idx=stop_idx,
        calibrate_idx=calibrate_idx,
        tmp=store_dir / f".tmp-{version}",
        report=report,
    )
    final = store_dir / version
    try:
        backbone.tokenizer.save_pretrained(run.tmp / "tokenizer")
        if backbone.backbone_id.startswith("artifact:"):
            backbone.module.save_pretrained(run.tmp / backbone.backbone_id.removeprefix("artifact:"))  # type: ignore[operator]
        members = _train_members(
            run,
            vector_cache=vector_cache,
            pretrained_members=pretrained_members,
            micro_batch_tokens=micro_batch_tokens,
        )
        skipped: list[dict] = []
        if args.lexical:
            lexical = _train_lexical(run)
            (skipped if "reason" in lexical else members).append(lexical)
        manifest = _manifest(run, version, members, input_manifest, data_summary)
        if skipped:
            manifest["skipped_members"] = skipped
        write_manifest(run.tmp, manifest)

        report("evaluate", 0.0)
        # Blend, calibration and metrics go through the artifact as scoring will load it, loaded once on
        # this process's one backbone and given back after.
        ensemble = Ensemble.load(run.tmp, device=str(device), backbone=backbone)
        try:
            manifest["blend"] = fit_member_blend(ensemble, members, [examples[i] for i in stop_idx])
            # The weights just fitted, as a fresh load of the manifest would read them.
            ensemble.blend = blend_weights(manifest, list(ensemble.blend))
            held = [examples[i] for i in calibrate_idx or train_idx]
            metrics = calibrate_and_evaluate(
                ensemble, held, manifest, coverage=args.coverage, held_out=bool(val_idx)
            )
        finally:
            ensemble.release()
        write_manifest(run.tmp, manifest)
        os.replace(run.tmp, final)
    except BaseException:
        shutil.rmtree(run.tmp, ignore_errors=True)
        raise
    report("done", 1.0)
    log.info(
        "trained %s: %s", version, json.dumps({k: metrics.get(k) for k in ("n", "mae", "rmse", "auc_at_10")})
    )
    return TrainResult(artifact_dir=final, version=version, metrics=metrics, manifest=manifest)


@dataclass
class _Run:
    """One train_ensemble call as its stages share it: the ground-truth examples and their split by
    patient, each member set's extra windows, every window chunked, and the artifact being written."""

    examples: list[LabeledWindow]
    args: TrainArgs
    backbone: Backbone
    device: torch.device
    sets: list[MemberSet]
    chunked: list[list[Chunk]]
    extra_chunked: list[list[list[Chunk]]]  # per member set
    train_idx: list[int]
    val_idx: list[int]
    stop_idx: list[int]  # validation patients that early-stop and fit the blend
    calibrate_idx: list[int]  # the others: interval and validation metrics
    tmp: Path
    report: Progress

    def validation_patients(self) -> set[str]:
        return {self.examples[i].patient for i in self.val_idx}


def _check_context(backbone: Backbone, args: TrainArgs) -> None:
    if args.whole_window:
        text_config = getattr(backbone.module.config, "text_config", None) or backbone.module.config
        context = int(getattr(text_config, "max_position_embeddings", 0) or 0)
        if context and args.max_tokens > context:
            raise ValueError(
                f"max_tokens {args.max_tokens} is beyond the backbone's context ({context} tokens): lower it"
            )


def _train_members(
    run: _Run,
    *,
    vector_cache: dict[bytes, torch.Tensor] | None,
    pretrained_members: list[Path] | None,
    micro_batch_tokens: int,
) -> list[dict]:
    """Stage 1, the members: one per member set, written under members/; their manifest entries."""
    vectors: dict[bytes, torch.Tensor] = {}
    if run.args.mode == "heads":
        run.report("embed", 0.0)
        every_chunk = [c for group in (run.chunked, *run.extra_chunked) for cs in group for c in cs]
        vectors = vector_cache if vector_cache is not None else {}
        unembedded = [c for c in every_chunk if c.key not in vectors]
        vectors.update(embed_all(run.backbone, unembedded, run.device, run.args.batch_tokens))
    return [
        _train_member(run, m, vectors, pretrained_members, micro_batch_tokens) for m in range(len(run.sets))
    ]


def _train_member(
    run: _Run,
    m: int,
    vectors: dict[bytes, torch.Tensor],
    pretrained_members: list[Path] | None,
    micro_batch_tokens: int,
) -> dict:
    args, examples, member_set = run.args, run.examples, run.sets[m]
    name, seed = f"m{m}", args.seed + 1000 * m
    combined = examples + list(member_set.extra)
    combined_chunks = run.chunked + run.extra_chunked[m]
    # An extra window of a validation patient would let the member learn the text it is early-
    # stopped and calibrated on: such windows are left out of training (counted in the manifest).
    validation_patients = run.validation_patients()
    kept_extra = [
        len(examples) + j for j, e in enumerate(member_set.extra) if e.patient not in validation_patients
    ]
    member_train = run.train_idx + kept_extra
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
    job = MemberTraining(
        examples=combined,
        targets=Targets(combined, weights),
        train_idx=member_train,
        val_idx=run.stop_idx,
        args=args,
        seed=seed,
        device=run.device,
        progress=lambda stage, fraction: run.report(stage, (m + fraction) / len(run.sets)),
    )
    member_dir = run.tmp / "members" / name
    member_dir.mkdir(parents=True)
    trained_on = member_set.trained_on
    if pretrained_members is not None:
        world = take_pretrained_member(pretrained_members, m, seed, args, member_dir)
        trained_on += f" (training.distributed, {world} processes)"
    elif args.mode == "heads":
        h, mask = stack_windows(combined_chunks, vectors, run.backbone.hidden_size)
        heads = train_heads(h, mask, job)
    else:
        heads, module = train_end_to_end(
            run.backbone, combined_chunks, job, micro_batch_tokens=micro_batch_tokens
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
    return {
        "name": name,
        "mode": args.mode,
        "trained_on": trained_on,
        "extra_windows": len(kept_extra),
        "extra_windows_of_validation_patients_left_out": len(member_set.extra) - len(kept_extra),
        "assembled_windows": len(member_train) - len(run.train_idx) - len(kept_extra),
        "seed": seed,
    }


def _train_lexical(run: _Run) -> dict:
    """Stage 2, the lexical member: TF-IDF + ridge on the first member set's windows. Its manifest
    entry, or {"name": "lexical", "reason": ...} when these windows cannot fit it (a clinic's first
    few questionnaires): the other members are the ensemble then, never a failed run."""
    run.report("lexical", 0.0)
    args, examples, first = run.args, run.examples, run.sets[0]
    lexical_train = run.train_idx + [len(examples) + j for j in range(len(first.extra))]
    lexical_pool = examples + list(first.extra)
    validation_patients = run.validation_patients()
    lexical_train = [i for i in lexical_train if lexical_pool[i].patient not in validation_patients]
    weights = band_weights(lexical_pool) if args.balance_bands else [e.weight for e in lexical_pool]
    lexical_targets = Targets(lexical_pool, weights)
    try:
        lexical = LexicalMember.fit(
            [lexical_pool[i].window for i in lexical_train],
            lexical_targets.item_targets(lexical_train).numpy(),
            np.array([weights[i] for i in lexical_train]),
            roles=args.turn_roles,
            val_windows=[examples[i].window for i in run.stop_idx],
            val_totals=[examples[i].total for i in run.stop_idx],
        )
    except LexicalError as exc:  # fit raises it only for too little text to learn from
        log.warning("lexical member skipped: %s", exc)
        return {"name": "lexical", "reason": f"{exc} ({len(lexical_train)} training windows)"}
    lexical.save(run.tmp / "members" / "lexical")
    return {
        "name": "lexical",
        "mode": "lexical",
        "trained_on": first.trained_on,
        "extra_windows": len(lexical_train) - len(run.train_idx),
        "ridge_alpha": lexical.alpha,
        "seed": args.seed,
    }


def _manifest(
    run: _Run, version: str, members: list[dict], input_manifest: dict, data_summary: dict | None
) -> dict:
    """The artifact's manifest before the blend, the calibration and the metrics are known."""
    examples, backbone = run.examples, run.backbone
    return {
        "format": FORMAT,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(),
        "backbone": {
            "id": backbone.backbone_id,
            "kind": backbone.kind,
            "model_type": backbone.model_type,
            "hidden_size": backbone.hidden_size,
        },
        "pooling": run.args.pooling,
        **input_manifest,
        "input_choice": INPUT_CHOICE,
        "members": members,
        "calibration": Calibration.fit([], coverage=run.args.coverage).to_dict(),  # replaced later
        "training_args": asdict(run.args),
        "training_data": {
            "windows": len(examples),
            "patients": len({e.group for e in examples}),
            "train_windows": len(run.train_idx),
            "validation_windows": len(run.val_idx),
            "early_stopping_windows": len(run.stop_idx),
            "calibration_windows": len(run.calibrate_idx),
            "early_stopping_and_calibration_patients": "separate"
            if set(run.stop_idx).isdisjoint(run.calibrate_idx)
            else "shared (one validation patient)",
            "with_items": sum(e.items is not None for e in examples),
            "sources": sorted({e.source for e in examples} | {e.source for ms in run.sets for e in ms.extra}),
            **(data_summary or {}),
        },
        "code_version": code_version(),
    }
