from __future__ import annotations

import gc
import json
import re
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import cast

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.forms.models import model_to_dict
from django.test import Client

from monitor_site.alerts.models import Alert, AlertRule
from monitor_site.bench.load_set import SOURCE, VERSION, load_set_create, load_set_delete
from monitor_site.dashboards.selectors import evidence_for
from monitor_site.modelops.models import ModelVersion
from monitor_site.patients.models import Assessment, CareTeam, ConversationSession, Message, Patient
from monitor_site.patients.selectors import windows_for
from monitor_site.predictions.models import Prediction, TrajectorySummary
from monitor_site.predictions.services.summaries import trajectory_summaries_refresh
from scoring.phq9 import band_for
from tests.factories import CareTeamFactory, ModelVersionFactory, PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db


def make(*args: str) -> str:
    out = StringIO()
    call_command("make_load_set", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def load_set_predictions() -> list[Prediction]:
    return list(Prediction.objects.filter(patient__source__name=SOURCE).order_by("patient_id", "window_end"))


def test_it_builds_the_asked_number_of_synthetic_rows() -> None:
    active = ModelVersionFactory(status=ModelVersion.Status.ACTIVE)
    out = make("--patients", "6", "--days", "10")
    patients = Patient.objects.filter(source__name=SOURCE)
    assert patients.count() == 6 and not patients.filter(is_synthetic=False).exists()
    assert set(patients.values_list("care_team__name", flat=True)) == {"Load team"}
    sessions = ConversationSession.objects.filter(source__name=SOURCE)
    assert sessions.count() == 60
    per_session = sessions.annotate(n=Count("messages")).values_list("n", "message_count")
    assert all(n == stored and 2 <= n <= 4 for n, stored in per_session)
    assert Message.objects.filter(session__source__name=SOURCE).count() == sum(n for n, _ in per_session)
    predictions = load_set_predictions()
    assert len(predictions) == 60 and {p.model_version.version for p in predictions} == {VERSION}
    assert TrajectorySummary.objects.filter(patient__in=patients).count() == 6
    assert "60 sessions" in out and "60 predictions" in out
    # The load set's model is a candidate: which model is active does not change.
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == active
    assert ModelVersion.objects.get(version=VERSION).status == ModelVersion.Status.CANDIDATE


def test_it_makes_predictions_shaped_like_the_scoring_service_writes() -> None:
    make("--patients", "3", "--days", "20")
    for p in load_set_predictions():
        assert len(p.items) == 9 and all(0 <= v <= 3 for v in p.items)
        assert abs(sum(p.items) - p.total) < 0.001 and 0 <= p.total <= 27
        assert p.interval_low <= p.total <= p.interval_high and p.band == band_for(p.total).key
        assert len(p.evidence) == 9 and all(1 <= len(chunks) <= 3 for chunks in p.evidence)
        assert set(p.evidence[0][0]) == {"session", "turns", "weight"}
        # The counts are those of the 14-day window the scoring service would have read.
        window = windows_for([(p.patient_id, p.window_end, "check")])[0]
        assert (p.n_sessions, p.n_user_turns) == (len(window.conversations), window.n_user_turns)
    # The evidence points at real turns of the window: the patient page finds the user's messages.
    latest = load_set_predictions()[-1]
    assert all(item["chunks"] for item in evidence_for(latest))


def test_it_writes_the_summaries_scoring_would_write() -> None:
    make("--patients", "4", "--days", "40")
    for summary in TrajectorySummary.objects.filter(patient__source__name=SOURCE):
        written = model_to_dict(summary, exclude=["updated_at"])
        trajectory_summaries_refresh(patient_ids=[summary.patient_id])
        summary.refresh_from_db()
        assert model_to_dict(summary, exclude=["updated_at"]) == written
        assert summary.latest_prediction == load_set_predictions_of(summary.patient_id)[-1]


def load_set_predictions_of(patient_id: int) -> list[Prediction]:
    return [p for p in load_set_predictions() if p.patient_id == patient_id]


def test_it_opens_alerts_only_where_the_rule_holds() -> None:
    make("--patients", "40", "--days", "3")
    alerts = Alert.objects.filter(patient__source__name=SOURCE).select_related("rule", "prediction")
    assert alerts.exists() and alerts.filter(urgent=True).exists()
    for alert in alerts:
        latest = TrajectorySummary.objects.get(pk=alert.patient_id).latest_prediction
        assert alert.status == Alert.Status.OPEN and alert.prediction == latest
        assert alert.rule.is_met(latest, baseline=alert.baseline)
        assert alert.rule.kind in (AlertRule.Kind.SELF_HARM, AlertRule.Kind.THRESHOLD)


def test_it_gives_the_printed_password_to_a_clinician_who_sees_the_load_set(client: Client) -> None:
    out = make("--patients", "2", "--days", "3")
    password = re.search(r"log in as load-clinician / (\S+)", out)
    assert password
    login = client.post("/login/", {"username": "load-clinician", "password": password.group(1)})
    assert login.status_code == 302
    assert "load-00001" in client.get("/").content.decode()


def test_it_refuses_a_second_load_set_without_reset() -> None:
    make("--patients", "3", "--days", "5")
    with pytest.raises(CommandError, match="already exists .* rerun with --reset"):
        make("--patients", "3", "--days", "5")
    assert ConversationSession.objects.filter(source__name=SOURCE).count() == 15


def test_it_refuses_a_care_team_or_user_that_is_not_its_own() -> None:
    CareTeamFactory(name="North team")
    UserFactory(username="dr-a")
    with pytest.raises(CommandError, match="pick another --team"):
        make("--patients", "2", "--days", "2", "--team", "North team")
    with pytest.raises(CommandError, match="pick another --clinician"):
        make("--patients", "2", "--days", "2", "--clinician", "dr-a")
    assert not Patient.objects.filter(source__name=SOURCE).exists()


def test_it_resets_only_the_load_set() -> None:
    other = cast(Prediction, PredictionFactory())
    other_user = cast(AbstractBaseUser, UserFactory())
    make("--patients", "4", "--days", "5")
    out = make("--patients", "2", "--days", "3", "--reset")
    assert "deleted the previous load set (4 patients)" in out
    assert Patient.objects.filter(source__name=SOURCE).count() == 2
    assert ConversationSession.objects.filter(source__name=SOURCE).count() == 6
    assert (
        Prediction.objects.filter(pk=other.pk).exists()
        and TrajectorySummary.objects.filter(pk=other.patient_id).exists()
    )
    assert get_user_model().objects.filter(pk=other_user.pk).exists()
    assert CareTeam.objects.filter(pk=other.patient.care_team_id).exists()
    assert CareTeam.objects.filter(name="Load team").count() == 1
    assert get_user_model().objects.filter(username="load-clinician").count() == 1
    load_set_delete()
    assert not Patient.objects.filter(source__name=SOURCE).exists()
    assert not ModelVersion.objects.filter(version=VERSION).exists()
    assert not CareTeam.objects.filter(name="Load team").exists()
    assert not get_user_model().objects.filter(username="load-clinician").exists()
    assert Prediction.objects.count() == 1 and Assessment.objects.count() == 0


def test_it_writes_the_same_rows_through_bulk_create_as_through_copy() -> None:
    end = datetime(2026, 3, 1, 12, tzinfo=UTC)

    def rows() -> list[tuple]:
        return [
            (p.session.external_id, p.window_end, p.total, p.items, p.evidence, p.n_tokens)
            for p in Prediction.objects.filter(patient__source__name=SOURCE).select_related("session")
        ]

    load_set_create(patients=3, days=15, end=end, use_copy=True)
    by_copy = sorted(rows())
    load_set_delete()
    load_set_create(patients=3, days=15, end=end, use_copy=False)
    assert sorted(rows()) == by_copy


def test_it_times_the_pages_and_writes_json(tmp_path: Path) -> None:
    make("--patients", "5", "--days", "15")
    out = StringIO()
    report = tmp_path / "bench.json"
    call_command(
        "bench_pages",
        "--repeats",
        "2",
        "--patients",
        "2",
        "--out",
        str(report),
        stdout=out,
        stderr=StringIO(),
    )
    written = json.loads(report.read_text())
    pages = written["pages"]
    # timed as in a web process after start-up (monitor_site/wsgi.py), and this process given back as it was
    assert written["gc_frozen_objects"] > 10_000 and gc.get_freeze_count() == 0
    goal = written["goal"]
    assert goal["p95_ms"] == 150 and goal["full_gc_pauses_while_timing"] == len(
        written["gc_full_collections_ms"]
    )
    assert goal["met"] == (goal["pages_over"] == [])
    assert set(pages) == {
        "list",
        "list_filtered",
        "list_sorted",
        "list_overdue",
        "inbox",
        "inbox_grouped",
        "patient",
        "report",
    }
    assert (
        pages["patient"]["requests"] == 4
        and pages["report"]["requests"] == 4
        and pages["list"]["requests"] == 2
    )
    assert all(page["queries"] > 0 and page["median_ms"] > 0 for page in pages.values())
    # the web side's CPU per request beside the wall clock (PostgreSQL's time is not in it)
    assert all(0 < page["cpu_median_ms"] <= page["cpu_p95_ms"] for page in pages.values())
    assert "cpu p50" in out.getvalue()
    assert "median ms" in out.getvalue() and "p95 ms" in out.getvalue()
    assert "frozen after start-up" in out.getvalue() and "goal p95 <= 150 ms" in out.getvalue()


def test_it_tells_what_to_do_when_the_bench_user_is_missing() -> None:
    with pytest.raises(CommandError, match="make_load_set"):
        call_command("bench_pages", "--clinician", "nobody", stdout=StringIO())
