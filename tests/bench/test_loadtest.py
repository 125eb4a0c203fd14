"""`manage.py loadtest` at tiny scale: real gunicorn, a real scoring worker, the PostgreSQL test database.
Only the report's shape and that everything started is stopped; timings belong in benchmarks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from django.db import connection

from monitor_site.bench.loadtest import LoadtestArgs, format_report, loadtest_run
from monitor_site.bench.loadtest_client import BodyMaker, Options
from monitor_site.bench.stats import percentile
from monitor_site.patients.models import ConversationSession

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _own_redis_db(url: str) -> str:
    """The same Redis, another database: no other test's worker takes these tasks, nor ours theirs."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}/12"


@pytest.mark.slow
def test_it_drives_the_api_and_reports_throughput_latency_cpu_and_the_backlog(
    active_model: object, settings: object, tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the load test needs the PostgreSQL test database")
    args = LoadtestArgs(
        duration=3,
        warmup=1,
        concurrency=2,
        messages=3,
        patients=5,
        web_workers=1,
        drain=2,
        purge_queue=True,
        out=tmp_path / "loadtest.json",
        log_dir=tmp_path,
        broker_url=_own_redis_db(settings.CELERY_BROKER_URL),  # type: ignore[attr-defined]
        bench=tmp_path / "no-bench.json",
    )
    report = loadtest_run(args=args, echo=lambda line: None)

    requests = report["requests"]
    assert requests["ok"] > 0 and set(requests["statuses"]) == {"201"}, (
        tmp_path / "gunicorn.log"
    ).read_text()
    assert report["sessions_per_s"] == pytest.approx(requests["ok"] / 3, abs=0.1)
    assert set(report["latency_ms"]) == {"p50", "p90", "p99", "max"}
    assert report["latency_ms"]["p50"] <= report["latency_ms"]["p99"] <= report["latency_ms"]["max"]
    assert requests["sessions_stored"] == ConversationSession.objects.count() >= requests["ok"]
    assert set(report["cpu"]["ms_per_session"]) == {"web", "postgres", "scoring_worker", "client"}
    assert report["cpu"]["web"]["cpu_s"] > 0 and report["cpu"]["client"]["cpu_s"] > 0
    scoring = report["scoring"]
    assert scoring["model_version"] == active_model.version  # type: ignore[attr-defined]
    assert (
        scoring["backlog_at_end"]
        == requests["sessions_stored"] - scoring["scored_during_load"] - (scoring["scored_during_drain"])
    )
    assert scoring["bench_model"] is None  # no make bench-model report to compare with
    goal = report["goal"]
    assert (goal["sessions_per_s"], goal["p99_ms"], goal["drain_of_bench_model"]) == (300, 150, 0.8)
    assert goal["drain_vs_bench_model"] is None  # no var/bench.json given: judged on the load alone
    bare = report["bare_post"]  # the same load on the bare POST, same gunicorn
    assert bare["ok"] > 0 and set(bare["statuses"]) == {"201"} and bare["web_ms_per_request"] > 0
    assert bare["cost_ratio"] == pytest.approx(
        1000 * report["cpu"]["web"]["cpu_s"] / requests["ok"] / bare["web_ms_per_request"], rel=0.01
    )
    assert ConversationSession.objects.count() == requests["sessions_stored"]  # it stored nothing
    assert goal["cost_ratio"] == 2.0 and goal["cost_met"] is not None
    assert json.loads(args.out.read_text()) == report  # type: ignore[union-attr]
    assert "sessions/s" in format_report(report) and "per bare POST" in format_report(report)
    assert (tmp_path / "gunicorn.log").exists() and (tmp_path / "worker.log").exists()
    assert _processes_mentioning(report["servers"]["bind"]) == []  # gunicorn was stopped
    assert _processes_mentioning(report["run"]) == []  # so was the worker (named after the run)


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(f"{entry.name}: {cmdline[:120]}")
    return found


@pytest.mark.slow
@pytest.mark.django_db(transaction=False)
def test_on_an_empty_database_it_trains_a_starter_model_without_the_member_it_cannot_fit(
    model_store: Path,
) -> None:
    from monitor_site.bench.loadtest import loadtest_starter_model_ensure
    from monitor_site.modelops.selectors import model_version_active

    said: list[str] = []
    version = loadtest_starter_model_ensure(say=said.append)  # what `make loadtest` does first
    assert version == model_version_active() and version.status == "active"
    assert [m["name"] for m in version.manifest["members"]] == ["m0", "m1"]
    assert any(line.startswith("the starter model has no lexical member: ") for line in said), said
    assert loadtest_starter_model_ensure(say=said.append) == version  # the second run trains nothing


def test_the_client_sends_unique_sessions_that_rotate_over_the_patients() -> None:
    make = BodyMaker(Options(patients=3, messages=4, run_id="t"))
    bodies = [json.loads(make()) for _ in range(7)]
    assert len({b["session_id"] for b in bodies}) == 7
    assert [b["patient"] for b in bodies[:4]] == ["lt-00000", "lt-00001", "lt-00002", "lt-00000"]
    assert all(len(b["messages"]) == 4 and b["messages"][0]["role"] == "user" for b in bodies)
    assert all(b["started_at"] <= b["messages"][0]["sent_at"] for b in bodies)


def test_percentiles_pick_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0 and percentile(values, 99) == 99.0
    assert math.isnan(percentile([], 50))


@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize(
    ("rate", "p99", "drained", "predicted", "ratio", "met"),
    [
        (320, 40, 21.0, 22.0, 1.8, True),
        (320, 40, 10.0, 22.0, 1.8, False),  # the backlog drains at under 80% of what the model can do
        (320, 40, None, None, None, True),  # no drain, no bare POST measured: the load alone
        (250, 40, 21.0, 22.0, 1.8, False),
        (320, 160, 21.0, 22.0, 1.8, False),
        (320, 40, 21.0, 22.0, 2.5, False),  # a session costs over twice a bare authenticated POST
    ],
)
def test_its_goal_needs_the_rate_the_p99_a_drain_near_the_bench_and_the_cost_ratio(
    rate: float, p99: float, drained: float | None, predicted: float | None, ratio: float | None, met: bool
) -> None:
    from monitor_site.bench.loadtest import loadtest_goal

    scoring = {"drain_sessions_per_s": drained, "bench_model": {"predicted_sessions_per_s": predicted}}
    bare = None if ratio is None else {"cost_ratio": ratio}
    load = {"sessions_per_s": rate, "latency_ms": {"p99": p99}}
    assert loadtest_goal(load, scoring, bare)["met"] is met
    assert loadtest_goal(load, scoring, bare)["cost_met"] is (
        None if ratio is None else ratio <= 2 and p99 < 150
    )
