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
from tests.conftest import session_body

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(model_store: Path, tmp_path: Path) -> object:
    if connection.vendor != "postgresql":
        pytest.skip("the worker test needs the PostgreSQL test database")
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MODEL_STORE_DIR": str(model_store),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "SCORING_DEVICE": "cpu",
    }
    log = (tmp_path / "worker.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "monitor_site",
            "worker",
            "-Q",
            "gpu,default",
            "-P",
            "solo",
            "--concurrency",
            "1",
            "--prefetch-multiplier",
            "1",
            "--purge",
            "-n",
            f"test-{os.getpid()}@%h",
            "-l",
            "info",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not app.control.ping(timeout=1.0):
        assert proc.poll() is None, (tmp_path / "worker.log").read_text()
    assert app.control.ping(timeout=2.0), "worker did not come up: " + (tmp_path / "worker.log").read_text()
    yield proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_it_scores_a_pushed_session_in_a_real_worker(
    model_store: Path, tiny_artifact: Path, ingest: tuple, worker: subprocess.Popen, tmp_path: Path
) -> None:
    from rest_framework.test import APIClient

    from monitor_site.modelops.services import model_version_promote, model_version_register

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
