from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from monitor_site.modelops.models import ModelVersion, PseudoLabel, TrainingRun
from monitor_site.modelops.services.training_runs import TrainingAlreadyRunning, training_run_request
from monitor_site.modelops.tasks import scheduled_training, training_run_enqueue
from monitor_site.patients.models import Patient
from monitor_site.predictions.models import Prediction
from tests.factories import UserFactory
from tests.tiny_models import tiny_encoder
from tests.training.fake_anthropic import fake_anthropic

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic(settings: object, model_store: Path, tmp_path: Path) -> None:
    """A small synthetic clinic and training settings that use a tiny encoder saved to disk."""
    backbone = tiny_encoder()
    path = tmp_path / "tiny-encoder"
    backbone.module.save_pretrained(path)
    backbone.tokenizer.save_pretrained(path)
    settings.TRAINING_BACKBONE = str(path)  # type: ignore[attr-defined]
    settings.TRAINING_EPOCHS = 3  # type: ignore[attr-defined]
    settings.TRAINING_RELABEL_ROUNDS = 1  # type: ignore[attr-defined]
    settings.TRAINING_MAX_UNLABELED = 12  # type: ignore[attr-defined]
    settings.ANTHROPIC_API_KEY = ""  # type: ignore[attr-defined]
    # 20 patients: 8 with questionnaires, of whom the 2 who enrol last are the held-out test patients
    call_command("seed_demo", "--patients", "20", "--weeks", "8", "--no-train", stdout=StringIO())


def _run(capture: object, **kwargs: object) -> TrainingRun:
    with capture(execute=True):  # type: ignore[operator]
        run = training_run_request(**kwargs)  # type: ignore[arg-type]
        training_run_enqueue(run)  # what the edges do (admin, schedule)
    run.refresh_from_db()
    return run


@pytest.mark.slow
def test_without_claude_it_trains_on_questionnaires_only_and_says_so(
    clinic: None, django_capture_on_commit_callbacks: object
) -> None:
    run = _run(django_capture_on_commit_callbacks)
    assert run.status == "succeeded", run.log
    assert "trained on questionnaires only" in run.log and "stage 2" not in run.log
    assert run.counts["pseudo_labelled_windows"] == 0
    trained_on = [m["trained_on"] for m in run.model_version.manifest["members"] if m["mode"] != "lexical"]
    assert set(trained_on) == {"ground_truth"}


@pytest.mark.slow
def test_it_trains_registers_promotes_and_scores(
    clinic: None, settings: object, django_capture_on_commit_callbacks: object
) -> None:
    settings.TRAINING_SELF_LABELS = True  # type: ignore[attr-defined]  # the loop's own labels, stage 2
    run = _run(django_capture_on_commit_callbacks)
    assert run.status == "succeeded", run.log
    assert run.progress == 1.0 and run.finished_at and run.active_slot is None
    assert "Claude pseudo-labelling (stage 1) is skipped" in run.log and "stage 2 round 1" in run.log
    assert run.model_version.status == "active" and run.decision.startswith("no active model")
    assert (
        run.report["test"]["evaluated_on"].startswith("held-out test patients (time-ordered")
        and run.report["points"]
    )
    assert run.counts["pseudo_labelled_windows"] > 0
    trained_on = [m["trained_on"] for m in run.model_version.manifest["members"] if m["mode"] != "lexical"]
    assert trained_on == ["ground_truth", "ground_truth+relabelled"]
    assert Prediction.objects.filter(model_version=run.model_version).exists()
    assert "FAILED" not in run.log


@pytest.mark.slow
def test_it_buys_claude_labels_once_and_only_for_consenting_patients(
    clinic: None, settings: object, django_capture_on_commit_callbacks: object
) -> None:
    first_patient = Patient.objects.order_by("pk").first()
    Patient.objects.filter(pk=first_patient.pk).update(consent_external_processing=False)
    with fake_anthropic() as fake:
        settings.ANTHROPIC_API_KEY = "test-key"  # type: ignore[attr-defined]
        settings.ANTHROPIC_BASE_URL = fake.base_url  # type: ignore[attr-defined]
        run = _run(django_capture_on_commit_callbacks)
        assert run.status == "succeeded", run.log
        paid = len(fake.requests)
        assert paid == run.counts["labelled"] > 0 and PseudoLabel.objects.count() == paid
        assert run.counts["skipped_consent"] >= 1
        check = run.report["label_validation"]  # Claude vs the questionnaires of consented windows
        assert check["pairs"] > 0 and "mae" in check and "labeller vs questionnaires" in run.log
        second = _run(django_capture_on_commit_callbacks)
        assert second.status == "succeeded", second.log
        assert len(fake.requests) == paid  # every label came from the store
        assert second.counts["from_cache"] == paid


def test_it_runs_one_training_at_a_time(clinic: None) -> None:
    first = training_run_request()  # queued; its task waits for the commit that never comes here
    with pytest.raises(TrainingAlreadyRunning, match=f"#{first.pk} is already queued"):
        training_run_request()
    assert scheduled_training() is None
    assert TrainingRun.objects.count() == 1


@pytest.mark.faults
def test_a_failed_run_leaves_the_active_model_untouched(
    clinic: None,
    active_model: ModelVersion,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: object,
) -> None:
    from monitor_site.modelops.services import training_runs as services

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("GPU fell off the bus")

    monkeypatch.setattr(services, "run_learning_loop", broken)
    run = _run(django_capture_on_commit_callbacks)
    assert run.status == "failed" and "FAILED: RuntimeError: GPU fell off the bus" in run.log
    assert list(ModelVersion.objects.filter(status="active")) == [active_model]
    assert run.active_slot is None  # the next run may start
    monkeypatch.undo()
    assert _run(django_capture_on_commit_callbacks).status == "succeeded"


def test_a_run_with_too_few_windows_for_a_member_trains_without_it_and_the_run_page_says_so(
    settings: object,
    model_store: Path,
    tmp_path: Path,
    client: Client,
    django_capture_on_commit_callbacks: object,
) -> None:
    backbone = tiny_encoder()
    backbone.module.save_pretrained(tmp_path / "tiny-encoder")
    backbone.tokenizer.save_pretrained(tmp_path / "tiny-encoder")
    settings.TRAINING_BACKBONE = str(tmp_path / "tiny-encoder")  # type: ignore[attr-defined]
    settings.TRAINING_EPOCHS = 2  # type: ignore[attr-defined]
    settings.ANTHROPIC_API_KEY = ""  # type: ignore[attr-defined]
    # The load test's starter clinic: 3 questionnaires, so one training window for the lexical member
    call_command("seed_demo", "--patients", "8", "--weeks", "3", "--no-train", stdout=StringIO())
    run = _run(django_capture_on_commit_callbacks)
    assert run.status == "succeeded", run.log
    assert "lexical member skipped, the ensemble is trained without it: the lexical member needs" in run.log
    assert "lexical" not in [m["name"] for m in run.model_version.manifest["members"]]
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(f"/admin/modelops/trainingrun/{run.pk}/change/").content.decode()
    assert "lexical member skipped" in page and "Traceback" not in page


def test_it_keeps_a_worse_model_as_a_candidate(
    clinic: None, active_model: ModelVersion, settings: object, django_capture_on_commit_callbacks: object
) -> None:
    settings.PROMOTION_MAE_MARGIN = -100.0  # type: ignore[attr-defined] # nothing can pass
    settings.PROMOTION_MIN_TEST_PATIENTS = 1  # type: ignore[attr-defined] # the clinic tests 2 patients
    run = _run(django_capture_on_commit_callbacks)
    assert run.status == "succeeded" and run.decision.startswith("kept as candidate")
    assert run.model_version.status == "candidate"
    assert ModelVersion.objects.get(status="active") == active_model
    assert run.report["active_test"]["n"] == run.report["test"]["n"]  # compared on the same windows
    promotion = run.report["promotion"]
    assert promotion["outcome"] == "kept as candidate" and promotion["patients"] == 2
    assert promotion["mae_upper"] is not None and promotion["margin"] < 0


def test_with_too_few_test_patients_an_admin_judges_with_the_numbers(
    clinic: None, active_model: ModelVersion, django_capture_on_commit_callbacks: object
) -> None:
    run = _run(django_capture_on_commit_callbacks)  # 2 held-out test patients, 20 needed
    assert run.status == "succeeded" and run.decision.startswith("for an admin to judge: 2 held-out")
    assert run.model_version.status == "candidate"
    assert run.report["promotion"]["outcome"] == "for an admin to judge"
    assert run.report["promotion"]["mae_difference"] is not None
    assert run.model_version.manifest["trained_patients"]  # what a later run leaves out of comparisons


@pytest.mark.slow
def test_admins_start_runs_from_the_admin(
    clinic: None, client: Client, django_capture_on_commit_callbacks: object
) -> None:
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.post("/admin/modelops/trainingrun/retrain/").status_code == 403
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    assert "Retrain now" in client.get("/admin/modelops/trainingrun/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        r = client.post("/admin/modelops/trainingrun/retrain/")
    run = TrainingRun.objects.get()
    assert r.status_code == 302 and r["Location"].endswith(f"/{run.pk}/change/")
    page = client.get(r["Location"]).content.decode()
    assert "Evaluation on the held-out test patients" in page and 'id="evaluation-figure"' in page
    assert "too few patients to say: 2 patient(s)" in page  # no bootstrap interval on 2 test patients
    assert "time-ordered: the patients who started last" in page  # which patients were tested
    assert "lexical (lexical, ground_truth)" in page and "Blend by kind: heads" in page
    assert "<progress" in page and run.decision in page
    assert client.get("/admin/modelops/trainingrun/retrain/").status_code == 405
    from monitor_site.audit.models import AuditEvent

    started = AuditEvent.objects.get(action="training.start")
    assert started.actor == admin and started.object_id == str(run.pk)
    promoted = AuditEvent.objects.get(action="model.promote")
    assert promoted.detail["reason"] == f"training run {run.pk}" and promoted.actor is None  # the system


@pytest.mark.slow
def test_clinician_feedback_reaches_the_next_run(
    clinic: None, settings: object, django_capture_on_commit_callbacks: object
) -> None:
    settings.TRAINING_SELF_LABELS = True  # type: ignore[attr-defined]  # disputed windows stay out of self-labels
    from monitor_site.patients.models import ConversationSession
    from monitor_site.predictions.services.feedback import prediction_feedback_record
    from tests.factories import PredictionFactory

    sessions = list(
        ConversationSession.objects.filter(patient__assessments__isnull=True).order_by("-ended_at")[:2]
    )
    assert len(sessions) == 2
    clinician = UserFactory()
    for session, verdict in zip(sessions, ("agree", "disagree"), strict=True):
        prediction = PredictionFactory(session=session, window_end=session.ended_at)
        prediction_feedback_record(prediction=prediction, clinician=clinician, verdict=verdict)
    run = _run(django_capture_on_commit_callbacks)
    assert run.status == "succeeded", run.log
    assert run.counts["clinician_agreed_windows"] == 1 and run.counts["clinician_disagreed_windows"] == 1
    assert "1 windows a clinician disagreed with are left out of self-labels" in run.log


@pytest.mark.faults
@pytest.mark.slow
def test_a_claude_outage_mid_run_finishes_cleanly_and_the_next_run_pays_only_for_the_rest(
    clinic: None, settings: object, django_capture_on_commit_callbacks: object
) -> None:
    settings.PSEUDO_LABEL_MAX_RETRIES = 0  # type: ignore[attr-defined]  # no back-off sleeps in the test
    error = {"type": "error", "error": {"type": "api_error", "message": "overloaded"}}
    with fake_anthropic() as fake:
        settings.ANTHROPIC_API_KEY = "test-key"  # type: ignore[attr-defined]
        settings.ANTHROPIC_BASE_URL = fake.base_url  # type: ignore[attr-defined]
        fake.default = ("json", (500, error))  # a 500 storm for the whole run
        down = _run(django_capture_on_commit_callbacks)
        assert down.status == "succeeded", down.log
        wanted = down.counts["failed"]
        assert wanted > 0 and down.counts["labelled"] == 0 and PseudoLabel.objects.count() == 0
        fake.default = ("json", (529, error))
        for _ in range(wanted // 2):  # half come back, then the storm again
            fake.ok([1] * 9)
        half = _run(django_capture_on_commit_callbacks)
        assert half.status == "succeeded" and PseudoLabel.objects.count() == wanted // 2
        from tests.training.fake_anthropic import tool_message

        fake.default = ("json", (200, tool_message([2] * 9)))
        sent_before = len(fake.requests)
        healed = _run(django_capture_on_commit_callbacks)
        assert healed.status == "succeeded", healed.log
        assert len(fake.requests) - sent_before == wanted - wanted // 2  # never pays twice
        assert healed.counts["from_cache"] == wanted // 2 and PseudoLabel.objects.count() == wanted


def test_in_the_demo_retrain_now_answers_at_once_and_the_run_page_follows_the_run(
    client: Client,
    settings: object,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: object,
) -> None:
    """No worker in the demo: the run goes to a background thread; the POST does not wait for it."""
    import threading

    from monitor_site.modelops import tasks

    settings.TRAINING_IN_BACKGROUND_THREAD = True  # type: ignore[attr-defined]
    release, ran_in = threading.Event(), []

    def slow_training(args: list[int]) -> None:  # stands in for minutes of training
        ran_in.append(threading.current_thread().name)
        release.wait(10)

    monkeypatch.setattr(tasks.run_training, "apply", slow_training)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = client.post("/admin/modelops/trainingrun/retrain/")
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and not release.is_set()  # answered while training still runs
    page = client.get(response["Location"]).content.decode()
    assert '<meta http-equiv="refresh" content="5">' in page  # the page follows a queued run
    release.set()
    for thread in threading.enumerate():
        if thread.name == f"training-run-{run.pk}":
            thread.join(5)
    assert ran_in == [f"training-run-{run.pk}"]


@pytest.mark.slow
def test_the_app_removes_what_it_knows_of_a_patient_from_text_sent_to_claude(
    clinic: None, settings: object, django_capture_on_commit_callbacks: object
) -> None:
    from django.db.models import F, Value
    from django.db.models.functions import Concat

    from monitor_site.patients.models import Message

    # Each patient's pseudonymous id, written into their own messages (as a careless app might).
    for patient in Patient.objects.all():
        Message.objects.filter(role="user", session__patient=patient).update(
            text=Concat(F("text"), Value(f" - {patient.external_id}"))
        )
    with fake_anthropic() as fake:
        settings.ANTHROPIC_API_KEY = "test-key"  # type: ignore[attr-defined]
        settings.ANTHROPIC_BASE_URL = fake.base_url  # type: ignore[attr-defined]
        run = _run(django_capture_on_commit_callbacks)
        assert run.status == "succeeded", run.log
        assert fake.sent_texts and run.counts["labelled"] > 0
        ids = list(Patient.objects.values_list("external_id", flat=True))
        assert not any(i in text for i in ids for text in fake.sent_texts)


@pytest.mark.slow
def test_a_labeller_too_far_from_the_questionnaires_is_not_used(
    clinic: None, settings: object, django_capture_on_commit_callbacks: object
) -> None:
    settings.TRAINING_LABEL_MAX_MAE = 0.5  # type: ignore[attr-defined]  # the fake rates every window 9
    with fake_anthropic() as fake:
        settings.ANTHROPIC_API_KEY = "test-key"  # type: ignore[attr-defined]
        settings.ANTHROPIC_BASE_URL = fake.base_url  # type: ignore[attr-defined]
        run = _run(django_capture_on_commit_callbacks)
    assert run.status == "succeeded", run.log
    assert run.report["label_validation"]["used"] is False
    assert "Claude's labels are NOT used" in run.log
    assert run.counts["pseudo_labelled_windows"] == 0


@pytest.mark.slow
def test_a_run_waits_for_a_labelling_batch_without_holding_a_worker_and_resumes(
    clinic: None, settings: object, django_capture_on_commit_callbacks: object
) -> None:
    from monitor_site.celery import app
    from monitor_site.modelops.tasks import poll_label_batches

    settings.PSEUDO_LABEL_BATCH_MIN_WINDOWS = 1  # type: ignore[attr-defined]
    with fake_anthropic() as fake:
        settings.ANTHROPIC_API_KEY = "test-key"  # type: ignore[attr-defined]
        settings.ANTHROPIC_BASE_URL = fake.base_url  # type: ignore[attr-defined]
        fake.batch_polls = 2  # the first poll finds it still running
        run = _run(django_capture_on_commit_callbacks)
        assert run.status == "waiting" and run.label_batch_id and run.active_slot
        assert fake.requests == []  # nothing bought one call at a time
        assert "waiting for Claude labelling batch" in run.log
        with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
            assert poll_label_batches() == 0  # still running
        for _ in range(4):  # the validation batch, then the unlabeled windows' batch
            with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
                poll_label_batches()
            run.refresh_from_db()
            if run.status != "waiting":
                break
        assert run.status == "succeeded", run.log
        assert len(fake.batches) == 2 and fake.requests == []
        assert run.counts["from_cache"] > 0 and PseudoLabel.objects.count() > 0
        assert run.counts["batch_input_tokens"] > 0 and run.counts["input_tokens"] == 0
    route = app.amqp.router.route({}, "monitor_site.modelops.tasks.poll_label_batches")
    assert route["queue"].name == "default"


def test_the_run_page_shows_what_the_labels_cost(settings: object) -> None:
    from monitor_site.modelops.selectors import training_run_labelling_cost

    settings.PSEUDO_LABEL_PRICE_INPUT, settings.PSEUDO_LABEL_PRICE_OUTPUT = 15.0, 75.0  # type: ignore[attr-defined]
    counts = {"input_tokens": 1_000_000, "output_tokens": 100_000, "batch_input_tokens": 2_000_000}
    cost = training_run_labelling_cost(counts=counts, token_budget=2_000_000)
    assert cost == {
        "tokens_one_call_at_a_time": 1_100_000,
        "tokens_batched": 2_000_000,
        "usd": 15.0 + 7.5 + 15.0,  # $15 input, $7.50 output, the batch's $30 at half price
        "budget_left": 900_000,
    }
    assert training_run_labelling_cost(counts={}, token_budget=10) is None


@pytest.mark.slow
def test_in_a_cold_start_the_first_model_must_beat_the_llm_rater(
    clinic: None, settings: object, django_capture_on_commit_callbacks: object
) -> None:
    from monitor_site.patients.models import CareTeam

    CareTeam.objects.update(llm_scoring=True)
    Patient.objects.update(consent_external_processing=True)
    settings.PSEUDO_LABEL_BATCH_MIN_WINDOWS = 0  # type: ignore[attr-defined]
    settings.TRAINING_RELABEL_ROUNDS = 0  # type: ignore[attr-defined]
    with fake_anthropic() as fake:
        settings.ANTHROPIC_API_KEY = "test-key"  # type: ignore[attr-defined]
        settings.ANTHROPIC_BASE_URL = fake.base_url  # type: ignore[attr-defined]
        settings.COLD_START_FIRST_MODEL_MIN_PATIENTS = 1000  # type: ignore[attr-defined]
        run = _run(django_capture_on_commit_callbacks)
        assert run.status == "succeeded", run.log
        assert "first model: the LLM rater rates the" in run.log
        assert run.decision.startswith("kept as candidate (first model): questionnaires from 8 patient(s)")
        assert run.model_version.status == "candidate" and not ModelVersion.objects.filter(status="active")
        settings.COLD_START_FIRST_MODEL_MIN_PATIENTS = 2  # type: ignore[attr-defined]
        second = _run(django_capture_on_commit_callbacks)
    assert second.status == "succeeded", second.log
    # Compared with the rater on the held-out test windows it could rate (the fake rates every one 9).
    assert "first model vs the LLM rater on" in second.decision
    promoted = second.decision.split(": ", 1)[1].startswith("promoted")
    assert (second.model_version.status == "active") == promoted


def test_a_run_draws_its_held_out_patients_by_its_number_and_the_active_versions_patients_last() -> None:
    from monitor_site.modelops.services.training_runs import run_holdout

    active = ModelVersion(
        version="v1",
        manifest={"trained_patients": ["patient-1", "patient-2"], "test_set": {"patients": ["patient-3"]}},
    )
    holdout = run_holdout(run_number=7, active=active)
    assert holdout.rotation == 7 and holdout.seen == {"patient-1", "patient-2", "patient-3"}
    assert run_holdout(run_number=8, active=None).seen == frozenset()
