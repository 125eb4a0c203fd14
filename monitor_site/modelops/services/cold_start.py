"""Cold start, the rater: the Claude labeller as the scorer of consented patients in care teams that
chose it, until a trained model is promoted (training/labelling/rater.py). Its registry row (status
"rater") names the method: model, prompt version, samples and thinking budget; its metrics hold its
validation against this clinic's questionnaires. Rating sessions with it is
monitor_site/predictions/services/ratings.py."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import timezone

from monitor_site.modelops.models import ModelVersion
from monitor_site.modelops.services.labelling import DatabaseLabelCache, labelling_client
from monitor_site.modelops.training_settings import options_from_settings, training_setting
from monitor_site.patients.models import CareTeam
from monitor_site.patients.selectors import labeled_windows_from_assessments
from training.labelling.claude import ClaudeLabeler, LabelerConfig
from training.labelling.prompt import PROMPT_VERSION, LabelRequest
from training.labelling.rater import LlmRater, RaterValidation, gate_totals, rater_version, validate_rater
from training.labelling.validation import ValidationPair
from training.promotion import Decision, PromotionRule, first_model_gate

log = logging.getLogger(__name__)


LLM_SCORING_SOURCE = "llm-scoring"  # PseudoLabel.source of ratings bought to score sessions
LLM_VALIDATION_SOURCE = "llm-validation"
# Patients whose questionnaires are enough to pause a rater far off them, before it is validated (19 pairs
# with an MAE of 10 is no reason to go on scoring until the 20th).
PAUSE_MIN_PATIENTS = 5


def llm_scoring_in_use() -> bool:
    """Whether some care team scores with the LLM rater and a key lets it (no trained model assumed)."""
    return bool(settings.ANTHROPIC_API_KEY) and CareTeam.objects.filter(llm_scoring=True).exists()


def llm_scoring_outcome(*, team: CareTeam) -> tuple[bool, str]:
    """What switching a care team's cold-start LLM scoring will do now, in words for the admin who
    switched it, and whether it is a warning (something the admin expected will not happen)."""
    if not team.llm_scoring:
        return False, (
            f"Cold-start LLM scoring is off for {team.name}: none of its patients' text is sent to "
            "Anthropic; sessions wait for a trained model."
        )
    if ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exists():
        return True, (
            f"Cold-start LLM scoring is on for {team.name}, but a trained model is active: it keeps "
            "scoring every session and nothing is rated by Claude (the switch only acts in a cold start)."
        )
    if not settings.ANTHROPIC_API_KEY:
        return True, (
            f"Cold-start LLM scoring is on for {team.name}, but no ANTHROPIC_API_KEY is set: nothing will "
            "be rated and its sessions stay unscored until a key is set or a model is trained."
        )
    return False, (
        f"Cold-start LLM scoring is on for {team.name}: Claude will rate its consented patients' redacted "
        "sessions (each rating is paid for) until a trained model is promoted."
    )


def llm_rater(*, source: str, token_budget: int | None = None) -> tuple[ModelVersion, LlmRater] | None:
    """The rater for the current labeller settings and its registry row (created on first use), or None
    without an Anthropic key. New ratings are stored as PseudoLabels of `source` (never paid twice)."""
    if not settings.ANTHROPIC_API_KEY:
        return None
    config = options_from_settings(LabelerConfig, prefix="PSEUDO_LABEL_")
    if token_budget is not None:
        config.token_budget = max(0, token_budget)
    row, _ = ModelVersion.objects.get_or_create(
        version=rater_version(config.variant),
        defaults={
            "status": ModelVersion.Status.RATER,
            "backbone": config.model,
            "members": 1,
            "manifest": {
                "kind": "llm_rater",
                "model": config.model,
                "prompt_version": PROMPT_VERSION,
                "samples": config.samples,
                "thinking_budget": config.thinking_budget,
            },
        },
    )
    labeler = ClaudeLabeler(labelling_client(), config, DatabaseLabelCache(source))
    return row, LlmRater(labeler, row.version, RaterValidation.from_dict(row.metrics.get("validation")))


def llm_rater_paused(row: ModelVersion) -> str:
    """Why the rater may not score (its MAE against this clinic's questionnaires, measured on at least
    PAUSE_MIN_PATIENTS patients, validated or not yet, is above TRAINING_LABEL_MAX_MAE), or ""."""
    mae = row.metrics.get("mae")
    max_mae = training_setting("TRAINING_LABEL_MAX_MAE")
    measured = row.metrics.get("validated") or row.metrics.get("patients", 0) >= PAUSE_MIN_PATIENTS
    if measured and mae is not None and mae > max_mae:
        return (
            f"its MAE against this clinic's questionnaires is {mae:.2f}, above TRAINING_LABEL_MAX_MAE "
            f"({max_mae:g}): LLM scoring is paused"
        )
    return ""


def llm_rater_validate() -> ModelVersion | None:
    """Rate the consented questionnaire windows (the most recent LLM_SCORING_VALIDATION_WINDOWS; labels
    already bought are reused) and store the rater's validation on its registry row. None when no team
    uses LLM scoring or there is no key."""
    if not llm_scoring_in_use():
        return None
    rater = llm_rater(source=LLM_VALIDATION_SOURCE)
    assert rater is not None
    row, llm = rater
    examples = [e for e in labeled_windows_from_assessments() if e.meta.get("consent_external")]
    examples = sorted(examples, key=lambda e: e.window.end or timezone.now(), reverse=True)
    examples = examples[: settings.LLM_SCORING_VALIDATION_WINDOWS]
    labels = llm.labels([LabelRequest(e.window, True, tuple(e.meta.get("names", ()))) for e in examples])
    pairs = [
        ValidationPair(labels.labels[e.window.id], e.total, e.items, e.group)
        for e in examples
        if e.window.id in labels.labels
    ]
    validation = validate_rater(pairs, min_pairs=settings.LLM_SCORING_MIN_VALIDATION_PAIRS)
    report = validation.report
    row.metrics = {
        "validated": validation.validated,
        "mae": report.get("mae"),
        "pearson_r": report.get("pearson_r"),
        "pairs": report.get("with_total", 0),
        "patients": len({p.group for p in pairs}),
        "validation": validation.to_dict(),
        "tokens": labels.input_tokens + labels.output_tokens,
    }
    row.save(update_fields=["metrics"])
    log.info(
        "LLM rater %s validated on %d questionnaire window(s) of %d patient(s): MAE %s, %s",
        row.version,
        row.metrics["pairs"],
        row.metrics["patients"],
        report.get("mae", "-"),
        "interval from now on" if validation.validated else "too few pairs for an interval",
    )
    return row


def first_model_gate_decide(
    *, result: Any, ground_truth: list, rule: PromotionRule, log_line: Callable[[str], None]
) -> Decision:
    """The first trained model replaces the LLM rater only with questionnaires from enough patients and,
    on the held-out test patients both scored, the non-inferiority rule (training/promotion.py). The
    rater's totals there are mapped by a map fitted on its validation pairs of the other patients only
    (rated now; labels bought before, as the daily validation's, are reused)."""
    test_ids = set(result.test_window_ids)
    test = [e for e in ground_truth if e.window.id in test_ids]
    rater = llm_rater(source=LLM_VALIDATION_SOURCE)
    rated: dict[str, float] = {}
    if rater is not None:
        consented = [e for e in test if e.meta.get("consent_external")]
        log_line(f"first model: the LLM rater rates the {len(consented)} consented held-out test window(s)")
        validation = sorted(
            (e for e in ground_truth if e.meta.get("consent_external") and e.window.id not in test_ids),
            key=lambda e: e.window.end or timezone.now(),
            reverse=True,
        )[: settings.LLM_SCORING_VALIDATION_WINDOWS]
        examples = consented + validation
        labels = (
            rater[1]
            .labels([LabelRequest(e.window, True, tuple(e.meta.get("names", ()))) for e in examples])
            .labels
        )
        pairs = [
            ValidationPair(labels[e.window.id], e.total, e.items, e.group)
            for e in validation
            if e.window.id in labels
        ]
        rated, info = gate_totals(
            pairs,
            {e.window.id: labels[e.window.id] for e in consented if e.window.id in labels},
            test_groups={e.group for e in test},
            min_pairs=settings.LLM_SCORING_MIN_VALIDATION_PAIRS,
        )
        log_line(
            "first model: the rater's map of totals, fitted without the test patients: "
            + ("applied" if info.get("applied") else f"not applied ({info.get('why', '')})")
        )
    return first_model_gate(
        questionnaire_patients=len({e.patient for e in ground_truth}),
        min_patients=settings.COLD_START_FIRST_MODEL_MIN_PATIENTS,
        test=test,
        candidate={i: p for i, _, p in result.test_points},
        rater=rated,
        rule=rule,
    )
