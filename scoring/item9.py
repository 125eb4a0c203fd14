"""The item-9 flag a clinician sees: the union of its sources, decided by one function that the batch CLI
and the web app both call.

Item 9 of the PHQ-9 asks about "thoughts that you would be better off dead, or of hurting yourself".
A window is flagged when any of these holds:
- "detector": the self-harm risk-language detector (scoring/self_harm.py) fired on a patient sentence;
- "model": the model's item 9 reaches the threshold its card recommends or, when the card recommends
  none, the rule's own value, unless the model was trained without item-level answers (totals only):
  then its item values carry no item information, and its item 9 is shown, labelled, and never flags;
- "self-report": the patient's own latest questionnaire answered item 9 >= 1 (web app only).
"""

from __future__ import annotations

from dataclasses import dataclass

from scoring.self_harm import Detection, RiskSentence

SOURCES = ("detector", "model", "self-report")
RULE_VALUE = 0.5  # the item-9 rule's value when a model's card recommends no threshold


@dataclass(frozen=True)
class ModelItem9:
    """How a model's item 9 may be read, from its card (manifest)."""

    threshold: float | None  # the line its item 9 flags at; None: its item 9 never flags
    validated: bool  # the card recommends a threshold (chosen on held-out patients with item 9 answers)
    why: str  # for a label beside the value when not validated


def model_item9(manifest: dict, *, rule_value: float = RULE_VALUE, use_card: bool = True) -> ModelItem9:
    """The card's recommended item-9 threshold, or the rule's value (also when an admin overrides the
    card: `use_card` False), or none for a totals-only model."""
    card = manifest.get("item9_flag") or {}
    recommended = card.get("threshold") if isinstance(card, dict) else None
    if isinstance(recommended, int | float) and not isinstance(recommended, bool):
        return ModelItem9(float(recommended) if use_card else rule_value, True, "")
    with_items = (manifest.get("training_data") or {}).get("with_items")
    if with_items == 0:
        return ModelItem9(None, False, "trained on totals only: its item values carry no item information")
    return ModelItem9(rule_value, False, "not validated for this model")


@dataclass(frozen=True)
class Item9:
    flag: bool
    sources: tuple[str, ...]  # which fired, in the order of SOURCES
    evidence: tuple[RiskSentence, ...]  # the detector's sentences (the other sources have none)
    model: ModelItem9
    detector_version: str


def item9_sources(
    *, detector_fired: bool, model_value: float | None, model: ModelItem9, self_report_item9: int | None
) -> tuple[str, ...]:
    """Which sources flag, in the order of SOURCES: the one union every surface uses."""
    fired = {
        "detector": detector_fired,
        "model": model.threshold is not None and model_value is not None and model_value >= model.threshold,
        "self-report": self_report_item9 is not None and self_report_item9 >= 1,
    }
    return tuple(s for s in SOURCES if fired[s])


def item9_assess(
    *,
    detection: Detection,
    model_item9_value: float | None,
    manifest: dict,
    self_report_item9: int | None = None,
    rule_value: float = RULE_VALUE,
    use_card: bool = True,
) -> Item9:
    """The flag from every source. `model_item9_value` None: no model scored the window (an LLM rating
    passes its item 9 with a manifest of its own)."""
    model = model_item9(manifest, rule_value=rule_value, use_card=use_card)
    sources = item9_sources(
        detector_fired=detection.fired,
        model_value=model_item9_value,
        model=model,
        self_report_item9=self_report_item9,
    )
    return Item9(
        flag=bool(sources),
        sources=sources,
        evidence=detection.evidence if detection.fired else (),
        model=model,
        detector_version=detection.version,
    )


def item9_record(item9: Item9) -> dict:
    """The item-9 fields of a `python -m scoring predict` output line."""
    return {
        "item9_flag": item9.flag,
        "item9_sources": list(item9.sources),
        "item9_evidence": [
            {"turn": s.turn, "text": s.text, **({"sent_at": s.sent_at.isoformat()} if s.sent_at else {})}
            for s in item9.evidence
        ],
        "item9_model_validated": item9.model.validated,
        "detector_version": item9.detector_version,
    }
