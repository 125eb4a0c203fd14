"""The typed arguments of training, in one place: what a run is told, validated once.

`TrainArgs`: how one ensemble is trained (training/finetune.py). `LoopConfig`: the learning loop around
it (training/pipeline.py). The CLIs build their options from these fields (scoring/cli_args.py), the web
app fills them from settings named TRAINING_<FIELD>, and a TOML run config names them in [train] and
[loop]. The arguments are saved beside the weights in the artifact's manifest. The defaults here are the
only ones: the web app's settings hold a TRAINING_<FIELD> only when the environment sets it
(monitor_site/modelops/training_settings.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scoring.backbone import DEFAULT_BACKBONE
from scoring.cli_args import arg
from scoring.model import POOLINGS
from scoring.types import ROLES

MODES = ("heads", "lora", "full")


@dataclass
class TrainArgs:
    backbone: str = arg(DEFAULT_BACKBONE, "package:..., or a local checkpoint directory")
    mode: str = arg("heads", "heads (frozen backbone) | lora | full", choices=MODES)
    pooling: str = arg("attention", "how a window's chunks are pooled", choices=POOLINGS)
    max_tokens: int = arg(256, "tokens per chunk, special tokens included")
    turn_roles: tuple[str, ...] = arg(
        ("user",), "whose turns the model reads: user (the patient's own words, scored) or user,assistant"
    )
    day_markers: bool = arg(True, "mark each new day in the text (turns that carry sent_at)")
    whole_window: bool = arg(
        False,
        "read the 14-day window as one sequence across its conversations (long-context decoders: set "
        "max_tokens up to the backbone's context), chunked only beyond max_tokens",
    )
    members: int = arg(2, "transformer ensemble members (different seeds)")
    lexical: bool = arg(True, "add a TF-IDF word/char n-gram + ridge member over the same turns")
    epochs: int = arg(150, "upper bound; early stopping on validation MAE")
    patience: int = arg(25, "epochs without validation improvement")
    learning_rate: float = arg(0.0, "0 = per-mode default (heads 3e-3, lora 3e-4, full 5e-5)")
    weight_decay: float = arg(0.01, "AdamW weight decay")
    batch_size: int = arg(16, "windows per optimiser step")
    dropout: float = arg(0.1, "dropout in the item heads")
    val_fraction: float = arg(0.2, "share of development patients held out for early stopping")
    coverage: float = arg(0.8, "target coverage of the prediction interval")
    balance_bands: bool = arg(True, "weight samples by inverse band frequency")
    max_chunks_per_window: int = arg(48, "most recent chunks kept in end-to-end training")
    assemble_windows: float = arg(
        0.5,
        "heads: multi-chunk windows assembled per training window from 2-8 training windows of one band "
        "(the pooling learns from long windows even on single posts); 0 = off",
    )
    lora_r: int = arg(16, "LoRA rank")
    lora_alpha: int = arg(32, "LoRA scaling numerator")
    lora_dropout: float = arg(0.05, "dropout on the LoRA path")
    lora_target_modules: tuple[str, ...] = arg(
        (), "comma-separated module names; empty = every linear projection (all-linear)"
    )
    steps: int = arg(300, "lora/full: optimiser steps (the step budget; heads use epochs)")
    warmup_fraction: float = arg(0.06, "lora/full: share of the steps the learning rate warms up over")
    eval_every: int = arg(0, "lora/full: steps between validations; 0 = once per pass over the data")
    micro_batch_tokens: int = arg(
        0, "lora/full: backbone tokens per forward/backward (gradient accumulation); 0 = the plan's on a GPU"
    )
    full_max_parameters: int = arg(2_000_000_000, "full fine-tuning is refused for decoders larger than this")
    gradient_checkpointing: bool = arg(False, "recompute activations in backward (less memory)")
    device: str = arg("auto", "auto | cpu | cuda | cuda:N")
    seed: int = arg(13, "seed of the first member (the others count up)")
    batch_tokens: int = arg(16384, "tokens per backbone call when embedding")

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if self.members < 1:
            raise ValueError("members must be at least 1")
        if not 0 <= self.val_fraction < 1:
            raise ValueError("val_fraction must lie in [0, 1)")
        if self.assemble_windows < 0:
            raise ValueError("assemble_windows must be >= 0")
        if self.epochs < 1 or self.batch_size < 1 or self.max_tokens < 16:
            raise ValueError("epochs and batch_size must be >= 1, max_tokens >= 16")
        if self.steps < 1 or not 0 <= self.warmup_fraction < 1 or self.micro_batch_tokens < 0:
            raise ValueError("steps must be >= 1, warmup_fraction in [0, 1), micro_batch_tokens >= 0")
        self.lora_target_modules = tuple(self.lora_target_modules)
        self.turn_roles = tuple(self.turn_roles)
        if not self.turn_roles or any(r not in ROLES for r in self.turn_roles):
            raise ValueError(f"turn_roles must be a non-empty subset of {ROLES}, got {self.turn_roles!r}")
        if self.learning_rate == 0.0:
            self.learning_rate = {"heads": 3e-3, "lora": 3e-4, "full": 5e-5}[self.mode]


@dataclass
class LoopConfig:
    train: TrainArgs = field(default_factory=TrainArgs, metadata={"cli": False})
    test_fraction: float = arg(0.2, "share of ground-truth patients held out for the final evaluation")
    split: str = arg(
        "auto",
        "held-out patients: time (those who started last), patient (id hash and run number, unseen "
        "first), auto (time when every window is dated)",
        choices=("auto", "time", "patient"),
    )
    relabel_rounds: int = arg(2, "K, the rounds of stage-2 re-labelling")
    relabel_blend: float = arg(0.5, "the intermediate model's share of a re-label (the rest: previous)")
    relabel_folds: int = arg(
        3, "K of the cross-fitting: a window is re-labelled by a model not trained on it"
    )
    self_labels: bool = arg(
        False, "without Claude, label unlabeled windows with the model's own predictions (off: GT only)"
    )
    pseudo_weight: float = arg(0.5, "sample weight of a pseudo-labelled window relative to ground truth")
    label_validation_windows: int = arg(
        50, "development windows with a questionnaire (consented) that Claude labels to validate itself"
    )
    label_calibration_min_pairs: int = arg(30, "validated pairs needed to fit a map of Claude's totals")
    label_max_mae: float = arg(6.0, "pseudo-labels are not used when Claude's validated total MAE is above")
    intermediate_epochs: int = arg(0, "epochs of the intermediate models; 0 = as train.epochs")

    def __post_init__(self) -> None:
        if not 0 < self.test_fraction < 1:
            raise ValueError("test_fraction must lie strictly between 0 and 1")
        if self.relabel_rounds < 0:
            raise ValueError("relabel_rounds must be >= 0")
        if self.relabel_folds < 2:
            raise ValueError("relabel_folds must be at least 2")
        if not 0 <= self.relabel_blend <= 1 or not 0 < self.pseudo_weight <= 1:
            raise ValueError("relabel_blend must lie in [0, 1] and pseudo_weight in (0, 1]")
