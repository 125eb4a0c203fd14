"""The Prediction row of one scored window, whoever scored it (a trained model or the cold-start LLM
rater), and what a scoring call reports back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor_site.modelops.models import ModelVersion
from monitor_site.patients.models import ConversationSession
from monitor_site.predictions.models import Prediction
from scoring.ensemble import WindowScore
from scoring.self_harm import Detection, SelfHarmDetector
from scoring.types import Window

EVIDENCE_PER_ITEM = 3


@dataclass(frozen=True)
class Scored:
    """What a scoring or rating call stored: rows created, and the patients whose trajectory changed
    (the ones the alert rules are evaluated on next)."""

    rows: int = 0
    patient_ids: tuple[int, ...] = ()

    def __add__(self, other: Scored) -> Scored:
        return Scored(self.rows + other.rows, tuple(sorted({*self.patient_ids, *other.patient_ids})))


def evidence_of(score: WindowScore) -> list[list[dict]]:
    """Per item, the chunks with the largest attention weight: session id, turn indices, weight."""
    per_item = []
    for item in range(len(score.items)):
        ranked = sorted(score.evidence, key=lambda e: e.weights[item], reverse=True)[:EVIDENCE_PER_ITEM]
        per_item.append(
            [
                {"session": e.conversation_id, "turns": list(e.turn_indices), "weight": e.weights[item]}
                for e in ranked
                if e.weights[item] > 0  # an LLM rating's turns that did not inform this item
            ]
        )
    return per_item


def prediction_row(
    session: ConversationSession,
    window: Window,
    score: WindowScore,
    model_version: ModelVersion,
    **extra: Any,
) -> Prediction:
    """The row of one scored window (a trained model's, or with `extra` method and validated_here, an
    LLM rating's), with what the self-harm detector read in it."""
    return Prediction(
        patient_id=session.patient_id,
        session_id=session.pk,
        model_version=model_version,
        window_start=dated(window.start, window),
        window_end=dated(window.end, window),
        total=score.total,
        items=list(score.items),
        interval_low=score.interval[0],
        interval_high=score.interval[1],
        band=score.band,
        n_sessions=len(window.conversations),
        n_user_turns=window.n_user_turns,
        n_tokens=score.n_tokens,
        n_turns_left_out=score.n_turns_left_out,
        evidence=evidence_of(score),
        **risk_fields(detect_self_harm(window)),
        **extra,
    )


def detect_self_harm(window: Window) -> Detection:
    return SelfHarmDetector.default().detect(window)


def risk_fields(detection: Detection) -> dict[str, Any]:
    """The Prediction fields that hold a detection (the sentences stay in the database, as the messages
    do; never in logs or e-mails)."""
    return {
        "risk_language": detection.fired,
        "risk_score": round(detection.score, 4),
        "risk_evidence": [
            {
                "session": s.conversation_id,
                "turn": s.turn,
                "text": s.text,
                "sent_at": s.sent_at.isoformat() if s.sent_at else None,
                "score": round(s.score, 4),
            }
            for s in detection.evidence
        ],
        "detector_version": detection.version,
    }


def dated(moment: datetime | None, window: Window) -> datetime:
    """A bound of a window built by windows_for, which always dates both."""
    if moment is None:
        raise ValueError(f"window {window.id} has no start or end")
    return moment
