"""What comes back from Claude: the tool call read into a `ClaudeLabel` (every quote checked against the
patient's own turns), several samples of one window combined, and a stored label read back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scoring.phq9 import ITEM_MAX, N_ITEMS
from training.labelling.prompt import MAX_NOT_ASSESSABLE, TOOL_NAME


@dataclass(frozen=True)
class ClaudeLabel:
    """One window's rating. `items` are the nine scores the model learns from: an item that was not
    assessable, or whose quotes were not found in the patient's turns, takes the mean of the usable
    items (so the total is prorated over them); `usable` says which items were rated and verified.
    `confidence` is the share of usable items times the agreement between samples (1 with one)."""

    items: tuple[float, ...]
    evidence: tuple[str, ...]
    confidence: float
    model: str
    input_tokens: int
    output_tokens: int
    usable: tuple[bool, ...] = (True,) * N_ITEMS
    invalid_quotes: int = 0  # items whose quotes were not in the patient's turns (counted, not used)

    @property
    def total(self) -> float:
        return sum(self.items)

    @property
    def has_total(self) -> bool:
        """Whether enough items were rated to form a (prorated) total: only such labels are used."""
        return self.usable.count(False) <= MAX_NOT_ASSESSABLE


class MalformedLabel(ValueError):
    pass


def quote_found(quote: str, text: str) -> bool:
    """Whether `quote` is in `text`, spaces and quote marks aside (how quotes are verified)."""
    return _normalised(quote) in _normalised(text)


def _normalised(text: str) -> str:
    return " ".join(text.replace("’", "'").replace("“", '"').replace("”", '"').split()).lower()


def parse_label(message: Any, model: str, *, patient_text: str = "") -> ClaudeLabel:
    """The tool call in a Messages API response -> ClaudeLabel, or MalformedLabel saying what is wrong.

    An item scored above 0 counts only with quotes found verbatim (spaces and quote marks aside) in
    `patient_text`; one whose quotes are not there is invalid: counted, and treated as not assessable."""
    blocks = [b for b in getattr(message, "content", []) if getattr(b, "type", "") == "tool_use"]
    block = next((b for b in blocks if b.name == TOOL_NAME), None)
    if block is None:
        raise MalformedLabel(f"no {TOOL_NAME} tool call in the response")
    data = block.input if isinstance(block.input, dict) else {}
    items = data.get("items")
    if not isinstance(items, list) or len(items) != N_ITEMS:
        raise MalformedLabel(f"expected {N_ITEMS} items, got {items!r:.80}")
    haystack = _normalised(patient_text)
    scores: list[float] = []
    usable: list[bool] = []
    evidence: list[str] = []
    invalid = 0
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedLabel(f"item {i + 1}: expected an object")
        score, assessable, quotes = item.get("score"), item.get("assessable"), item.get("quotes", [])
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= ITEM_MAX:
            raise MalformedLabel(f"item {i + 1}: score must be an integer 0..3, got {score!r}")
        if not isinstance(assessable, bool):
            raise MalformedLabel(f"item {i + 1}: assessable must be true or false, got {assessable!r}")
        if not isinstance(quotes, list) or not all(isinstance(q, str) for q in quotes):
            raise MalformedLabel(f"item {i + 1}: quotes must be a list of strings")
        quotes = [q for q in quotes if q.strip()]
        verified = all(_normalised(q) in haystack for q in quotes) and (score == 0 or bool(quotes))
        if assessable and not verified:
            invalid += 1
        scores.append(score)
        usable.append(assessable and verified)
        evidence.append(" … ".join(q[:200] for q in quotes)[:500])
    usage = getattr(message, "usage", None)
    return _imputed(
        scores,
        usable,
        evidence,
        model=model,
        agreement=1.0,
        invalid=invalid,
        input_tokens=int(getattr(usage, "input_tokens", 0) or 0),
        output_tokens=int(getattr(usage, "output_tokens", 0) or 0),
    )


def _imputed(
    scores: list[float],
    usable: list[bool],
    evidence: list[str],
    *,
    model: str,
    agreement: float,
    invalid: int,
    input_tokens: int,
    output_tokens: int,
) -> ClaudeLabel:
    """A label whose unusable items take the mean of the usable ones (the total prorated over them)."""
    rated = [s for s, ok in zip(scores, usable, strict=True) if ok]
    fill = sum(rated) / len(rated) if rated else 0.0
    return ClaudeLabel(
        items=tuple(round(float(s) if ok else fill, 4) for s, ok in zip(scores, usable, strict=True)),
        evidence=tuple(evidence),
        confidence=round(agreement * len(rated) / N_ITEMS, 4),
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        usable=tuple(usable),
        invalid_quotes=invalid,
    )


def combine_samples(samples: list[ClaudeLabel]) -> ClaudeLabel:
    """Several ratings of one window -> one label: per item the median of the samples that could rate
    it (usable when most could); confidence = usable share x agreement (1 - mean item SD / 1.5)."""
    if len(samples) == 1:
        return samples[0]
    scores, usable = [], []
    spread = []
    for i in range(N_ITEMS):
        rated = sorted(s.items[i] for s in samples if s.usable[i])
        usable.append(len(rated) * 2 > len(samples))
        scores.append(rated[len(rated) // 2] if rated else 0.0)
        if len(rated) > 1:
            mean = sum(rated) / len(rated)
            spread.append((sum((r - mean) ** 2 for r in rated) / len(rated)) ** 0.5)
    agreement = max(0.0, 1.0 - (sum(spread) / len(spread) / 1.5 if spread else 0.0))
    return _imputed(
        scores,
        usable,
        list(samples[0].evidence),
        model=samples[0].model,
        agreement=agreement,
        invalid=sum(s.invalid_quotes for s in samples),
        input_tokens=sum(s.input_tokens for s in samples),
        output_tokens=sum(s.output_tokens for s in samples),
    )


def label_from_row(row: Mapping[str, Any]) -> ClaudeLabel:
    """A stored label (a JSONL line, a PseudoLabel row's fields) -> ClaudeLabel; rows from before
    `usable` was kept count every item as usable."""
    return ClaudeLabel(
        items=tuple(float(v) for v in row["items"]),
        evidence=tuple(row.get("evidence", ())),
        confidence=float(row["confidence"]),
        model=row["model"],
        input_tokens=int(row.get("input_tokens", 0)),
        output_tokens=int(row.get("output_tokens", 0)),
        usable=tuple(row.get("usable") or (True,) * N_ITEMS),
        invalid_quotes=int(row.get("invalid_quotes", 0)),
    )
