"""Turn a window of conversations into backbone-sized token chunks.

Chunks are packed on turn boundaries, so each chunk maps back to the turns it came from (used for
evidence). By default they never straddle two conversations, so a conversation's chunks are the same in
every window that contains it (their embeddings are cached across overlapping windows). With a long-
context decoder the input view may read the whole window as one sequence (`whole_window`): every
conversation's turns in order, day-marked, split only beyond `max_tokens`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scoring.types import ROLES, Conversation, Turn, Window

ROLE_TAGS = {"user": "[user]", "assistant": "[assistant]"}
# Artifacts written before the input view was recorded read every turn, without day markers.
LEGACY_ROLES = ROLES


# How a day marker names the day. "relative" (what models read since the learning loop's time cut):
# the weekday and how many days before the window's end, so nothing the model learns is tied to a
# calendar date (a model trained on spring could otherwise key on "2026-04"). "absolute": the calendar
# date, as artifacts trained before read it; an artifact records its format (`input.day_format`), so an
# older model keeps reading what it was trained on.
DAY_FORMATS = ("relative", "absolute")


def day_marker(sent_at: datetime, *, window_end: datetime | None, day_format: str = "relative") -> str:
    """`[Tue, 3 days before]` (days before the window's end, by calendar day; `0 days before` on its
    last day; `[Tue]` when the window has no end) or, for the legacy format, `[Tue 2026-11-03]`."""
    if day_format == "absolute":
        return f"[{sent_at:%a %Y-%m-%d}]"
    if window_end is None:
        return f"[{sent_at:%a}]"
    days = (window_end.date() - sent_at.date()).days
    return f"[{sent_at:%a}, {days} day{'' if days == 1 else 's'} before]"


def render_turn(turn: Turn, *, marker: str = "") -> str:
    """`[user] text`; with a day `marker` (the turn opens a new day), `[Tue, 3 days before] [user] text`."""
    text = f"{ROLE_TAGS[turn.role]} {turn.text.strip()}"
    return f"{marker} {text}" if marker else text


@dataclass(frozen=True)
class InputView:
    """What of a window the model reads: which roles' turns (the patient's are what is scored; the
    assistant's are context at most), whether each new day is marked (only turns with `sent_at`) and
    how (`day_format`, DAY_FORMATS). Training records it in the manifest's `input`; scoring reads it
    back, so both see the same text."""

    roles: tuple[str, ...] = ("user",)
    day_markers: bool = True
    whole_window: bool = (
        False  # one sequence across the window's conversations, chunked only beyond max_tokens
    )
    day_format: str = "relative"

    def __post_init__(self) -> None:
        if not self.roles or any(r not in ROLES for r in self.roles):
            raise ValueError(f"turn roles must be a non-empty subset of {ROLES}, got {self.roles!r}")
        if self.day_format not in DAY_FORMATS:
            raise ValueError(f"day_format must be one of {DAY_FORMATS}, got {self.day_format!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn_roles": list(self.roles),
            "day_markers": self.day_markers,
            "whole_window": self.whole_window,
            "day_format": self.day_format,
        }

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> InputView:
        data = manifest.get("input")
        if not isinstance(data, Mapping):
            return cls(roles=LEGACY_ROLES, day_markers=False)
        return cls(
            roles=tuple(data.get("turn_roles", LEGACY_ROLES)),
            day_markers=bool(data.get("day_markers")),
            whole_window=bool(data.get("whole_window", False)),
            # An artifact written before the format was recorded read calendar dates: it keeps them.
            day_format=str(data.get("day_format", "absolute")),
        )

    def turns(
        self, conversation: Conversation, *, window_end: datetime | None = None
    ) -> Iterator[tuple[int, str]]:
        """(index in the conversation, rendered text) of each turn this view reads, in order; a day
        marker goes on the first read turn of each calendar day (relative to `window_end`, the end of
        the window being read, in the relative format)."""
        last_day = None
        for index, turn in enumerate(conversation.turns):
            if turn.role not in self.roles or not turn.text.strip():
                continue
            day = turn.sent_at.date() if turn.sent_at is not None else None
            marker = ""
            if self.day_markers and turn.sent_at is not None and day != last_day:
                marker = day_marker(turn.sent_at, window_end=window_end, day_format=self.day_format)
            last_day = day if day is not None else last_day
            yield index, render_turn(turn, marker=marker)


# The most text one window contributes, in characters (~16k tokens): a flood of sessions in 14 days
# (10,000 were sent in a probe) must not stall a scoring worker for minutes. The most recent turns are
# kept; what is left out is counted (`window_cut`) and recorded with the prediction.
MAX_WINDOW_CHARS = 64_000


def window_cut(window: Window, max_chars: int = MAX_WINDOW_CHARS) -> tuple[list[int], int]:
    """Where the window's most recent `max_chars` of text begin: per conversation (in window order) the
    index of its first kept turn (its length when none is kept), and how many turns are left out.
    Whole turns only; the latest turn is always kept. Turn indices are unchanged, so evidence still
    points at the right turn."""
    first_kept = [0] * len(window.conversations)
    total, dropped, cut = 0, 0, False
    for position in range(len(window.conversations) - 1, -1, -1):
        turns = window.conversations[position].turns
        if cut:
            first_kept[position] = len(turns)
            dropped += len(turns)
            continue
        for index in range(len(turns) - 1, -1, -1):
            size = len(turns[index].text)
            if total > 0 and total + size > max_chars:
                cut = True
                first_kept[position] = index + 1
                dropped += index + 1
                break
            total += size
    return first_kept, dropped


def _kept(window: Window, max_chars: int) -> Iterator[tuple[Conversation, int]]:
    """Each conversation with the index of its first kept turn (see window_cut)."""
    first_kept, _ = window_cut(window, max_chars)
    yield from zip(window.conversations, first_kept, strict=True)


def patient_text(window: Window, roles: Iterable[str] = ("user",), max_chars: int = MAX_WINDOW_CHARS) -> str:
    """The plain text of a window's most recent turns (window_cut) of these roles (no tags, no
    markers), one turn per line."""
    wanted = set(roles)
    return "\n".join(
        t.text.strip()
        for c, start in _kept(window, max_chars)
        for t in c.turns[start:]
        if t.role in wanted and t.text.strip()
    )


@dataclass(frozen=True)
class Chunk:
    token_ids: tuple[int, ...]  # including the backbone's special tokens
    conversation_id: str
    turn_indices: tuple[int, ...]  # which turns of the conversation it holds (all or part of each)
    # A whole-window chunk also holds turns of later conversations: (conversation id, turn indices) each.
    more: tuple[tuple[str, tuple[int, ...]], ...] = ()

    @property
    def spans(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """(conversation id, turn indices) of every conversation the chunk holds turns of."""
        return ((self.conversation_id, self.turn_indices), *self.more)

    @property
    def key(self) -> bytes:
        return hashlib.blake2b(repr(self.token_ids).encode(), digest_size=16).digest()

    def __len__(self) -> int:
        return len(self.token_ids)


class Chunker:
    """Packs rendered turns into chunks of at most `max_tokens` tokens (special tokens included)."""

    def __init__(
        self,
        tokenizer: Any,
        *,
        max_tokens: int,
        kind: str,
        view: InputView | None = None,
        max_chars: int = MAX_WINDOW_CHARS,
    ) -> None:
        if max_tokens < 16:
            raise ValueError("max_tokens must be at least 16")
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.max_chars = max_chars
        self.kind = kind
        self.view = view or InputView()
        if kind == "encoder" and tokenizer.cls_token_id is not None and tokenizer.sep_token_id is not None:
            self.prefix: tuple[int, ...] = (tokenizer.cls_token_id,)
            self.suffix: tuple[int, ...] = (tokenizer.sep_token_id,)
        elif kind == "decoder" and tokenizer.eos_token_id is not None:
            # Last-token pooling reads the hidden state at EOS: it has seen the whole chunk.
            self.prefix, self.suffix = (), (tokenizer.eos_token_id,)
        else:
            self.prefix, self.suffix = (), ()
        self.budget = max_tokens - len(self.prefix) - len(self.suffix)

    def _wrap(self, ids: list[int]) -> tuple[int, ...]:
        return self.prefix + tuple(ids) + self.suffix

    @classmethod
    def for_artifact(cls, tokenizer: Any, *, kind: str, manifest: Mapping[str, Any]) -> Chunker:
        """The one way training and scoring build their chunker: from the (partial) manifest."""
        return cls(
            tokenizer,
            max_tokens=int(manifest["max_tokens"]),
            kind=kind,
            view=InputView.from_manifest(manifest),
        )

    def chunk_conversation(
        self, conversation: Conversation, turn_ids: list[tuple[int, list[int]]]
    ) -> list[Chunk]:
        """`turn_ids`: (turn index, token ids) of the turns read, in order."""
        return self.chunk_stream([(conversation.id, index, ids) for index, ids in turn_ids])

    def chunk_stream(self, pieces: list[tuple[str, int, list[int]]]) -> list[Chunk]:
        """Pack (conversation id, turn index, token ids) in order into chunks: a turn longer than a whole
        chunk is split, shorter turns are packed whole."""
        chunks: list[Chunk] = []
        ids: list[int] = []
        spans: list[tuple[str, list[int]]] = []

        def close() -> None:
            nonlocal ids, spans
            (first, first_turns), *rest = spans
            more = tuple((c, tuple(t)) for c, t in rest)
            chunks.append(Chunk(self._wrap(ids), first, tuple(first_turns), more))
            ids, spans = [], []

        for conversation_id, index, piece in pieces:
            while len(piece) > self.budget:
                if ids:
                    close()
                chunks.append(Chunk(self._wrap(piece[: self.budget]), conversation_id, (index,)))
                piece = piece[self.budget :]
            if not piece:
                continue
            if len(ids) + len(piece) > self.budget:
                close()
            ids.extend(piece)
            if spans and spans[-1][0] == conversation_id:
                spans[-1][1].append(index)
            else:
                spans.append((conversation_id, [index]))
        if ids:
            close()
        return chunks

    def chunk_windows(self, windows: list[Window]) -> list[list[Chunk]]:
        """Chunks for each window; one batched tokenizer call for all turns of all windows."""
        # Only the window's most recent text (window_cut), with the turns' original indices.
        read = [
            [
                [(i, text) for i, text in self.view.turns(c, window_end=w.end) if i >= start]
                for c, start in _kept(w, self.max_chars)
            ]
            for w in windows
        ]
        texts = [text for per_window in read for per_conv in per_window for _, text in per_conv]
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        position = 0
        result: list[list[Chunk]] = []
        for window, per_window in zip(windows, read, strict=True):
            window_chunks: list[Chunk] = []
            stream: list[tuple[str, int, list[int]]] = []
            for conversation, per_conv in zip(window.conversations, per_window, strict=True):
                n = len(per_conv)
                pieces = [
                    (conversation.id, index, ids)
                    for (index, _), ids in zip(per_conv, encoded[position : position + n], strict=True)
                ]
                if self.view.whole_window:
                    stream.extend(pieces)
                else:
                    window_chunks.extend(self.chunk_stream(pieces))
                position += n
            result.append(self.chunk_stream(stream) if self.view.whole_window else window_chunks)
        return result
