"""Turn a window of conversations into backbone-sized token chunks.

Chunks never straddle two conversations and are packed on turn boundaries, so each chunk maps back to
the turns it came from (used for evidence) and a conversation's chunks are the same in every window
that contains it (so their embeddings can be cached across overlapping windows).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from scoring.types import Conversation, Turn, Window

ROLE_TAGS = {"user": "[user]", "assistant": "[assistant]"}


def render_turn(turn: Turn) -> str:
    return f"{ROLE_TAGS[turn.role]} {turn.text.strip()}"


@dataclass(frozen=True)
class Chunk:
    token_ids: tuple[int, ...]  # including the backbone's special tokens
    conversation_id: str
    turn_indices: tuple[int, ...]  # which turns of the conversation it holds (all or part of each)

    @property
    def key(self) -> bytes:
        return hashlib.blake2b(repr(self.token_ids).encode(), digest_size=16).digest()

    def __len__(self) -> int:
        return len(self.token_ids)


class Chunker:
    """Packs rendered turns into chunks of at most `max_tokens` tokens (special tokens included)."""

    def __init__(self, tokenizer: Any, *, max_tokens: int, kind: str) -> None:
        if max_tokens < 16:
            raise ValueError("max_tokens must be at least 16")
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.kind = kind
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

    def chunk_conversation(self, conversation: Conversation, turn_ids: list[list[int]]) -> list[Chunk]:
        chunks: list[Chunk] = []
        ids: list[int] = []
        turns: list[int] = []
        for index, piece in enumerate(turn_ids):
            # A turn longer than a whole chunk is split; shorter turns are packed whole.
            while len(piece) > self.budget:
                if ids:
                    chunks.append(Chunk(self._wrap(ids), conversation.id, tuple(turns)))
                    ids, turns = [], []
                chunks.append(Chunk(self._wrap(piece[: self.budget]), conversation.id, (index,)))
                piece = piece[self.budget :]
            if not piece:
                continue
            if len(ids) + len(piece) > self.budget:
                chunks.append(Chunk(self._wrap(ids), conversation.id, tuple(turns)))
                ids, turns = [], []
            ids.extend(piece)
            turns.append(index)
        if ids:
            chunks.append(Chunk(self._wrap(ids), conversation.id, tuple(turns)))
        return chunks

    def chunk_windows(self, windows: list[Window]) -> list[list[Chunk]]:
        """Chunks for each window; one batched tokenizer call for all turns of all windows."""
        texts = [render_turn(t) for w in windows for c in w.conversations for t in c.turns]
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        position = 0
        result: list[list[Chunk]] = []
        for window in windows:
            window_chunks: list[Chunk] = []
            for conversation in window.conversations:
                n = len(conversation.turns)
                window_chunks.extend(self.chunk_conversation(conversation, encoded[position : position + n]))
                position += n
            result.append(window_chunks)
        return result
