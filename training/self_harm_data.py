"""What the self-harm detector is trained and judged on: the written sentences, the cssrs users, the
hard-case conversations, and a cache of their sentence vectors."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scoring.self_harm import SentenceEncoder
from scoring.self_harm.cues import split_sentences
from scoring.types import Conversation, Window, turn_from_json

SENTENCES_FILE = Path(__file__).with_name("self_harm_sentences.txt")
CSSRS_POSITIVE = ("Ideation", "Behavior", "Attempt")
CSSRS_NEGATIVE = ("Supportive", "Indicator")
LABEL_MAPPING = (
    "cssrs users rated Ideation, Behavior or Attempt are read as PHQ-9 item 9 >= 1 and Supportive or "
    "Indicator as item 9 = 0 (an assumption: the set has no item-9 answers and no dates)"
)

DEV_CASES = Path(__file__).parent / "bench" / "self_harm_hard_cases.jsonl"
HELD_OUT_CASES = Path(__file__).parent / "bench" / "self_harm_hard_cases_v2.jsonl"


@dataclass(frozen=True)
class Sentence:
    label: int
    kind: str
    text: str


def load_sentences(path: Path = SENTENCES_FILE) -> list[Sentence]:
    """The written sentences: label<TAB>kind<TAB>text per line, # comments."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] not in ("0", "1"):
            raise ValueError(f"{path} line {number}: expected label<TAB>kind<TAB>sentence with label 0 or 1")
        out.append(Sentence(int(parts[0]), parts[1], parts[2]))
    return out


def load_cssrs(data_dir: Path, split: str) -> list[tuple[str, int]]:
    """(text, label) per user of cssrs/<split>.csv: 1 for Ideation/Behavior/Attempt (see LABEL_MAPPING)."""
    path = data_dir / "cssrs" / f"{split}.csv"
    if not path.is_file():
        raise ValueError(
            f"{path} is missing; pass --data-dir the folder that holds cssrs/ (e.g. ../shared/data)"
        )
    users = []
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            label = (row.get("label") or "").strip()
            if label not in CSSRS_POSITIVE + CSSRS_NEGATIVE:
                raise ValueError(f"{path} line {line}: unknown label {label!r}")
            users.append((row.get("text") or "", int(label in CSSRS_POSITIVE)))
    return users


@dataclass(frozen=True)
class HardCase:
    id: str
    label: int
    trap: str
    window: Window


def load_hard_cases(path: Path) -> list[HardCase]:
    """{"id", "label", "trap", "note", "turns": [{"role", "text", "sent_at"?}]} per line."""
    if not path.is_file():
        raise ValueError(f"no hard-case file at {path}; pass --hard-cases a JSONL file")
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            row = json.loads(line)
            turns = tuple(turn_from_json(t, f"{where} turns[{i}]") for i, t in enumerate(row["turns"]))
            label = int(row["label"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{where}: expected {{id, label, trap, turns}} ({exc})") from None
        case_id = str(row.get("id") or number)
        window = Window.of(case_id, (Conversation(id=case_id, turns=turns),))
        cases.append(HardCase(case_id, label, str(row.get("trap") or ""), window))
    if not cases:
        raise ValueError(f"{path} holds no conversations")
    return cases


class VectorCache:
    """Sentence vectors by (kind, text hash), kept in an .npz between runs when a path is given."""

    def __init__(self, encoder: SentenceEncoder, path: Path | None) -> None:
        self.encoder, self.path = encoder, path
        self.vectors: dict[str, np.ndarray] = {}
        if path is not None and path.is_file():
            with np.load(path) as saved:
                for name in saved.files:
                    if name.startswith("keys_"):
                        vectors = saved["vectors_" + name[5:]]
                        self.vectors.update(zip(saved[name].tolist(), vectors, strict=True))

    def get(self, kind: str, texts: Sequence[str]) -> np.ndarray:
        # the bag reads only the input word vectors, the same at any precision
        model = self.encoder.backbone_id + ("" if kind == "bag" else f":{self.encoder.precision}")
        keys = [f"{kind}:{model}:" + hashlib.sha1(t.encode()).hexdigest() for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self.vectors}.items())
        if missing:
            run = self.encoder.bag if kind == "bag" else self.encoder.encode
            for (key, _), vector in zip(missing, run([t for _, t in missing]), strict=True):
                self.vectors[key] = np.asarray(vector, dtype=np.float32)
        return np.stack([self.vectors[k] for k in keys]) if keys else np.zeros((0, 1), dtype=np.float32)

    def save(self) -> None:
        """One keys/vectors pair per vector size (bags and sentence vectors differ)."""
        if self.path is None or not self.vectors:
            return
        by_size: dict[int, list[str]] = {}
        for key in sorted(self.vectors):
            by_size.setdefault(len(self.vectors[key]), []).append(key)
        arrays: dict[str, Any] = {}
        for size, keys in by_size.items():
            arrays[f"keys_{size}"] = np.array(keys)
            arrays[f"vectors_{size}"] = np.stack([self.vectors[k] for k in keys])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(self.path, **arrays)


def everyday_sentences(n_patients: int = 40, weeks: int = 4, seed: int = 5) -> list[str]:
    """The patient sentences of a synthetic clinic (training/synthetic, this repository's own templates)
    without any item-9 wording: ordinary talk of low mood, sleep, work and family, as a two-week window
    holds a hundred of. What the detector must not fire on sentence after sentence, since a window's
    score is its highest sentence's (distinct sentences only)."""
    import re
    from datetime import UTC, datetime

    from training.synthetic import phrases
    from training.synthetic.clinic import generate_clinic

    item9 = [
        template
        for bank in vars(phrases).values()
        if isinstance(bank, dict) and 9 in bank
        for by_level in bank[9].values()
        for level in by_level.values()
        for template in level
    ]
    shapes = [re.compile(".*".join(re.escape(p) for p in re.split(r"\{\w+\}", t)) + "$") for t in item9]
    end = datetime(2026, 11, 30, tzinfo=UTC)
    seen: dict[str, None] = {}
    for patient in generate_clinic(n_patients=n_patients, weeks=weeks, end=end, seed=seed):
        for session in patient.sessions:
            for turn in session.turns:
                if turn.role == "user":
                    for start, stop in split_sentences(turn.text):
                        seen.setdefault(turn.text[start:stop], None)
    return [s for s in seen if not any(shape.match(s) for shape in shapes)]
