"""A real Celery worker process, a real Redis broker, the real Postgres test database."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from monitor_site.celery import app
from monitor_site.predictions.models import Prediction
from tests.conftest import database_url, session_body

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _start_worker(model_store: Path, log_path: Path, *, purge: bool) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MODEL_STORE_DIR": str(model_store),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "SCORING_DEVICE": "cpu",
    }
    command = [sys.executable, "-m", "celery", "-A", "monitor_site", "worker", "-Q", "gpu,default"]
    command += ["-P", "solo", "--concurrency", "1", "--prefetch-multiplier", "1"]
    command += ["-n", f"test-{os.getpid()}-{time.monotonic_ns()}@%h", "-l", "info"]
    command += ["--purge"] if purge else []
    log = log_path.open("a")
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not app.control.ping(timeout=1.0):
        assert proc.poll() is None, log_path.read_text()
    assert app.control.ping(timeout=2.0), "worker did not come up: " + log_path.read_text()
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def worker(model_store: Path, tmp_path: Path) -> object:
    if connection.vendor != "postgresql":
        pytest.skip("the worker test needs the PostgreSQL test database")
    proc = _start_worker(model_store, tmp_path / "worker.log", purge=True)
    yield proc
    _stop(proc)


@pytest.mark.slow
def test_it_scores_a_pushed_session_in_a_real_worker(
    model_store: Path, tiny_artifact: Path, ingest: tuple, worker: subprocess.Popen, tmp_path: Path
) -> None:
    from rest_framework.test import APIClient

    from monitor_site.modelops.services.registry import model_version_promote, model_version_register

    app.conf.task_always_eager = False
    shutil.copytree(tiny_artifact, model_store / tiny_artifact.name)
    model_version_promote(model_version=model_version_register(artifact_dir=model_store / tiny_artifact.name))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ingest[1]}")
    r = client.post("/api/v1/sessions", session_body(), format="json")
    assert r.status_code == 201
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not Prediction.objects.filter(session_id=r.json()["id"]).exists():
        time.sleep(0.5)
    prediction = Prediction.objects.filter(session_id=r.json()["id"]).first()
    assert prediction is not None, (tmp_path / "worker.log").read_text()
    assert prediction.model_version.version == tiny_artifact.name
    assert Prediction.objects.count() == 1


@pytest.mark.django_db(transaction=False)
def test_it_routes_scoring_to_the_gpu_queue() -> None:
    from monitor_site.predictions import tasks

    for task in (tasks.score_session, tasks.score_pending):
        assert app.amqp.router.route({}, task.name)["queue"].name == "gpu"
        assert task.acks_late is True


@pytest.mark.faults
@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(
    model_store: Path, tiny_artifact: Path, ingest: tuple, tmp_path: Path
) -> None:
    """500 sessions; the worker is SIGKILLed while scoring them; a new worker goes on (acks_late:
    the killed task is not acknowledged) and the sweeper (score_pending) catches what sits unacked
    in Redis until its visibility timeout. Every session ends with exactly one prediction."""
    from datetime import UTC, datetime, timedelta

    from django.db.models import Count

    from monitor_site.modelops.services.registry import model_version_promote, model_version_register
    from monitor_site.patients.services.ingest import session_ingest
    from monitor_site.predictions.services.scoring import predictions_score_pending
    from monitor_site.predictions.tasks import session_scoring_enqueue

    if connection.vendor != "postgresql":
        pytest.skip("the worker test needs the PostgreSQL test database")
    app.conf.task_always_eager = False
    shutil.copytree(tiny_artifact, model_store / tiny_artifact.name)
    version = model_version_register(artifact_dir=model_store / tiny_artifact.name)
    model_version_promote(model_version=version)
    log_path = tmp_path / "worker.log"
    first = _start_worker(model_store, log_path, purge=True)  # drops what earlier tests left queued
    start = datetime.now(UTC) - timedelta(days=30)
    for i in range(500):
        at = start + timedelta(hours=i)
        result = session_ingest(
            source=ingest[0].source,
            care_team=ingest[0].source.default_care_team,
            patient_external_id=f"p{i % 25}",
            session_external_id=f"s{i}",
            started_at=at,
            messages=[
                {"role": "user", "text": f"day {i}: I can't sleep and I feel flat", "sent_at": at},
                {"role": "assistant", "text": "That sounds hard.", "sent_at": at + timedelta(minutes=1)},
            ],
        )
        session_scoring_enqueue(session_id=result.obj.pk)  # what the ingest edge does
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and Prediction.objects.count() < 60:
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)  # mid-batch: no chance to acknowledge or clean up
    first.wait(timeout=30)
    killed_at = Prediction.objects.count()
    assert 0 < killed_at < 500, log_path.read_text()[-3000:]
    second = _start_worker(model_store, log_path, purge=False)
    try:
        deadline = time.monotonic() + 240
        last, stable_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            n = Prediction.objects.count()
            if n != last:
                last, stable_since = n, time.monotonic()
            if n >= 499 or time.monotonic() - stable_since > 10:
                break
            time.sleep(0.5)
    finally:
        _stop(second)
    predictions_score_pending()  # the periodic sweeper
    assert Prediction.objects.filter(model_version=version).count() == 500
    duplicated = (
        Prediction.objects.values("session_id", "model_version_id").annotate(n=Count("pk")).filter(n__gt=1)
    )
    assert not duplicated.exists()
