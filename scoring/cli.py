"""`python -m scoring predict`: score conversations from JSONL without the web app.

Input lines:  {"id": str, "turns": [{"role": "user"|"assistant", "text": str}, ...]}
Output lines: {"id", "phq9_total", "items", "interval", "band", "model_version", "method": "model-inferred"}
Every input line is checked before the model loads; the output file appears only when complete.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scoring.artifact import ArtifactError, resolve_model_dir
from scoring.backbone import BackboneNotFound
from scoring.cli_args import add_dataclass_arguments, dataclass_from_options
from scoring.quantize import DEFAULT_PRECISION, PRECISIONS, check_precision
from scoring.types import Conversation, Window, turn_from_json

if TYPE_CHECKING:
    from scoring.ensemble import Ensemble

DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


class InputError(ValueError):
    pass


def _is_unicode(text: str) -> bool:
    """False for text holding unpaired surrogates (JSON allows "\\ud800"; no tokenizer or file does)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_line(raw: str, where: str) -> Window:
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from exc
    except RecursionError as exc:
        raise InputError(f"{where}: JSON nested too deeply to be a conversation") from exc
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object with 'id' and 'turns'")
    conv_id = obj.get("id")
    if not isinstance(conv_id, str) or not conv_id:
        raise InputError(f"{where}: 'id' must be a non-empty string")
    if not _is_unicode(conv_id):
        raise InputError(f"{where}: 'id' holds an unpaired surrogate (e.g. \\ud800); fix the encoding")
    turns = obj.get("turns")
    if not isinstance(turns, list) or not turns:
        raise InputError(f"{where}: conversation {conv_id!r} is empty ('turns' must be a non-empty list)")
    parsed = []
    for i, turn in enumerate(turns):
        try:
            parsed.append(turn_from_json(turn, f"turns[{i}]"))
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from exc
        if not _is_unicode(parsed[-1].text):
            raise InputError(
                f"{where}: turns[{i}].text holds an unpaired surrogate (e.g. \\ud800); fix the encoding"
            )
    if not any(t.text.strip() for t in parsed):
        raise InputError(f"{where}: conversation {conv_id!r} has no text")
    try:
        return Window.of(conv_id, (Conversation(id=conv_id, turns=tuple(parsed)),))
    except ValueError as exc:
        raise InputError(f"{where}: turns[].{exc}") from exc


def read_windows(path: Path) -> list[Window]:
    if path.is_dir():
        raise InputError(f"--input {path} is a directory; pass the conversations .jsonl file")
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


def check_output(path: Path) -> None:
    """Before the model loads: a typo in --output should cost a second, not a scoring run."""
    if path.is_dir():
        raise InputError(
            f"--output {path} is a directory; give a file name, e.g. {path / 'predictions.jsonl'}"
        )
    if not path.parent.is_dir():
        raise InputError(f"output directory {path.parent} does not exist; create it or pass another --output")
    if not os.access(path.parent, os.W_OK):
        raise InputError(
            f"cannot write to output directory {path.parent} (permission denied); pass another --output"
        )


def check_device(device: str) -> None:
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {device}: no CUDA GPU is available here; use --device cpu (or auto)")


def load_ensemble(model_dir: Path, device: str, precision: str = DEFAULT_PRECISION) -> Ensemble:
    from safetensors import SafetensorError

    from scoring.ensemble import Ensemble

    try:
        return Ensemble.load(model_dir, device=device, precision=precision)
    except (ArtifactError, BackboneNotFound):
        raise
    except (KeyError, TypeError, ValueError, SafetensorError) as exc:
        # read_manifest checks which keys exist, not what they hold: a hand-edited or truncated artifact
        # fails here, deep in loading.
        raise ArtifactError(
            f"{model_dir} is malformed ({type(exc).__name__}: {exc}); retrain or restore the artifact"
        ) from exc


def predict(args: PredictArgs) -> int:
    from tqdm import tqdm

    from scoring.item9 import item9_assess, item9_record
    from scoring.phq9 import ITEM_SELF_HARM
    from scoring.self_harm import SelfHarmDetector

    windows = read_windows(args.input)
    out_path = args.output
    check_output(out_path)
    check_device(args.device)
    model_dir = resolve_model_dir(args.model, store=args.model_store)
    ensemble = load_ensemble(model_dir, args.device, args.precision)
    detector = SelfHarmDetector.default()
    tmp = out_path.with_name(out_path.name + ".partial")
    try:
        with (
            tmp.open("w", encoding="utf-8") as out,
            tqdm(total=len(windows), unit="conv", disable=None) as bar,
        ):
            for start in range(0, len(windows), args.batch_size):
                batch = windows[start : start + args.batch_size]
                for window, score in zip(batch, ensemble.predict(batch), strict=True):
                    # The item-9 flag by the same code as the web app (without the self-report source).
                    item9 = item9_assess(
                        detection=detector.detect(window),
                        model_item9_value=score.items[ITEM_SELF_HARM],
                        manifest=ensemble.manifest,
                    )
                    record = {
                        "id": score.window_id,
                        "phq9_total": score.total,
                        "items": list(score.items),
                        "interval": list(score.interval),
                        "band": score.band,
                        "model_version": score.model_version,
                        "method": "model-inferred",
                        **item9_record(item9),
                    }
                    out.write(json.dumps(record) + "\n")
                bar.update(len(batch))
    except BaseException:
        tmp.unlink(missing_ok=True)  # no half-written .partial left beside the output
        raise
    os.replace(tmp, out_path)
    print(
        f"wrote {len(windows)} prediction(s) to {out_path} (model {ensemble.version}, {ensemble.precision})",
        file=sys.stderr,
    )
    return 0


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def device_name(text: str) -> str:
    if not DEVICE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r}: use auto, cpu, cuda or cuda:N")
    return text


@dataclass
class PredictArgs:
    model: str = field(metadata={"help": "model artifact directory, or 'active'"})
    input: Path = field(metadata={"help": "conversations.jsonl"})
    output: Path = field(metadata={"help": "where to write predictions (JSONL)"})
    model_store: str | None = field(
        default=None, metadata={"help": "store holding the ACTIVE pointer ($MODEL_STORE_DIR when unset)"}
    )
    batch_size: int = field(
        default=32, metadata={"help": "conversations per model call", "type": positive_int}
    )
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda | cuda:N", "type": device_name})
    precision: str = field(
        default=DEFAULT_PRECISION,
        metadata={
            "help": "the backbone's Linear layers on CPU: fp32, or int8 (scoring/quantize.py; "
            "docs/benchmarks.md says what it gains and costs); ignored on CUDA",
            "choices": PRECISIONS,
        },
    )

    def __post_init__(self) -> None:
        self.input, self.output = Path(self.input), Path(self.output)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if not DEVICE.fullmatch(self.device):
            raise ValueError(f"device {self.device!r}: use auto, cpu, cuda or cuda:N")
        check_precision(self.precision)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scoring", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="score conversations in a JSONL file")
    add_dataclass_arguments(p, PredictArgs)
    p.set_defaults(func=lambda ns: predict(dataclass_from_options(PredictArgs, ns)))
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
