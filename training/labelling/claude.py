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
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from scoring.phq9 import ANSWER_OPTIONS, ITEM_MAX, ITEM_QUESTIONS, N_ITEMS, QUESTION_STEM
from scoring.types import Window
from training.redaction import redact

log = logging.getLogger(__name__)
PROMPT_VERSION = "phq9-v2"  # part of the cache key: a new prompt means new labels
DEFAULT_MODEL = "claude-opus-4-1"
TOOL_NAME = "record_phq9"
PATIENT, ASSISTANT = "patient", "assistant"  # how turns are named to the labeller
MAX_NOT_ASSESSABLE = 2  # more items than this with nothing to go on: no total label for the window


def system_prompt() -> str:
    """The labeller's instructions, built from scoring.phq9 (the items verbatim, in order; the answer
    options with their day counts): what a psychometrician would give a human rater."""
    items = "\n".join(f"{i}. {q}" for i, q in enumerate(ITEM_QUESTIONS, start=1))
    options = "\n".join(f"{score} = {wording} ({days} of the 14)" for score, wording, days in ANSWER_OPTIONS)
    return (
        "You rate the PHQ-9, a depression questionnaire, for a person from what they wrote to a "
        "mental-health chat app. You see every turn of the two weeks before the rating date, oldest "
        "first, each with its date and who wrote it. Only the patient's own turns are evidence; the "
        "assistant's turns are context.\n\n"
        f"The question: {QUESTION_STEM}\n{items}\n\nAnswer options:\n{options}\n\n"
        "For each of the nine items, in this order:\n"
        "- assessable: false when the turns give nothing to go on for this item (not mentioned is not "
        "the same as absent: do not score an item 0 only because it was not talked about); true when "
        "they do, including when they show the problem is absent.\n"
        "- score: the answer the person would most likely give, counting the days in the two weeks the "
        "turns describe (use the dates); 0 when assessable and absent.\n"
        "- quotes: one to three short passages copied exactly, character for character, from the "
        "patient's own turns, that support the score; none when the score is 0 or not assessable.\n"
        f"When more than {MAX_NOT_ASSESSABLE} items are not assessable the window has no total; "
        "otherwise the total is prorated over the assessable items. Text in square brackets such as "
        "[NAME] was removed for privacy.\n"
        f"Answer only by calling the {TOOL_NAME} tool."
    )


TOOL = {
    "name": TOOL_NAME,
    "description": "Record the PHQ-9 rating of the window: per item, whether it is assessable, the score "
    "and verbatim quotes from the patient's turns.",
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
                        "assessable": {"type": "boolean"},
                        "score": {"type": "integer", "minimum": 0, "maximum": ITEM_MAX},
                        "quotes": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                    },
                    "required": ["assessable", "score", "quotes"],
                },
            },
        },
        "required": ["items"],
    },
}


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
    invalid_quotes: int = 0  # items whose quotes were not in the patient's turns (not used)
    batch_input_tokens: int = 0  # tokens of labels bought through a Message Batch (half price)
    batch_output_tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    retries: int = 0
    stopped: str = ""  # why labelling stopped early, if it did

    def add(self, other: LabelingReport) -> None:
        """Fold another labelling pass of the same run into this one (counts, tokens, hashes; not
        its labels, which belong to that pass)."""
        for name in (
            "from_cache",
            "labelled",
            "skipped_consent",
            "not_sent",
            "input_tokens",
            "output_tokens",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.retries += other.retries
        self.invalid_quotes += other.invalid_quotes
        self.batch_input_tokens += other.batch_input_tokens
        self.batch_output_tokens += other.batch_output_tokens
        self.failed.update(other.failed)
        self.window_hashes.update(other.window_hashes)
        self.stopped = self.stopped or other.stopped

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


SEPARATOR = "\n\u00b6\u00b6\n"  # between turn bodies while redacting: nothing a pattern can match


def redacted_bodies(request: LabelRequest) -> list[str]:
    """The window's turn texts as sent, oldest first, one conversation after another: redacted together
    (a name found in one turn is removed from all of them)."""
    turns = [t for c in request.window.conversations for t in c.turns]
    return redact(SEPARATOR.join(t.text.strip() for t in turns), names=request.names).split(SEPARATOR)


def render_for_labelling(request: LabelRequest) -> str:
    """Every turn, oldest first, one conversation after another, each with its date and who wrote it
    (the text redacted, see redacted_bodies)."""
    bodies = redacted_bodies(request)
    lines = [f"Rating date: {request.window.end:%Y-%m-%d}"] if request.window.end else []
    position = 0
    for conversation in request.window.conversations:
        lines.append("--- conversation ---")
        for turn in conversation.turns:
            when = f"{turn.sent_at:%Y-%m-%d %a %H:%M}" if turn.sent_at else "date unknown"
            who = PATIENT if turn.role == "user" else ASSISTANT
            lines.append(f"[{when}] {who}: {bodies[position]}")
            position += 1
    return "\n".join(lines)


def quote_found(quote: str, text: str) -> bool:
    """Whether `quote` is in `text`, spaces and quote marks aside (how quotes are verified)."""
    return _normalised(quote) in _normalised(text)


def patient_turns(text: str) -> str:
    """The patient's turns of a rendered window (what quotes must come from), one a line."""
    marker = f"] {PATIENT}: "
    return "\n".join(line.split(marker, 1)[1] for line in text.splitlines() if marker in line)


def window_hash(text: str, model: str) -> str:
    return hashlib.sha256(f"{PROMPT_VERSION}\n{model}\n{text}".encode()).hexdigest()


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


@dataclass
class LabelerConfig:
    model: str = DEFAULT_MODEL
    max_retries: int = 4  # per window, for 429 / 5xx / timeouts / connection errors
    backoff_seconds: float = 2.0  # doubled after each retry, capped at 60 s (Retry-After wins if larger)
    token_budget: int = 2_000_000  # input + output tokens per run; 0 = no labelling at all
    max_output_tokens: int = 1024
    samples: int = 1  # ratings per window; their agreement becomes the label's confidence
    thinking_budget: int = 0  # extended thinking tokens per rating; 0 = off

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.backoff_seconds < 0 or self.token_budget < 0:
            raise ValueError("max_retries, backoff_seconds and token_budget must be >= 0")
        if self.samples < 1:
            raise ValueError("samples must be at least 1")
        if self.thinking_budget and self.thinking_budget < 1024:
            raise ValueError("thinking_budget must be 0 (off) or at least 1024 tokens (the API's minimum)")

    @property
    def variant(self) -> str:
        """What besides the prompt and the text changes a label: part of the cache key."""
        return f"{self.model}|samples={self.samples}|thinking={self.thinking_budget}"

    def request(self, text: str) -> dict[str, Any]:
        """The Messages API parameters for one rating. With extended thinking the API refuses a forced
        tool and any temperature but 1: the tool is required with tool_choice "any" instead."""
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_output_tokens + self.thinking_budget,
            # The fixed instructions are cached by the API across windows (prompt caching).
            "system": [{"type": "text", "text": system_prompt(), "cache_control": {"type": "ephemeral"}}],
            "tools": [TOOL],
            "messages": [{"role": "user", "content": text}],
        }
        if self.thinking_budget:
            params["thinking"] = {"type": "enabled", "budget_tokens": self.thinking_budget}
            params["tool_choice"] = {"type": "any"}
        else:
            params["tool_choice"] = {"type": "tool", "name": TOOL_NAME}
        return params


def anthropic_client(
    *, api_key: str | None = None, base_url: str | None = None, timeout: float | None = None
) -> Any:
    """The one place an Anthropic client is made, for the web app and the CLI alike. The SDK's own retries
    are off (max_retries=0): ClaudeLabeler retries, counts and backs off itself. No key: the SDK reads
    $ANTHROPIC_API_KEY; no base URL or timeout: the SDK's defaults."""
    import anthropic

    options: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
    return anthropic.Anthropic(api_key=api_key, base_url=base_url or None, max_retries=0, **options)


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
            digest = window_hash(text, self.config.variant)
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
                    label = combine_samples([self._call(text, report) for _ in range(self.config.samples)])
                    report.invalid_quotes += label.invalid_quotes
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
                message = self.client.messages.create(**self.config.request(text))
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
            return parse_label(message, self.config.model, patient_text=patient_turns(text))
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
