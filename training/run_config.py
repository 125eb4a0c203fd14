"""`python -m training run --config FILE.toml`: the learning loop on JSONL files, without the web app.

    [data]
    ground_truth = "gt.jsonl"         # {"id", "group", "turns": [...] or "conversations": [...],
                                      #  each turn {"role", "text", "sent_at"?: ISO-8601},
                                      #  "items": [9 ints] and/or "total": int}
    unlabeled = "unlabeled.jsonl"     # optional: {"id", "group", "turns"/"conversations",
                                      #  "consent_external": bool}
    [output]
    store = "var/models"              # the artifact is written here; labels are kept in
                                      # store/pseudo_labels.jsonl and reused by later runs
    [train]                           # any TrainArgs field: mode, backbone, members, epochs, ...
    [loop]                            # relabel_rounds, relabel_blend, pseudo_weight, test_fraction
    [claude]                          # model, token_budget, max_retries; key from $ANTHROPIC_API_KEY
                                      # (no key: stage 1 is skipped), base_url optional
Paths are relative to the config file.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from scoring.types import Conversation, LabeledWindow, Window, turn_from_json
from training.args import LoopConfig, TrainArgs
from training.labelling.cache import FileLabelCache
from training.labelling.claude import ClaudeLabeler, LabelerConfig, anthropic_client
from training.pipeline import LoopResult, Unlabeled, run_learning_loop


class ConfigError(ValueError):
    pass


def _window(obj: dict, where: str) -> Window:
    if not isinstance(obj.get("id"), str) or not obj["id"]:
        raise ConfigError(f"{where}: 'id' must be a non-empty string")
    raw = obj.get("conversations") or [{"id": obj["id"], "turns": obj.get("turns")}]
    conversations = []
    for c, conv in enumerate(raw):
        turns = conv.get("turns") if isinstance(conv, dict) else None
        if not isinstance(turns, list) or not turns:
            raise ConfigError(f"{where}: conversation {c} has no turns")
        try:
            parsed = tuple(turn_from_json(t, f"conversation {c} turns[{i}]") for i, t in enumerate(turns))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        conversations.append(Conversation(id=str(conv.get("id", f"{obj['id']}-{c}")), turns=parsed))
    try:
        return Window.of(obj["id"], tuple(conversations))
    except ValueError as exc:
        raise ConfigError(f"{where}: turns[].{exc}") from exc


def _jsonl(path: Path) -> list[tuple[str, dict]]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: invalid JSON ({exc.msg})") from exc
        if not isinstance(obj, dict):
            raise ConfigError(f"{where}: expected a JSON object")
        rows.append((where, obj))
    return rows


def read_ground_truth(path: Path) -> list[LabeledWindow]:
    examples = []
    for where, obj in _jsonl(path):
        items = obj.get("items")
        total = obj.get("total", sum(items) if isinstance(items, list) else None)
        if total is None:
            raise ConfigError(f"{where}: needs 'items' (9 values 0..3) and/or 'total' (0..27)")
        if not obj.get("group"):  # without it each window would be its own patient: splits by window
            raise ConfigError(f"{where}: needs 'group' (the patient: splits and intervals are by patient)")
        try:
            examples.append(
                LabeledWindow(
                    window=_window(obj, where),
                    total=float(total),
                    items=tuple(float(v) for v in items) if items is not None else None,
                    group=str(obj["group"]),
                )
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{where}: needs 'items' (9 values 0..3) and/or 'total' (0..27): {exc}"
            ) from exc
    return examples


def read_unlabeled(path: Path) -> list[Unlabeled]:
    return [
        Unlabeled(
            _window(obj, where),
            group=str(obj.get("group") or obj["id"]),
            consent_external=obj.get("consent_external") is True,
        )
        for where, obj in _jsonl(path)
    ]


def _section(config: dict, name: str, cls: type, path: Path) -> dict:
    section = config.get(name, {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) in [{name}]: {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return section


def run_from_config(path: Path) -> tuple[LoopResult, dict]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    try:
        config = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    base = path.parent
    data = config.get("data", {})
    if "ground_truth" not in data:
        raise ConfigError(f'{path}: [data] needs ground_truth = "FILE.jsonl"')
    ground_truth = read_ground_truth(base / data["ground_truth"])
    unlabeled = read_unlabeled(base / data["unlabeled"]) if data.get("unlabeled") else []
    store = base / config.get("output", {}).get("store", "models")
    train_section = _section(config, "train", TrainArgs, path)
    if "lora_target_modules" in train_section:
        train_section["lora_target_modules"] = tuple(train_section["lora_target_modules"])
    loop_section = _section(config, "loop", LoopConfig, path)
    loop_section.pop("train", None)
    claude_section: dict[str, Any] = dict(config.get("claude", {}))
    base_url = claude_section.pop("base_url", None)
    labeler_args = _section({"claude": claude_section}, "claude", LabelerConfig, path)
    loop = LoopConfig(train=TrainArgs(**train_section), **loop_section)
    labeler = None
    if os.environ.get("ANTHROPIC_API_KEY"):
        labeler = ClaudeLabeler(
            anthropic_client(base_url=base_url),
            LabelerConfig(**labeler_args),
            FileLabelCache(store / "pseudo_labels.jsonl"),
        )
    lines: list[str] = []
    result = run_learning_loop(ground_truth, unlabeled, loop, store, labeler=labeler, log_line=lines.append)
    report = {
        "artifact": str(result.train.artifact_dir),
        "version": result.train.version,
        "test_metrics": result.test_metrics,
        "labeling": result.labeling,
        "log": lines,
    }
    (result.train.artifact_dir / "run_report.json").write_text(json.dumps(report, indent=2, default=str))
    return result, report
