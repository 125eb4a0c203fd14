"""Item 9 from day one: the self-harm risk-language detector reads every scored window and can open the
urgent item-9 episode alone; a totals-only model's item 9 never flags; a new detector version re-reads
recent windows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from monitor_site.alerts.models import Alert, AlertRule
from monitor_site.predictions.models import Prediction
from tests.factories import UserFactory

SELF_HARM_TEXT = "I keep having thoughts of hurting myself. I think about not being here every single day."


def _session_body(text: str, *, patient: str = "p-risk", session: str = "s-risk") -> dict:
    now = timezone.now()
    return {
        "patient": patient,
        "session_id": session,
        "started_at": (now - timedelta(minutes=5)).isoformat(),
        "messages": [
            {
                "role": "assistant",
                "text": "How have things been?",
                "sent_at": (now - timedelta(minutes=5)).isoformat(),
            },
            {"role": "user", "text": text, "sent_at": (now - timedelta(minutes=4)).isoformat()},
        ],
    }


def test_a_pushed_session_with_self_harm_text_opens_an_urgent_alert_with_its_sentence(
    api: object, active_model: object, ingest: tuple, django_capture_on_commit_callbacks: object
) -> None:
    """Through the ingest API, with the product's default rules: the detector fires on the sentence,
    the urgent item-9 episode opens and says the detector raised it, and the e-mail says why in general
    terms without the text."""
    ingest[0].source.default_care_team.members.add(UserFactory(email="team@example.org"))
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        r = api.post("/api/v1/sessions", _session_body(SELF_HARM_TEXT), format="json")  # type: ignore[attr-defined]
    assert r.status_code == 201, r.content
    prediction = Prediction.objects.get()
    assert prediction.risk_language and prediction.detector_version
    assert any("hurting myself" in e["text"] for e in prediction.risk_evidence)
    assert all(e["session"] == "s-risk" and e["turn"] == 1 and e["sent_at"] for e in prediction.risk_evidence)
    alert = Alert.objects.get(rule__kind="self_harm")
    assert alert.urgent and "detector" in alert.item9_sources
    assert "risk language in the patient's messages" in alert.summary()
    body = mail.outbox[0].body
    assert "risk language in the patient's messages" in body
    assert "hurting" not in body and "not being here" not in body


def test_ordinary_low_mood_and_idiom_open_no_item9_alert(
    api: object, active_model: object, django_capture_on_commit_callbacks: object
) -> None:
    text = "Honestly this commute is killing me and I feel flat and tired most days."
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        api.post("/api/v1/sessions", _session_body(text), format="json")  # type: ignore[attr-defined]
    prediction = Prediction.objects.get()
    assert not prediction.risk_language and prediction.risk_evidence == []
    assert not Alert.objects.filter(rule__kind="self_harm", item9_sources__contains=["detector"]).exists()


def test_the_detector_opens_the_episode_even_when_the_window_is_too_short_for_other_rules(
    api: object, active_model: object, settings: object, django_capture_on_commit_callbacks: object
) -> None:
    settings.ALERT_MIN_WINDOW_TOKENS = 10_000  # type: ignore[attr-defined]  # every window "too little text"
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        api.post("/api/v1/sessions", _session_body("I want to kill myself."), format="json")  # type: ignore[attr-defined]
    assert Prediction.objects.get().too_little_text
    assert list(Alert.objects.values_list("rule__kind", flat=True)) == ["self_harm"]


def test_a_model_trained_on_totals_only_never_flags_by_its_item9(active_model: object) -> None:
    from tests.factories import PredictionFactory

    rule = AlertRule.objects.get(kind="self_harm", source="model")
    prediction = PredictionFactory(items=[0, 0, 0, 0, 0, 0, 0, 0, 2.5])
    assert rule.is_met(prediction, baseline=None)
    assert not rule.is_met(prediction, baseline=None, model_item9_flags=False)
    prediction.risk_language = True
    assert rule.is_met(prediction, baseline=None, model_item9_flags=False)  # the detector alone


@pytest.mark.parametrize(
    ("manifest", "threshold", "validated"),
    [
        ({"item9_flag": {"threshold": 0.8}}, 0.8, True),
        ({"item9_flag": {"threshold": None}}, 0.5, False),
        ({"item9_flag": {"threshold": None}, "training_data": {"with_items": 0}}, None, False),
        ({}, 0.5, False),
    ],
)
def test_the_model_item9_line_comes_from_its_card(
    manifest: dict, threshold: float | None, validated: bool
) -> None:
    from scoring.item9 import model_item9

    read = model_item9(manifest)
    assert (read.threshold, read.validated) == (threshold, validated)
    assert model_item9(manifest, use_card=False).threshold == (None if threshold is None else 0.5)


def test_a_new_detector_version_rereads_recent_windows(
    api: object, active_model: object, django_capture_on_commit_callbacks: object
) -> None:
    from monitor_site.predictions.services.scoring import predictions_reflag_pending
    from scoring.self_harm import DETECTOR_VERSION

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        api.post("/api/v1/sessions", _session_body(SELF_HARM_TEXT), format="json")  # type: ignore[attr-defined]
    Prediction.objects.update(risk_language=False, risk_evidence=[], detector_version="self-harm-old")
    assert predictions_reflag_pending().rows == 1
    prediction = Prediction.objects.get()
    assert prediction.risk_language and prediction.detector_version == DETECTOR_VERSION
    assert prediction.patient.summary.latest_risk_language
    assert predictions_reflag_pending().rows == 0  # nothing left to re-read
