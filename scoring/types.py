"""Plain data passed between the Django side, training/ and scoring/ (no Django here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

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
