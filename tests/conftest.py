from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scoring.types import Conversation, LabeledWindow, Turn, Window
from tests.tiny_models import tiny_encoder

SAD = ["I feel hopeless and empty.", "I can't sleep and I'm exhausted.", "Nothing is fun anymore."]
FINE = ["I had a good day at work.", "Slept well and went for a run.", "Dinner with friends was lovely."]


def make_window(i: int, severity: float, *, n_turns: int = 6, end: datetime | None = None) -> Window:
    rng = random.Random(i)
    end = end or datetime(2026, 3, 1, tzinfo=UTC)
    turns = []
    for k in range(n_turns):
        if k % 2:
            turns.append(
                Turn(
                    "assistant",
                    "Thanks for telling me. How is it today?",
                    end - timedelta(minutes=n_turns - k),
                )
            )
        else:
            pool = SAD if rng.random() < severity else FINE
            turns.append(Turn("user", rng.choice(pool), end - timedelta(minutes=n_turns - k)))
    return Window(id=f"w{i}", conversations=(Conversation(id=f"c{i}", turns=tuple(turns)),), end=end)


def make_examples(n: int = 24, *, groups: int = 8) -> list[LabeledWindow]:
    examples = []
    for i in range(n):
        severity = (i % 4) / 3
        items = tuple(float(round(severity * 3)) for _ in range(9))
        examples.append(
            LabeledWindow(
                window=make_window(i, severity), total=sum(items), items=items, group=f"p{i % groups}"
            )
        )
    return examples


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real two-member artifact on a tiny encoder, trained in a second."""
    from training.args import TrainArgs
    from training.finetune import train_ensemble

    store = tmp_path_factory.mktemp("store")
    result = train_ensemble(
        make_examples(), TrainArgs(members=2, epochs=5, patience=5), store, backbone=tiny_encoder()
    )
    return result.artifact_dir


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """tests/browser drives Chromium: slow, so `make test-fast` leaves it out."""
    browser_tests = Path(__file__).parent / "browser"
    for item in items:
        if browser_tests in item.path.parents:
            item.add_marker(pytest.mark.slow)


# ---- Django side ----------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _eager_celery() -> object:
    """Tasks run in-process unless a test starts a real worker (tests/predictions/test_worker.py)."""
    from monitor_site.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _staff_without_second_factor(settings: object) -> None:
    """Tests sign staff in with force_login; production (DEBUG off) sends them to set up an app first,
    which tests/accounts/test_second_factor.py checks with this setting back on."""
    settings.TWO_FACTOR_REQUIRED_FOR_STAFF = False  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _alerts_on_old_data(settings: object) -> None:
    """The factories date sessions in March 2026: let those predictions open alerts (production opens
    none for windows older than ALERT_MAX_AGE_HOURS; tests/alerts checks that guard), and keep the
    alerts whose condition ended then open (no quiet close)."""
    settings.ALERT_MAX_AGE_HOURS = 0  # type: ignore[attr-defined]
    # Episodes on March 2026 data ended long ago: tests of the quiet close (tests/alerts) switch it on.
    settings.ALERT_CLOSE_AFTER_QUIET_DAYS = 0  # type: ignore[attr-defined]


@pytest.fixture
def model_store(settings: object, tmp_path: Path) -> Path:
    store = tmp_path / "models"
    store.mkdir()
    settings.MODEL_STORE_DIR = store  # type: ignore[attr-defined]
    return store


@pytest.fixture
def registered_model(db: None, model_store: Path, tiny_artifact: Path) -> object:
    import shutil

    from monitor_site.modelops.selectors import forget_loaded_models
    from monitor_site.modelops.services.registry import model_version_register

    forget_loaded_models()
    shutil.copytree(tiny_artifact, model_store / tiny_artifact.name)
    return model_version_register(artifact_dir=model_store / tiny_artifact.name)


def register_copy(model_store: Path, source_version: str, new_version: str) -> object:
    """Register a copy of a stored artifact under another version name (a second model to promote)."""
    import shutil

    from monitor_site.modelops.services.registry import model_version_register
    from scoring.artifact import read_manifest, write_manifest

    new_dir = model_store / new_version
    shutil.copytree(model_store / source_version, new_dir)
    manifest = read_manifest(new_dir)
    manifest["version"] = new_version
    write_manifest(new_dir, manifest)
    return model_version_register(artifact_dir=new_dir)


@pytest.fixture
def active_model(registered_model: object, django_capture_on_commit_callbacks: object) -> object:
    from monitor_site.modelops.services.registry import model_version_promote

    model_version_promote(model_version=registered_model)  # type: ignore[arg-type]
    return registered_model


@pytest.fixture
def care_team(db: None) -> object:
    from monitor_site.patients.models import CareTeam

    return CareTeam.objects.create(name="Team A")


@pytest.fixture
def ingest(care_team: object) -> tuple[object, str]:
    """(IngestToken, raw token) for source "app-a", whose new patients join Team A."""
    from monitor_site.patients.services.tokens import ingest_token_create

    return ingest_token_create(source_name="app-a", care_team_name="Team A")


@pytest.fixture
def api(ingest: tuple[object, str]) -> object:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ingest[1]}")
    return client


def database_url() -> str:
    """The test database as a DATABASE_URL, for the real processes a test starts (workers, gunicorn)."""
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def session_body(
    session_id: str = "s1",
    patient: str = "p1",
    *,
    start: datetime | None = None,
    n: int = 4,
    text: str = "I have been sleeping badly",
) -> dict:
    start = start or datetime(2026, 3, 1, 9, tzinfo=UTC)
    return {
        "patient": patient,
        "session_id": session_id,
        "started_at": start.isoformat(),
        "messages": [
            {
                "role": "user" if i % 2 == 0 else "assistant",
                "text": f"{text} ({i})",
                "sent_at": (start + timedelta(minutes=i)).isoformat(),
            }
            for i in range(n)
        ],
    }
