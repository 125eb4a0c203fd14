"""Stage 1 of the learning loop: PHQ-9 pseudo-labels from Claude, with structured tool output.

Before anything is sent: windows of patients without consent to external processing are skipped, and
the text is redacted (training/redaction.py) and rendered (training/labelling/prompt.py); the answer is
read and checked in training/labelling/label.py. Every label is kept in a cache keyed by the hash of
what was sent and the model id (training/labelling/cache.py), so a crashed or repeated run never pays
twice. Rate limits (429), server
errors (5xx), timeouts and dropped connections are retried with exponential backoff, then the window
is marked failed and labelling goes on. A token budget per run stops labelling cleanly when reached.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from training.labelling.cache import LabelCache
from training.labelling.label import ClaudeLabel, MalformedLabel, combine_samples, parse_label
from training.labelling.prompt import (
    TOOL,
    TOOL_NAME,
    LabelRequest,
    patient_turns,
    render_for_labelling,
    system_prompt,
    window_hash,
)

log = logging.getLogger(__name__)
DEFAULT_MODEL = "claude-opus-4-1"


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


class LabelingAborted(RuntimeError):
    """The API refused us outright (bad key, no permission): nothing more can be labelled."""


@dataclass
class LabelerConfig:
    """How Claude labels. The web app fills it from PSEUDO_LABEL_<FIELD> settings, which the environment
    sets or not: these defaults are the only ones (monitor_site/modelops/training_settings.py)."""

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
