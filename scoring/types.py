"""Plain data passed between the Django side, training/ and scoring/ (no Django here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scoring.phq9 import ITEM_MAX, N_ITEMS, TOTAL_MAX

ROLES = ("user", "assistant")


@dataclass(frozen=True)
class Turn:
    role: str  # "user" | "assistant"
    text: str
    sent_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")


def turn_from_json(obj: Any, where: str) -> Turn:
    """A turn of the batch files (`python -m scoring predict`, `python -m training run`):
    {"role": "user"|"assistant", "text": str, "sent_at"?: ISO-8601}. ValueError names the bad field."""
    if not isinstance(obj, dict) or obj.get("role") not in ROLES or not isinstance(obj.get("text"), str):
        raise ValueError(f'{where} must be {{"role": "user"|"assistant", "text": str, "sent_at"?: ISO-8601}}')
    raw = obj.get("sent_at")
    sent_at = None
    if raw is not None:
        try:
            sent_at = datetime.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            sent_at = None
        if sent_at is None:
            raise ValueError(f"{where}.sent_at must be an ISO-8601 date-time such as 2026-11-03T08:15:00Z")
    return Turn(role=obj["role"], text=obj["text"], sent_at=sent_at)


@dataclass(frozen=True)
class Conversation:
    """One chat session (or the part of it that falls inside a window)."""

    id: str
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Window:
    """What one score is computed from: a patient's conversations in [end - 14 days, end]."""

    id: str
    conversations: tuple[Conversation, ...]
    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def of(cls, window_id: str, conversations: tuple[Conversation, ...]) -> Window:
        """A window whose start and end are its turns' first and last `sent_at` (None when undated)."""
        dates = [t.sent_at for c in conversations for t in c.turns if t.sent_at is not None]
        try:
            start, end = (min(dates), max(dates)) if dates else (None, None)
        except TypeError:  # dates with and without a time zone cannot be ordered
            raise ValueError("sent_at must either all carry a time zone or none") from None
        return cls(id=window_id, conversations=conversations, start=start, end=end)

    @property
    def n_user_turns(self) -> int:
        return sum(1 for c in self.conversations for t in c.turns if t.role == "user")


@dataclass(frozen=True)
class LabeledWindow:
    """A window with a target: 9 item scores (0..3 each) and/or only a total (0..27)."""

    window: Window
    total: float
    items: tuple[float, ...] | None = None
    group: str = ""  # patient id: splits are by group, never by window
    weight: float = 1.0
    source: str = "ground_truth"  # or "pseudo:<model>" / "relabel:<round>"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.items is not None:
            if len(self.items) != N_ITEMS:
                raise ValueError(f"items must have {N_ITEMS} values, got {len(self.items)}")
            if any(not 0 <= v <= ITEM_MAX for v in self.items):
                raise ValueError("each item must lie in 0..3")
        if not 0 <= self.total <= TOTAL_MAX:
            raise ValueError("total must lie in 0..27")

    @property
    def patient(self) -> str:
        """Whose window this is, for every split by patient: the group, or the window itself when it has
        none (a window without a patient is then a patient of its own, never on two sides of a split)."""
        return self.group or self.window.id
