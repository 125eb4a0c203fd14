"""Stage 1 of the learning loop: PHQ-9 pseudo-labels from Claude, with structured tool output.

Before anything is sent: windows of patients without consent to external processing are skipped, and
the text is redacted (training/redaction.py). Every label is kept in a cache keyed by the hash of what
was sent and the model id, so a crashed or repeated run never pays twice. Rate limits (429), server
errors (5xx), timeouts and dropped connections are retried with exponential backoff, then the window
is marked failed and labelling goes on. A token budget per run stops labelling cleanly when reached.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from scoring.phq9 import ITEM_MAX, N_ITEMS
from scoring.types import Window
from scoring.windowing import render_turn
from training.redaction import redact

log = logging.getLogger(__name__)
PROMPT_VERSION = "phq9-v1"  # part of the cache key: a new prompt means new labels
DEFAULT_MODEL = "claude-opus-4-1"
TOOL_NAME = "record_phq9"
SYSTEM_PROMPT = (
    "You are a clinical research assistant. From a person's messages to a mental-health chat app over "
    "the last two weeks, estimate how they would answer each PHQ-9 item (0 = not at all, 1 = several "
    "days, 2 = more than half the days, 3 = nearly every day). Score only what the messages support; "
    "with no evidence for an item, score 0. Quote a short piece of the user's own words as evidence "
    f"for each item (empty if none). Always answer by calling the {TOOL_NAME} tool."
)
TOOL = {
    "name": TOOL_NAME,
    "description": "Record the estimated PHQ-9 item scores with evidence.",
    "input_schema": {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "minItems": N_ITEMS,
                "maxItems": N_ITEMS,
                "description": "The nine PHQ-9 items in questionnaire order.",
                "items": {
                    "type": "object",
                    "properties": {
                        "score": {"type": "integer", "minimum": 0, "maximum": ITEM_MAX},
                        "evidence": {"type": "string", "description": "a short quote, or empty"},
                    },
                    "required": ["score", "evidence"],
                },
            },
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["items", "confidence"],
    },
}


@dataclass(frozen=True)
class ClaudeLabel:
    items: tuple[int, ...]
    evidence: tuple[str, ...]
    confidence: float
    model: str
    input_tokens: int
    output_tokens: int

    @property
    def total(self) -> int:
        return sum(self.items)


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


@dataclass(frozen=True)
class LabelRequest:
    window: Window
    consent_external: bool  # the patient allows processing by an external model
    names: tuple[str, ...] = ()  # known names to redact


@dataclass
class LabelingReport:
    labels: dict[str, ClaudeLabel] = field(default_factory=dict)  # window id -> label
    window_hashes: dict[str, str] = field(default_factory=dict)
    from_cache: int = 0
    labelled: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # window id -> reason
    skipped_consent: int = 0
    not_sent: int = 0  # after labelling stopped (budget reached, key refused)
    input_tokens: int = 0
    output_tokens: int = 0
    retries: int = 0
    stopped: str = ""  # why labelling stopped early, if it did

    def counts(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("labels")
        data.pop("window_hashes")
        data["failed"] = len(self.failed)
        return data


class MalformedLabel(ValueError):
    pass


class LabelingAborted(RuntimeError):
    """The API refused us outright (bad key, no permission): nothing more can be labelled."""


def render_for_labelling(request: LabelRequest) -> str:
    """The user's and assistant's turns, oldest first, one conversation after another, redacted."""
    parts = []
    for conversation in request.window.conversations:
        parts.append("--- conversation ---")
        parts.extend(render_turn(t) for t in conversation.turns)
    return redact("\n".join(parts), names=request.names)


def window_hash(text: str, model: str) -> str:
    return hashlib.sha256(f"{PROMPT_VERSION}\n{model}\n{text}".encode()).hexdigest()


def parse_label(message: Any, model: str) -> ClaudeLabel:
    """The tool call in a Messages API response -> ClaudeLabel, or MalformedLabel saying what is wrong."""
    blocks = [b for b in getattr(message, "content", []) if getattr(b, "type", "") == "tool_use"]
    block = next((b for b in blocks if b.name == TOOL_NAME), None)
    if block is None:
        raise MalformedLabel(f"no {TOOL_NAME} tool call in the response")
    data = block.input if isinstance(block.input, dict) else {}
    items = data.get("items")
    if not isinstance(items, list) or len(items) != N_ITEMS:
        raise MalformedLabel(f"expected {N_ITEMS} items, got {items!r:.80}")
    scores, evidence = [], []
    for i, item in enumerate(items):
        score = item.get("score") if isinstance(item, dict) else None
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= ITEM_MAX:
            raise MalformedLabel(f"item {i + 1}: score must be an integer 0..3, got {score!r}")
        scores.append(score)
        evidence.append(str(item.get("evidence", ""))[:500])
    confidence = data.get("confidence", 0.0)
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
        raise MalformedLabel(f"confidence must be a number 0..1, got {confidence!r}")
    usage = getattr(message, "usage", None)
    return ClaudeLabel(
        items=tuple(scores),
        evidence=tuple(evidence),
        confidence=float(confidence),
        model=model,
        input_tokens=int(getattr(usage, "input_tokens", 0) or 0),
        output_tokens=int(getattr(usage, "output_tokens", 0) or 0),
    )


@dataclass
class LabelerConfig:
    model: str = DEFAULT_MODEL
    max_retries: int = 4  # per window, for 429 / 5xx / timeouts / connection errors
    backoff_seconds: float = 2.0  # doubled after each retry, capped at 60 s (Retry-After wins if larger)
    token_budget: int = 2_000_000  # input + output tokens per run; 0 = no labelling at all
    max_output_tokens: int = 1024

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.backoff_seconds < 0 or self.token_budget < 0:
            raise ValueError("max_retries, backoff_seconds and token_budget must be >= 0")


class ClaudeLabeler:
    def __init__(
        self,
        client: Any,
        config: LabelerConfig,
        cache: LabelCache,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client  # anthropic.Anthropic, created with max_retries=0: retries are counted here
        self.config = config
        self.cache = cache
        self.sleep = sleep

    def label(
        self, requests: list[LabelRequest], *, on_progress: Callable[[int, int], None] | None = None
    ) -> LabelingReport:
        report = LabelingReport()
        for done, request in enumerate(requests, start=1):
            window_id = request.window.id
            if not request.consent_external:
                report.skipped_consent += 1
                continue
            text = render_for_labelling(request)
            digest = window_hash(text, self.config.model)
            report.window_hashes[window_id] = digest
            cached = self.cache.get(digest, self.config.model)
            if cached is not None:
                report.labels[window_id] = cached
                report.from_cache += 1
            elif report.stopped or report.input_tokens + report.output_tokens >= self.config.token_budget:
                report.stopped = report.stopped or f"token budget of {self.config.token_budget} reached"
                report.not_sent += 1
            else:
                try:
                    label = self._call(text, report)
                except MalformedLabel as exc:
                    report.failed[window_id] = f"malformed: {exc}"
                except LabelingAborted as exc:
                    report.failed[window_id] = str(exc)
                    report.stopped = str(exc)
                except _GaveUp as exc:
                    report.failed[window_id] = str(exc)
                else:
                    self.cache.put(digest, label)
                    report.labels[window_id] = label
                    report.labelled += 1
            if on_progress:
                on_progress(done, len(requests))
        log.info("pseudo-labelling: %s", json.dumps(report.counts()))
        return report

    def _call(self, text: str, report: LabelingReport) -> ClaudeLabel:
        import anthropic

        delay = self.config.backoff_seconds
        for attempt in range(self.config.max_retries + 1):
            try:
                message = self.client.messages.create(
                    model=self.config.model,
                    max_tokens=self.config.max_output_tokens,
                    system=SYSTEM_PROMPT,
                    tools=[TOOL],
                    tool_choice={"type": "tool", "name": TOOL_NAME},
                    messages=[{"role": "user", "content": text}],
                )
            except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
                raise LabelingAborted(
                    f"the Anthropic API refused the key ({exc.status_code}); check it"
                ) from exc
            except (
                anthropic.RateLimitError,
                anthropic.InternalServerError,
                anthropic.APIConnectionError,
            ) as exc:
                # APITimeoutError is an APIConnectionError.
                reason = _reason(exc)
                if attempt == self.config.max_retries:
                    raise _GaveUp(f"gave up after {attempt + 1} attempts: {reason}") from exc
                wait = max(delay, _retry_after(exc))
                log.warning("labelling call failed (%s); retrying in %.1fs", reason, wait)
                report.retries += 1
                self.sleep(min(wait, 60.0))
                delay *= 2
                continue
            except anthropic.APIStatusError as exc:
                raise _GaveUp(f"the API answered {exc.status_code}") from exc
            usage = getattr(message, "usage", None)
            report.input_tokens += int(getattr(usage, "input_tokens", 0) or 0)
            report.output_tokens += int(getattr(usage, "output_tokens", 0) or 0)
            return parse_label(message, self.config.model)
        raise AssertionError("unreachable")


class _GaveUp(RuntimeError):
    pass


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    return f"HTTP {status}" if status else type(exc).__name__


def _retry_after(exc: Exception) -> float:
    response = getattr(exc, "response", None)
    try:
        return float(response.headers.get("retry-after", 0)) if response is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


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
                    label = ClaudeLabel(
                        tuple(row["items"]),
                        tuple(row["evidence"]),
                        row["confidence"],
                        row["model"],
                        row["input_tokens"],
                        row["output_tokens"],
                    )
                    self.labels[(row["window_hash"], label.model)] = label

    def get(self, window_hash: str, model: str) -> ClaudeLabel | None:
        return self.labels.get((window_hash, model))

    def put(self, window_hash: str, label: ClaudeLabel) -> None:
        self.labels[(window_hash, label.model)] = label
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:  # appended at once: a crash loses at most the label in flight
            handle.write(json.dumps({"window_hash": window_hash, **asdict(label)}) + "\n")
