"""`python -m scoring predict`: score conversations from JSONL without the web app.

Input lines:  {"id": str, "turns": [{"role": "user"|"assistant", "text": str}, ...]}
Output lines: {"id", "phq9_total", "items", "interval", "band", "model_version", "method": "model-inferred"}
Every input line is checked before the model loads; the output file appears only when complete.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from scoring.artifact import ArtifactError, resolve_model_dir
from scoring.backbone import BackboneNotFound
from scoring.types import ROLES, Conversation, Turn, Window


class InputError(ValueError):
    pass


def parse_line(raw: str, where: str) -> Window:
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object with 'id' and 'turns'")
    conv_id = obj.get("id")
    if not isinstance(conv_id, str) or not conv_id:
        raise InputError(f"{where}: 'id' must be a non-empty string")
    turns = obj.get("turns")
    if not isinstance(turns, list) or not turns:
        raise InputError(f"{where}: conversation {conv_id!r} is empty ('turns' must be a non-empty list)")
    parsed = []
    for i, turn in enumerate(turns):
        if (
            not isinstance(turn, dict)
            or turn.get("role") not in ROLES
            or not isinstance(turn.get("text"), str)
        ):
            raise InputError(f'{where}: turns[{i}] must be {{"role": "user"|"assistant", "text": str}}')
        parsed.append(Turn(role=turn["role"], text=turn["text"]))
    if not any(t.text.strip() for t in parsed):
        raise InputError(f"{where}: conversation {conv_id!r} has no text")
    return Window(id=conv_id, conversations=(Conversation(id=conv_id, turns=tuple(parsed)),))


def read_windows(path: Path) -> list[Window]:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    windows = []
    seen: set[str] = set()
    with path.open(encoding="utf-8", errors="strict") as handle:
        try:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                window = parse_line(raw, f"{path} line {number}")
                if window.id in seen:
                    raise InputError(f"{path} line {number}: id {window.id!r} appears twice")
                seen.add(window.id)
                windows.append(window)
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    if not windows:
        raise InputError(f"{path}: no conversations in the file")
    return windows


def predict(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from scoring.ensemble import Ensemble

    windows = read_windows(Path(args.input))
    model_dir = resolve_model_dir(args.model, store=args.model_store)
    ensemble = Ensemble.load(model_dir, device=args.device)
    out_path = Path(args.output)
    tmp = out_path.with_name(out_path.name + ".partial")
    with tmp.open("w", encoding="utf-8") as out, tqdm(total=len(windows), unit="conv", disable=None) as bar:
        for start in range(0, len(windows), args.batch_size):
            batch = windows[start : start + args.batch_size]
            for score in ensemble.predict(batch):
                record = {
                    "id": score.window_id,
                    "phq9_total": score.total,
                    "items": list(score.items),
                    "interval": list(score.interval),
                    "band": score.band,
                    "model_version": score.model_version,
                    "method": "model-inferred",
                }
                out.write(json.dumps(record) + "\n")
            bar.update(len(batch))
    os.replace(tmp, out_path)
    print(f"wrote {len(windows)} prediction(s) to {out_path} (model {ensemble.version})", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scoring", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="score conversations in a JSONL file")
    p.add_argument("--model", required=True, help="model artifact directory, or 'active'")
    p.add_argument(
        "--model-store", default=None, help="store holding the ACTIVE pointer (default $MODEL_STORE_DIR)"
    )
    p.add_argument("--input", required=True, help="conversations.jsonl")
    p.add_argument("--output", required=True, help="where to write predictions (JSONL)")
    p.add_argument("--batch-size", type=int, default=32, help="conversations per model call")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.set_defaults(func=predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (InputError, ArtifactError, BackboneNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
