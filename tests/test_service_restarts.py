"""Real restarts of the services the app stands on, while sessions arrive over HTTP.

Each test runs gunicorn (and, for Redis, a Celery worker) as real processes against throwaway servers
it owns: a redis-server that keeps nothing on disk, and for PostgreSQL a cluster of its own made with
initdb, so that restarting them disturbs nothing else on the machine. Nothing may be lost: every
session answered 201 is stored exactly once and, once a model is active, scored exactly once.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from monitor_site.bench.loadtest_procs import Children, answers_http, free_port, wait_for
from tests.conftest import session_body

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.worker, pytest.mark.faults, pytest.mark.slow]


# ---- throwaway servers ------------------------------------------------------------------------------
@dataclass
class Redis:
    port: int
    log: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        wait_for(
            lambda: _answers_ping(self.port), what="redis-server", proc=self.proc, log=self.log, timeout=20
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(
                signal.SIGTERM
            )  # with --save "" it keeps nothing: every queued task is gone
            self.proc.wait(timeout=20)


def _answers_ping(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(7) == b"+PONG\r\n"
    except OSError:
        return False


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Redis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = Redis(port=free_port(), log=tmp_path / "redis.log")
    server.start()
    yield server
    server.stop()


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class PostgresCluster:
    bin: Path
    dir: Path
    port: int
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.dir / "server.log"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/phq9_restart"

    def ctl(self, *args: str) -> None:
        argv = [str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-l", str(self.log), "-w", *args]
        subprocess.run(_as_postgres(argv), check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.ctl("-o", options, "start")

    def stop(self) -> None:
        self.ctl("-m", "fast", "stop")


@pytest.fixture
def postgres() -> Iterator[PostgresCluster]:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        pytest.skip("PostgreSQL's server binaries are not installed (apt-get install postgresql)")
    workdir = Path(tempfile.mkdtemp(prefix="phq9-restart-pg."))
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
    cluster = PostgresCluster(bin=bins[-1].parent, dir=workdir, port=free_port())
    initdb = [str(cluster.bin / "initdb"), "-D", str(workdir / "data"), "-A", "trust", "-U", "postgres"]
    subprocess.run(_as_postgres(initdb), check=True, capture_output=True, timeout=120)
    cluster.start()
    try:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE phq9_restart")
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped by a failing test
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# ---- the app's processes ----------------------------------------------------------------------------
def _env(*, database_url: str, broker_url: str, model_store: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "MODEL_STORE_DIR": str(model_store),
        "DJANGO_DEBUG": "0",
        "SCORING_DEVICE": "cpu",
        "PYTHONUNBUFFERED": "1",
    }


def _gunicorn(children: Children, env: dict[str, str], log: Path) -> int:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "monitor_site.wsgi", "--bind", f"127.0.0.1:{port}"]
    web = children.start(
        "gunicorn", [*argv, "--workers", "2", "--log-level", "warning"], env=env, log_path=log
    )
    wait_for(lambda: answers_http(port), what="gunicorn", proc=web, log=log, timeout=120)
    return port


def _post(port: int, token: str, body: dict) -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        payload = json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request("POST", "/api/v1/sessions", body=payload, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read() or b"{}")
    finally:
        conn.close()


def _wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


# ---- Redis ------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_sessions_arriving_while_redis_restarts_are_all_kept_and_scored_once(
    redis: Redis, model_store: Path, tiny_artifact: Path, ingest: tuple, tmp_path: Path
) -> None:
    from django.db import connection
    from django.db.models import Count

    from monitor_site.modelops.services.registry import model_version_promote, model_version_register
    from monitor_site.patients.models import ConversationSession
    from monitor_site.predictions.models import Prediction
    from monitor_site.predictions.services.scoring import predictions_score_pending
    from tests.conftest import database_url

    if connection.vendor != "postgresql":
        pytest.skip("needs the PostgreSQL test database")
    shutil.copytree(tiny_artifact, model_store / tiny_artifact.name)
    version = model_version_register(artifact_dir=model_store / tiny_artifact.name)
    model_version_promote(model_version=version)
    env = _env(database_url=database_url(), broker_url=redis.url, model_store=model_store)
    children = Children()
    try:
        port = _gunicorn(children, env, tmp_path / "gunicorn.log")
        worker_argv = [sys.executable, "-m", "celery", "-A", "monitor_site", "worker", "-Q", "gpu,default"]
        worker_argv += ["-P", "solo", "--concurrency", "1", "-n", f"restart-{os.getpid()}@%h", "-l", "info"]
        children.start("worker", worker_argv, env=env, log_path=tmp_path / "worker.log")

        statuses: list[int] = []
        ids: list[int] = []
        restarted = threading.Event()

        def restart() -> None:
            redis.stop()
            time.sleep(2.0)  # sessions keep arriving while it is down
            redis.start()
            restarted.set()

        for i in range(120):
            if i == 40:
                threading.Thread(target=restart, daemon=True).start()
            status, _, body = _post(port, ingest[1], session_body(patient=f"p{i % 6}", session_id=f"s{i}"))
            statuses.append(status)
            ids.append(body.get("id", -1))
            time.sleep(0.03)
        assert restarted.wait(30), (tmp_path / "redis.log").read_text()
        after_restart = [
            _post(port, ingest[1], session_body(patient="p9", session_id=f"late{i}")) for i in range(3)
        ]
        assert statuses == [201] * 120 and [s for s, _, _ in after_restart] == [201] * 3

        # The worker reconnects by itself: what arrives after the restart is scored without help.
        late = [body["id"] for _, _, body in after_restart]
        _wait_until(
            lambda: Prediction.objects.filter(session_id__in=late).count() == 3,
            timeout=120,
            what="the worker to score sessions sent after the restart: "
            + (tmp_path / "worker.log").read_text()[-3000:],
        )
    finally:
        children.stop_all()
    # Tasks queued in Redis before it stopped are gone; the sweeper (score_pending, every 10 minutes)
    # scores those sessions from PostgreSQL.
    predictions_score_pending()
    assert ConversationSession.objects.count() == 123 == len(set(ids)) + 3
    per_session = Prediction.objects.values("session_id").annotate(n=Count("id"))
    assert len(per_session) == 123 and {row["n"] for row in per_session} == {1}


# ---- PostgreSQL -------------------------------------------------------------------------------------
def test_the_api_answers_503_while_postgresql_restarts_and_recovers_by_itself(
    postgres: PostgresCluster, redis: Redis, tmp_path: Path
) -> None:
    import psycopg

    env = _env(database_url=postgres.url, broker_url=redis.url, model_store=tmp_path / "models")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    made = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "create_ingest_token",
            "restart-app",
            "--care-team",
            "Team R",
            "--create-team",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    token = next(word for word in made.stdout.split() if word.startswith("phq_"))
    children = Children()
    answered: dict[str, int] = {}
    try:
        port = _gunicorn(children, env, tmp_path / "gunicorn.log")
        for i in range(5):
            answered[f"before{i}"] = _post(port, token, session_body(session_id=f"before{i}"))[0]
        postgres.stop()
        for i in range(4):
            status, headers, body = _post(port, token, session_body(session_id=f"during{i}"))
            assert status == 503, body
            assert body["code"] == "service_unavailable" and "nothing was stored" in body["detail"]
            assert int(headers["Retry-After"]) > 0
        postgres.start()
        # A client that honours Retry-After: each gunicorn worker may find its old connection dead
        # once (that answer is a 503 too, and nothing is stored); then it reconnects by itself.
        for i in range(10):
            session_id = f"during{i}" if i < 4 else f"after{i}"
            for _attempt in range(4):
                status, _, body = _post(port, token, session_body(session_id=session_id))
                if status != 503:
                    break
            answered[session_id] = status
    finally:
        children.stop_all()
    assert set(answered.values()) == {201}, answered
    with psycopg.connect(
        host="127.0.0.1", port=postgres.port, user="postgres", dbname="phq9_restart"
    ) as conn:
        stored = [row[0] for row in conn.execute("SELECT external_id FROM patients_conversationsession")]
        messages = conn.execute("SELECT count(*) FROM patients_message").fetchone()[0]
    assert sorted(stored) == sorted(answered) and messages == 4 * len(answered)
