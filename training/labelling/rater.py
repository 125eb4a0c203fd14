"""Cold start: the validated Claude labeller as the scorer, until a trained model is good enough.

A clinic with no questionnaires yet has no model worth running. A care team may choose (off by
default) to have its consented patients' windows rated by the same prompt that makes the pseudo-labels
(training/labelling/claude.py): the text is redacted with the patient's known identifiers, rated, and the
rating becomes a prediction that names its method (model and prompt version).

What makes such a rating trustworthy is the clinic's own questionnaires. `validate_rater` compares the
rater with them (training/labelling/validation.py): with at least `min_pairs` pairs it keeps the map of
totals (when it helps on held-out patients) and a split-conformal interval from residuals that no
fitted map has seen (each half of the patients is mapped by the other half's fit). Until then a rating
carries no interval (the whole scale) and says "not yet validated here".

The first trained model replaces the rater only through its own gate (`first_model_gate` in
training/promotion.py): enough questionnaire patients, and test metrics at least as good as the rater's
on the same test windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from scoring.calibration import Calibration
from scoring.ensemble import ChunkEvidence, WindowScore
from scoring.phq9 import N_ITEMS, TOTAL_MAX, band_for
from scoring.types import Conversation, Window
from scoring.windowing import MAX_WINDOW_CHARS, window_cut
from training.labelling.claude import ClaudeLabeler, LabelingReport
from training.labelling.label import ClaudeLabel, quote_found
from training.labelling.prompt import PROMPT_VERSION, LabelRequest, redacted_bodies
from training.labelling.validation import (
    TotalMap,
    ValidationPair,
    fit_total_map,
    isotonic_map,
    items_for_total,
    patient_half,
    validation_report,
)

CHARS_PER_TOKEN = 4  # rule of thumb for English text
COVERAGE = 0.8  # the interval's target coverage, as for trained models (scoring.calibration)
QUOTE_JOIN = " … "  # how parse_label joins an item's quotes


def rater_version(labeler_variant: str) -> str:
    """The registry name of a rating method: model, prompt version and sampling (at most 64 chars)."""
    model, *rest = labeler_variant.split("|")
    options = "-".join(part.split("=")[1] for part in rest)
    return f"llm-{model}-{PROMPT_VERSION}-{options}"[:64]


@dataclass(frozen=True)
class RaterValidation:
    """The rater against this clinic's questionnaires: the report (label_validation), the map of totals
    if one helps, and the interval (None until `min_pairs` pairs with a total exist)."""

    report: dict
    total_map: TotalMap | None = None
    calibration: Calibration | None = None
    validated_at: str = ""
    min_pairs: int = 0

    @property
    def validated(self) -> bool:
        return self.calibration is not None

    def to_dict(self) -> dict:
        return {
            "report": self.report,
            "total_map": self.total_map.to_dict() if self.total_map else None,
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "validated_at": self.validated_at,
            "min_pairs": self.min_pairs,
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> RaterValidation | None:
        if not data:
            return None
        return cls(
            report=dict(data.get("report") or {}),
            total_map=TotalMap.from_dict(data["total_map"]) if data.get("total_map") else None,
            calibration=Calibration.from_dict(data["calibration"]) if data.get("calibration") else None,
            validated_at=str(data.get("validated_at", "")),
            min_pairs=int(data.get("min_pairs", 0)),
        )


def _out_of_half_totals(pairs: list[ValidationPair]) -> list[float] | None:
    """Each pair's total mapped by a map fitted on the other half of the patients (None if a half is
    too small to fit)."""
    halves = [[p for p in pairs if patient_half(p.group) == h] for h in (0, 1)]
    if min(len(h) for h in halves) < 3:
        return None
    maps = [isotonic_map(halves[1]), isotonic_map(halves[0])]  # half h is mapped by the other's fit
    return [maps[patient_half(p.group)](p.label.total) for p in pairs]


def validate_rater(
    pairs: list[ValidationPair], *, min_pairs: int, now: datetime | None = None
) -> RaterValidation:
    """Rater vs questionnaires on these pairs. The interval needs `min_pairs` pairs with a total; its
    residuals are of raw totals, or, when a map is applied, of totals mapped by the other half's fit
    (a residual never comes from a map fitted on its own pair)."""
    report = validation_report(pairs)
    total_map, info = fit_total_map(pairs, min_pairs=min_pairs)
    report["calibration"] = info
    usable = [p for p in pairs if p.label.has_total]
    calibration = None
    if len(usable) >= max(min_pairs, 1):
        predicted = [p.label.total for p in usable]
        if total_map is not None:
            predicted = _out_of_half_totals(usable) or predicted
            report["mae_mapped_out_of_half"] = round(
                float(np.mean([abs(t - p.truth_total) for t, p in zip(predicted, usable, strict=True)])), 3
            )
        residuals = [t - p.truth_total for t, p in zip(predicted, usable, strict=True)]
        calibration = Calibration.fit(
            residuals, coverage=COVERAGE, predicted=predicted, groups=[p.group for p in usable]
        )
        if not calibration.stated:  # pairs enough, patients too few: still not validated here
            report["interval"] = calibration.withheld
            calibration = None
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    return RaterValidation(report, total_map, calibration, validated_at=stamp, min_pairs=min_pairs)


def gate_totals(
    pairs: list[ValidationPair], test: dict[str, ClaudeLabel], *, test_groups: set[str], min_pairs: int
) -> tuple[dict[str, float], dict]:
    """The rater's totals on the run's held-out test windows (`test`: window id -> raw label) for the
    first-model gate, mapped by a map of totals fitted on the validation `pairs` of patients outside
    `test_groups` only: a map fitted on the test patients' own pairs would make the rater's error there
    partly in-sample. Returns the totals (windows with a total) and the map's report."""
    development = [p for p in pairs if p.group not in test_groups]
    total_map, info = fit_total_map(development, min_pairs=min_pairs)
    info = {**info, "fitted_without_test_patients": True, "pairs": len(development)}
    return {
        window_id: (total_map(label.total) if total_map is not None else float(label.total))
        for window_id, label in test.items()
        if label.has_total
    }, info


@dataclass
class Rating:
    """What the rater made of one window: the score, whether its interval is validated here, and the
    label it came from (None with the reason when the window could not be rated)."""

    score: WindowScore | None
    validated: bool = False
    why_not: str = ""


def _scaled_items(label: ClaudeLabel, total: float) -> tuple[float, ...]:
    """The label's items spread to the mapped total, each within 0..3 (as apply_total_map does)."""
    return tuple(round(v, 4) for v in items_for_total(tuple(label.items), total))


def _evidence(
    label: ClaudeLabel, request: LabelRequest, offsets: dict[str, int]
) -> tuple[ChunkEvidence, ...]:
    """The patient turns each item's quotes were found in, as 'chunks' of one turn with weight 1 for the
    items that quoted it (0 for the others): the prediction's evidence points at what was quoted."""
    bodies = redacted_bodies(request)
    located: list[tuple[str, int, str]] = []  # conversation id, original turn index, redacted body
    position = 0
    for conversation in request.window.conversations:
        for index, turn in enumerate(conversation.turns):
            if turn.role == "user":
                located.append((conversation.id, offsets.get(conversation.id, 0) + index, bodies[position]))
            position += 1
    weights: dict[tuple[str, int], list[float]] = {}
    for item, quoted in enumerate(label.evidence):
        if not label.usable[item]:
            continue
        for quote in (q for q in quoted.split(QUOTE_JOIN) if q.strip()):
            for conversation_id, index, body in located:
                if quote_found(quote.rstrip("…").strip(), body):
                    weights.setdefault((conversation_id, index), [0.0] * N_ITEMS)[item] = 1.0
                    break
    return tuple(ChunkEvidence(c, (i,), tuple(w)) for (c, i), w in weights.items())


def _kept_window(window: Window, max_chars: int) -> tuple[Window, dict[str, int], int]:
    """The window's most recent `max_chars` of text (scoring.windowing.window_cut: what a trained model
    reads too), each conversation's first kept turn index, and the turns left out."""
    first_kept, left_out = window_cut(window, max_chars)
    conversations = tuple(
        Conversation(c.id, c.turns[k:])
        for c, k in zip(window.conversations, first_kept, strict=True)
        if k < len(c.turns)
    )
    offsets = {c.id: k for c, k in zip(window.conversations, first_kept, strict=True)}
    return replace(window, conversations=conversations), offsets, left_out


@dataclass
class LlmRater:
    """The labeller used as a scorer (see the module's docstring)."""

    labeler: ClaudeLabeler
    version: str
    validation: RaterValidation | None = None
    max_chars: int = MAX_WINDOW_CHARS
    report: LabelingReport = field(default_factory=LabelingReport)

    def labels(self, requests: list[LabelRequest]) -> LabelingReport:
        """The raw labels of these windows' most recent text (no map, no interval): what validation
        compares with questionnaires."""
        sent = [replace(r, window=_kept_window(r.window, self.max_chars)[0]) for r in requests]
        labelled = self.labeler.label(sent)
        self.report.add(labelled)
        return labelled

    def rate(self, requests: list[LabelRequest]) -> list[Rating]:
        """One rating per request, in order. A window the labeller could not rate (no consent, failed
        call, budget reached) or that gave too little to go on (more than MAX_NOT_ASSESSABLE items not
        assessable: no total) gets a Rating without a score and the reason."""
        kept = [_kept_window(r.window, self.max_chars) for r in requests]
        sent = [replace(r, window=k[0]) for r, k in zip(requests, kept, strict=True)]
        labelled = self.labeler.label(sent)
        self.report.add(labelled)
        validated = self.validation is not None and self.validation.validated
        ratings = []
        for request, (window, offsets, left_out) in zip(sent, kept, strict=True):
            label = labelled.labels.get(window.id)
            if label is None:
                why = (
                    "no consent to external processing"
                    if not request.consent_external
                    else (labelled.failed.get(window.id) or labelled.stopped or "not rated")
                )
                ratings.append(Rating(None, why_not=why))
                continue
            if not label.has_total:
                ratings.append(Rating(None, why_not="too few items assessable for a total"))
                continue
            ratings.append(Rating(self._score(label, request, window, offsets, left_out), validated))
        return ratings

    def _score(
        self,
        label: ClaudeLabel,
        request: LabelRequest,
        window: Window,
        offsets: dict[str, int],
        left_out: int,
    ) -> WindowScore:
        validation = self.validation
        total = label.total
        if validation is not None and validation.validated and validation.total_map is not None:
            total = min(float(TOTAL_MAX), max(0.0, validation.total_map(total)))
        items = _scaled_items(label, total)
        total = round(sum(items), 4)
        if validation is not None and validation.calibration is not None:
            interval = validation.calibration.interval(total)
        else:
            interval = (0.0, float(TOTAL_MAX))  # nothing known about its error here yet
        patient_chars = sum(len(t.text) for c in window.conversations for t in c.turns if t.role == "user")
        return WindowScore(
            window_id=window.id,
            total=total,
            items=items,
            interval=interval,
            band=band_for(total).key,
            model_version=self.version,
            n_chunks=0,
            # Patient text in tokens, estimated at 4 characters a token (the rater has no tokenizer here):
            # the same too-little-text guard of the alert rules applies.
            n_tokens=math.ceil(patient_chars / CHARS_PER_TOKEN),
            evidence=_evidence(label, request, offsets),
            n_turns_left_out=left_out,
        )
