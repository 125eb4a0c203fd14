"""Claude labels through the Message Batches API: half the price of one call at a time, in exchange for
waiting (minutes to hours). Submitting and collecting are separate steps, so that nothing holds a worker
while the batch runs: `batch_submit` sends what the label store does not have yet and returns the batch
id (to keep, e.g. on the training run); `batch_collect` returns None while the batch is still running,
and once it has ended puts every usable label in the store, so that a later labelling pass (or a
resumed run) finds them there and pays nothing more.

Each request's custom id is the hash of what was sent (`window_hash`), plus the sample number when a
window is rated more than once. Consent and redaction are as for one call at a time (`render_for_labelling`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from training.labelling.claude import ClaudeLabeler, LabelingReport
from training.labelling.label import ClaudeLabel, MalformedLabel, combine_samples, parse_label
from training.labelling.prompt import LabelRequest, patient_turns, render_for_labelling, window_hash

log = logging.getLogger(__name__)


@dataclass
class BatchReport:
    batch_id: str = ""
    submitted: int = 0  # windows sent in the batch
    from_cache: int = 0
    skipped_consent: int = 0
    labelled: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # window hash -> why (errored, expired, malformed)
    input_tokens: int = 0
    output_tokens: int = 0


def _custom_id(digest: str, sample: int, samples: int) -> str:
    return digest if samples == 1 else f"{digest[:56]}-s{sample}"  # at most 64 characters


def batch_submit(labeler: ClaudeLabeler, requests: list[LabelRequest]) -> BatchReport:
    """Send, as one batch, every consented window whose label is not stored yet."""
    config = labeler.config
    report = BatchReport()
    batch: list[dict] = []
    seen: set[str] = set()
    for request in requests:
        if not request.consent_external:
            report.skipped_consent += 1
            continue
        text = render_for_labelling(request)
        digest = window_hash(text, config.variant)
        if labeler.cache.get(digest, config.model) is not None:
            report.from_cache += 1
            continue
        if digest in seen:
            continue
        seen.add(digest)
        for sample in range(config.samples):
            batch.append(
                {"custom_id": _custom_id(digest, sample, config.samples), "params": config.request(text)}
            )
        report.submitted += 1
    if batch:
        report.batch_id = labeler.client.messages.batches.create(requests=batch).id
        log.info("labelling batch %s: %d windows submitted", report.batch_id, report.submitted)
    return report


def batch_collect(labeler: ClaudeLabeler, batch_id: str, requests: list[LabelRequest]) -> BatchReport | None:
    """None while the batch runs; once ended, its labels stored (failures counted, never retried here:
    a later pass sends what is still missing) and the report."""
    client, config = labeler.client, labeler.config
    if client.messages.batches.retrieve(batch_id).processing_status != "ended":
        return None
    texts = {}
    for request in requests:
        if request.consent_external:
            text = render_for_labelling(request)
            texts[window_hash(text, config.variant)] = text
    ratings: dict[str, list[ClaudeLabel]] = {}
    report = BatchReport(batch_id=batch_id)
    for entry in client.messages.batches.results(batch_id):
        digest = entry.custom_id if config.samples == 1 else entry.custom_id.rsplit("-s", 1)[0]
        full = next((d for d in texts if d.startswith(digest)), None)
        if full is None:
            continue  # a window no longer asked for
        result = entry.result
        if result.type != "succeeded":
            report.failed[full] = result.type  # errored, expired, canceled
            continue
        try:
            label = parse_label(result.message, config.model, patient_text=patient_turns(texts[full]))
        except MalformedLabel as exc:
            report.failed[full] = f"malformed: {exc}"
            continue
        report.input_tokens += label.input_tokens
        report.output_tokens += label.output_tokens
        ratings.setdefault(full, []).append(label)
    for digest, labels in ratings.items():
        if digest in report.failed or len(labels) < config.samples:
            report.failed.setdefault(digest, "missing samples")
            continue
        labeler.cache.put(digest, combine_samples(labels))
        report.labelled += 1
    log.info("labelling batch %s: %d labels stored, %d failed", batch_id, report.labelled, len(report.failed))
    return report


class LabelsPending(Exception):
    """The labels a pass needs are in a Message Batch that has not ended: come back later."""

    def __init__(self, batch_id: str) -> None:
        super().__init__(f"waiting for labelling batch {batch_id}")
        self.batch_id = batch_id


class BatchingLabeler(ClaudeLabeler):
    """A labeller that, when a pass needs at least `min_windows` labels the store lacks, sends them as a
    Message Batch and raises LabelsPending instead of waiting; called again with that batch id once it
    has ended, it collects the batch into the store and labels from there (paying per call only for
    what the batch did not return). `on_batch` is told the batch id to keep ("" once collected)."""

    def __init__(
        self,
        *args: Any,
        min_windows: int,
        batch_id: str = "",
        on_batch: Callable[[str], None] = lambda batch_id: None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.min_windows = min_windows
        self.batch_id = batch_id
        self.on_batch = on_batch

    def label(
        self, requests: list[LabelRequest], *, on_progress: Callable[[int, int], None] | None = None
    ) -> LabelingReport:
        missing = self._missing(requests)
        if not missing:
            pass  # all stored (e.g. a pass an earlier batch served): the batch kept is another pass's
        elif self.batch_id:
            collected = batch_collect(self, self.batch_id, requests)
            if collected is None:
                raise LabelsPending(self.batch_id)
            self.batch_id = ""
            self.on_batch("")
            report = super().label(requests, on_progress=on_progress)
            report.batch_input_tokens += collected.input_tokens
            report.batch_output_tokens += collected.output_tokens
            return report
        elif missing >= self.min_windows:
            submitted = batch_submit(self, requests)
            if submitted.batch_id:
                self.batch_id = submitted.batch_id
                self.on_batch(submitted.batch_id)
                raise LabelsPending(submitted.batch_id)
        return super().label(requests, on_progress=on_progress)

    def _missing(self, requests: list[LabelRequest]) -> int:
        missing = set()
        for request in requests:
            if request.consent_external:
                digest = window_hash(render_for_labelling(request), self.config.variant)
                if self.cache.get(digest, self.config.model) is None:
                    missing.add(digest)
        return len(missing)
