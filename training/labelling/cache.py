"""Where labels are kept so that a repeated or crashed run never pays for one twice: keyed by the hash of
what was sent (training/labelling/prompt.py) and the model. The web app keeps them in the database
(monitor_site/modelops); runs outside it in a JSONL file.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Protocol

from training.labelling.label import ClaudeLabel, label_from_row


class LabelCache(Protocol):
    def get(self, window_hash: str, model: str) -> ClaudeLabel | None: ...

    def put(self, window_hash: str, label: ClaudeLabel) -> None: ...


class MemoryCache:
    def __init__(self) -> None:
        self.labels: dict[tuple[str, str], ClaudeLabel] = {}

    def get(self, window_hash: str, model: str) -> ClaudeLabel | None:
        return self.labels.get((window_hash, model))

    def put(self, window_hash: str, label: ClaudeLabel) -> None:
        self.labels[(window_hash, label.model)] = label


class FileLabelCache:
    """Labels kept in a JSONL file (one label a line), for runs outside the web app."""

    def __init__(self, path: Any) -> None:
        from pathlib import Path

        self.path = Path(path)
        self.labels: dict[tuple[str, str], ClaudeLabel] = {}
        if self.path.is_file():
            for line in self.path.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    label = label_from_row(row)
                    self.labels[(row["window_hash"], label.model)] = label

    def get(self, window_hash: str, model: str) -> ClaudeLabel | None:
        return self.labels.get((window_hash, model))

    def put(self, window_hash: str, label: ClaudeLabel) -> None:
        self.labels[(window_hash, label.model)] = label
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:  # appended at once: a crash loses at most the label in flight
            handle.write(json.dumps({"window_hash": window_hash, **asdict(label)}) + "\n")
