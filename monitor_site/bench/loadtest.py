"""`manage.py loadtest`: the ingestion API under load, with a scoring worker running beside it.

Starts gunicorn and one Celery worker (`-Q gpu`) as child processes on this machine, drives
`POST /api/v1/sessions` from a separate client process (monitor_site.bench.loadtest_client) over
loopback only, then watches the scoring backlog drain for a bounded time. Everything it starts is
stopped at the end, on errors and on Ctrl-C. The report: sustained sessions/s, latency percentiles,
CPU per component (web, PostgreSQL backends of this database, scoring worker, client) and the
scoring queue's backlog and drain rate beside what `make bench-model` measured.

Use a database and a Redis database of their own (`make loadtest` does): the run deletes the rows
of earlier load tests (sources named loadtest-*) and, with --purge-queue, empties the gpu queue.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection, transaction

from monitor_site.alerts.tasks import alerts_notify_enqueue
from monitor_site.bench.bare_post import BARE_POST_PATH
from monitor_site.bench.loadtest_client import PATH
from monitor_site.bench.loadtest_procs import (
    ROOT,
    Children,
    CpuMeter,
    answers_http,
    free_port,
    log_tail,
    lower_cpu_weight,
    postgres_backends,
    process_tree,
    stop_on_sigterm,
    wait_for,
)
from monitor_site.demo.services import demo_clinic_seed
from monitor_site.modelops.models import ModelVersion
from monitor_site.modelops.selectors import model_version_active
from monitor_site.patients.models import ConversationSession, IngestSource, IngestToken, Patient
from monitor_site.patients.services.tokens import ingest_token_create
from monitor_site.predictions.models import Prediction
from scoring.cli_args import arg
from training.synthetic.clinic import DemoClinicArgs

SOURCE_PREFIX = "loadtest-"
CARE_TEAM = "Load test team"
GOAL_SESSIONS_PER_S = 300
GOAL_P99_MS = 150
GOAL_DRAIN_OF_BENCH = 0.8  # the backlog drains at >= this share of what make bench-model predicts
# Web CPU per session / web CPU per bare authenticated POST (bench/bare_post.py), both at saturation.
GOAL_COST_RATIO = 2.0


@dataclass
class LoadtestArgs:
    duration: float = arg(30.0, "measured seconds, after the warm-up")
    warmup: float = arg(5.0, "seconds of load before measuring")
    concurrency: int = arg(8, "client connections")
    messages: int = arg(10, "messages per session")
    patients: int = arg(300, "distinct patients the sessions belong to")
    rate: float = arg(0.0, "sessions/s on a fixed schedule; 0 = closed loop")
    web_workers: int = arg(4, "gunicorn workers", aliases=("--workers",))
    web_threads: int = arg(
        1, "threads per gunicorn worker; > 1 runs the gthread worker", aliases=("--threads",)
    )
    scoring_worker: bool = arg(True, "run a scoring worker (-Q gpu) beside the web tier")
    # Scoring is background work: on a box shared with the web tier it yields to it, as a deployment
    # would arrange with CPUWeight= or a machine of its own. See loadtest_procs.lower_cpu_weight.
    worker_nice: int = arg(10, "the scoring worker's CPU weight as a nice value; 0 = as the web tier")
    # On a 2-core box shared with the web tier one thread drains 2-4x faster: two threads spin-wait on
    # each other whenever gunicorn or PostgreSQL holds the other core.
    worker_threads: int = arg(1, "torch threads of the scoring worker (OMP_NUM_THREADS); 0 = one per core")
    bare_post: bool = arg(
        True, "after the sessions, the same load on a POST that only authenticates (the cost ratio's floor)"
    )
    drain: float = arg(30.0, "seconds to watch the backlog drain after the load stops")
    purge_queue: bool = arg(False, "empty the gpu queue first")
    out: Path | None = arg(help="JSON report", factory=lambda: ROOT / "var" / "loadtest.json")
    log_dir: Path = arg(
        help="logs of gunicorn, the worker and the client", factory=lambda: ROOT / "var" / "loadtest"
    )
    broker_url: str = arg("", "the workers' broker; empty = settings.CELERY_BROKER_URL")
    bench: Path = arg(help="make bench-model's JSON report", factory=lambda: ROOT / "var" / "bench.json")

    def __post_init__(self) -> None:
        if self.duration <= 0 or self.warmup < 0 or self.drain < 0:
            raise ValueError("duration must be > 0; warmup and drain >= 0")
        if self.duration + self.warmup > 600:
            raise ValueError("keep a run under 10 minutes (duration + warmup <= 600 s)")
        if not 1 <= self.concurrency <= 512 or not 1 <= self.messages <= settings.API_MAX_MESSAGES:
            raise ValueError(f"concurrency 1..512, messages 1..{settings.API_MAX_MESSAGES}")
        if self.patients < 1 or self.web_workers < 1 or self.web_threads < 1 or self.rate < 0:
            raise ValueError("patients, web workers and threads >= 1; rate >= 0")


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        raise ValueError(
            "the load test needs PostgreSQL: set DATABASE_URL=postgres://... (make loadtest does)"
        )
    auth = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _child_env(broker_url: str) -> dict[str, str]:
    """The children use exactly this process's database, broker and model store; never DEBUG."""
    return {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "MODEL_STORE_DIR": str(settings.MODEL_STORE_DIR),
        "DJANGO_DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "monitor_site.settings",
        "PYTHONUNBUFFERED": "1",
        # The load test pushes one source far past a real app's rate: no per-token limit here.
        "INGEST_RATE_LIMIT_PER_MINUTE": "0",
        "LOADTEST_BARE_POST": "1",  # this gunicorn only: the floor the ingestion cost is compared with
    }


def gunicorn_argv(args: LoadtestArgs, port: int) -> list[str]:
    argv = [sys.executable, "-m", "gunicorn", "monitor_site.wsgi", "--bind", f"127.0.0.1:{port}"]
    argv += ["--workers", str(args.web_workers), "--preload", "--log-level", "warning"]
    if args.web_threads > 1:
        argv += ["--worker-class", "gthread", "--threads", str(args.web_threads), "--keep-alive", "5"]
    return argv


def worker_argv(args: LoadtestArgs, run_id: str) -> list[str]:
    argv = ["nice", "-n", str(args.worker_nice)] if args.worker_nice else []
    argv += [sys.executable, "-m", "celery", "-A", "monitor_site", "worker", "-Q", "gpu"]
    argv += ["--concurrency", "1", "--prefetch-multiplier", "1", "-n", f"{run_id}@%h", "-l", "info"]
    return argv + ["--without-gossip", "--without-mingle", "--without-heartbeat"]


def loadtest_starter_model_ensure(*, say: Callable[[str], None]) -> ModelVersion:
    """The active model, or a starter model trained on a small synthetic clinic's questionnaires
    (seed_demo) on an empty database. Its few questionnaires cannot fit every member (the lexical one
    needs two training windows): the ensemble is trained without it, and `say` gets the reason."""
    active = model_version_active()
    if active is not None:
        return active
    say("no active model: seeding a small synthetic clinic and training a starter model")
    demo_clinic_seed(args=DemoClinicArgs(patients=8, weeks=3), notify=alerts_notify_enqueue, say=say)
    active = model_version_active()
    if active is None:
        raise RuntimeError("the starter model was trained but not promoted; see the log above")
    return active


# ---- data and the queue -------------------------------------------------------------------------------
def loadtest_data_reset() -> int:
    """Delete the patients (and so sessions, messages, predictions) of earlier load tests."""
    with transaction.atomic():
        sources = IngestSource.objects.filter(name__startswith=SOURCE_PREFIX)
        removed, _ = Patient.objects.filter(source__in=sources).delete()
        ConversationSession.objects.filter(source__in=sources).delete()
        IngestToken.objects.filter(source__in=sources).delete()
        sources.delete()
    return removed


def _queue_length(broker_url: str, queue: str = "gpu", *, purge: bool = False) -> int | None:
    from kombu import Connection

    try:
        with Connection(broker_url, connect_timeout=3) as conn:
            channel = conn.default_channel
            if purge:
                channel.queue_purge(queue)
            return int(channel.queue_declare(queue, passive=True).message_count)
    except Exception:  # a queue that was never declared, or no broker: the report says "unknown"
        return None


def _scored(source: IngestSource, version: ModelVersion | None) -> tuple[int, int]:
    """(sessions scored by the active version, their window tokens) for this run's source."""
    if version is None:
        return 0, 0
    from django.db.models import Sum

    rows = Prediction.objects.filter(session__source=source, model_version=version)
    return rows.count(), int(rows.aggregate(t=Sum("n_tokens"))["t"] or 0)


def _bench_model(path: Path, version: ModelVersion | None) -> dict | None:
    """What `make bench-model` measured (var/bench.json) for this kind of ensemble, if it ran."""
    if version is None or not path.is_file():
        return None
    try:
        manifest = json.loads(
            (Path(settings.MODEL_STORE_DIR) / version.version / "manifest.json").read_text()
        )
        mode = manifest["members"][0]["mode"]
        stats = json.loads(path.read_text())["ensembles"][mode]
    except (OSError, KeyError, IndexError, ValueError):
        return None
    return {
        "ensemble": mode,
        "threads": json.loads(path.read_text()).get("threads"),
        "windows_per_s": stats["windows_per_s"],
        "tokens_per_s": stats["tokens_per_s"],
        "tokens_per_window": stats["tokens"] / max(1, json.loads(path.read_text())["windows"]),
    }


# ---- the run ------------------------------------------------------------------------------------------
def loadtest_run(*, args: LoadtestArgs, echo: Callable[[str], None] = print) -> dict:
    """Start the servers, drive the load, watch the backlog drain, stop everything; the report."""
    broker_url = args.broker_url or settings.CELERY_BROKER_URL
    env = _child_env(broker_url)
    version = model_version_active()
    if args.scoring_worker and version is None:
        raise ValueError("no active model: train one first (manage.py seed_demo --patients 8 --weeks 3)")
    removed = loadtest_data_reset()
    run_id = f"{SOURCE_PREFIX}{datetime.now(UTC):%Y%m%d-%H%M%S}-{os.getpid()}"
    token, raw = ingest_token_create(source_name=run_id, care_team_name=CARE_TEAM, create_team=True)
    source = token.source
    queued_before = _queue_length(broker_url, purge=args.purge_queue)
    args.log_dir.mkdir(parents=True, exist_ok=True)
    queued = "empty" if queued_before is None else f"{queued_before} tasks"
    echo(f"run {run_id}: removed {removed} rows of earlier load tests; gpu queue: {queued}")

    children, clients = Children(), list[subprocess.Popen]()
    worker_weight = "equal to the web tier"
    port = free_port()
    with stop_on_sigterm():
        try:
            web_log = args.log_dir / "gunicorn.log"
            web = children.start("gunicorn", gunicorn_argv(args, port), env=env, log_path=web_log)
            worker = None
            if args.scoring_worker:
                worker_log = args.log_dir / "worker.log"
                worker_env = (
                    {**env, "OMP_NUM_THREADS": str(args.worker_threads)} if args.worker_threads else env
                )
                worker = children.start(
                    "worker", worker_argv(args, run_id), env=worker_env, log_path=worker_log
                )
                if args.worker_nice:
                    worker_weight = lower_cpu_weight(worker, args.worker_nice)
                    echo(f"scoring worker: {worker_weight}")
            wait_for(lambda: answers_http(port), what="gunicorn", proc=web, log=web_log, timeout=120)
            if worker is not None:
                wait_for(
                    lambda: " ready." in log_tail(worker_log, 100_000),
                    what="the scoring worker",
                    proc=worker,
                    log=worker_log,
                    timeout=120,
                )
            echo(
                f"gunicorn on 127.0.0.1:{port} and the scoring worker are up; load for "
                f"{args.warmup:g} s warm-up + {args.duration:g} s"
            )
            dbname = connection.settings_dict["NAME"]
            client_pid: list[int] = []
            meter = CpuMeter(
                {
                    "web": lambda: process_tree(web.pid),
                    "postgres": lambda: postgres_backends(dbname),
                    "scoring_worker": lambda: process_tree(worker.pid) if worker else [],
                    "client": lambda: client_pid,
                }
            )
            load, cpu = _phase(args, port, raw, run_id, PATH, meter, clients, client_pid)
            stored = ConversationSession.objects.filter(source=source).count()
            bare = None
            if args.bare_post:
                # Same processes, same connections and bodies, the scoring worker still busy with the
                # backlog as it was during the sessions: only what the endpoint does differs.
                echo(f"sessions done; the same load on {BARE_POST_PATH} (authenticates, then nothing)")
                bare_load, bare_cpu = _phase(
                    args, port, raw, f"{run_id}-bare", BARE_POST_PATH, meter, clients, client_pid
                )
                bare = _bare_report(bare_load, bare_cpu)
            scoring = _drain(args, source, version, broker_url, stored, worker, echo)
        finally:
            for client in clients:  # ended by itself unless the run was interrupted
                if client.poll() is None:
                    client.kill()
                    client.wait()
            children.stop_all()
    servers = {"bind": f"127.0.0.1:{port}", "gunicorn": " ".join(gunicorn_argv(args, port)[1:])}
    if args.scoring_worker:
        servers["worker"] = " ".join(worker_argv(args, run_id))
        servers["worker_cpu_weight"] = worker_weight
    return _report(args, run_id, servers, load, cpu, stored, scoring, bare)


def _phase(
    args: LoadtestArgs,
    port: int,
    token: str,
    run_id: str,
    path: str,
    meter: CpuMeter,
    clients: list[subprocess.Popen],
    client_pid: list[int],
) -> tuple[dict, dict]:
    """One client's load on `path`: (its report, CPU per component over its measured span)."""
    client = _client(args, port, token, run_id, path)
    clients.append(client)
    client_pid[:] = [client.pid]
    # CPU is measured over the client's measured span only: it says when that starts and ends.
    _await_mark(client, "measuring")
    meter.start()
    _await_mark(client, "done")
    cpu = meter.stop()
    out, err = client.communicate(timeout=120)
    if client.returncode != 0:
        raise RuntimeError(f"the load client failed ({client.returncode}):\n{err[-2000:]}")
    return json.loads(out), cpu


def _client(args: LoadtestArgs, port: int, token: str, run_id: str, path: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "monitor_site.bench.loadtest_client", "--port", str(port), "--token", token]
    for name in ("duration", "warmup", "concurrency", "messages", "patients", "rate"):
        argv += ["--" + name, str(getattr(args, name))]
    argv += ["--run-id", run_id, "--path", path]
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _bare_report(load: dict, cpu: dict) -> dict:
    ok = load["statuses"].get("201", 0)
    return {
        "path": BARE_POST_PATH,
        "requests_per_s": load["sessions_per_s"],
        "latency_ms": load["latency_ms"],
        "ok": ok,
        "statuses": load["statuses"],
        "errors": load["errors"],
        "cpu": cpu,
        "web_ms_per_request": round(1000 * cpu["web"]["cpu_s"] / ok, 3) if ok else None,
    }


def _await_mark(client: subprocess.Popen, mark: str) -> None:
    assert client.stderr is not None
    for line in client.stderr:
        if line.strip() == mark:
            return
    raise RuntimeError(f"the load client ended before '{mark}' (exit {client.wait()})")


def _drain(
    args: LoadtestArgs,
    source: IngestSource,
    version: ModelVersion | None,
    broker_url: str,
    stored: int,
    worker: subprocess.Popen | None,
    echo: Callable[[str], None],
) -> dict:
    scored_at_load_end, tokens_at_load_end = _scored(source, version)
    meter = CpuMeter({"scoring_worker": lambda: process_tree(worker.pid) if worker else []})
    meter.start()
    started = time.monotonic()
    out: dict = {
        "worker": worker is not None,
        "model_version": version.version if version else None,
        "scored_during_load": scored_at_load_end,
        "backlog_at_load_end": stored - scored_at_load_end,
        "queue_length_at_load_end": _queue_length(broker_url),
    }
    if worker is None or not args.drain:
        return out
    echo(
        f"load done: {stored} sessions stored, {scored_at_load_end} scored; watching the backlog "
        f"drain for up to {args.drain:g} s"
    )
    scored = first = scored_at_load_end
    while time.monotonic() - started < args.drain and scored < stored:
        time.sleep(min(2.0, max(0.1, args.drain - (time.monotonic() - started))))
        scored, _ = _scored(source, version)
    scored, tokens = _scored(source, version)
    seconds = time.monotonic() - started
    cpu = meter.stop()
    bench = _bench_model(args.bench, version)
    window_tokens = (tokens - tokens_at_load_end) / (scored - first) if scored > first else None
    if bench and window_tokens:
        # The model alone, batched, at this run's window size: what the worker would do with no
        # per-task cost (one Celery task, its queries and summaries per session).
        bench["predicted_sessions_per_s"] = round(bench["tokens_per_s"] / window_tokens, 1)
    out.update(
        {
            "drain_s": round(seconds, 1),
            "scored_during_drain": scored - first,
            "drain_sessions_per_s": round((scored - first) / seconds, 2) if seconds else None,
            "drain_window_tokens_per_s": round((tokens - tokens_at_load_end) / seconds) if seconds else None,
            "mean_window_tokens": round(window_tokens) if window_tokens else None,
            "worker_cores_during_drain": cpu["scoring_worker"]["cores"],
            "backlog_at_end": stored - scored,
            "queue_length_at_end": _queue_length(broker_url),
            "bench_model": bench,
            "claim_ms": claim_durations(log_tail(args.log_dir / "worker.log", 50_000_000)),
        }
    )
    return out


CLAIM_LINE = re.compile(r"claim of (\d+) session\(s\) held ([0-9.]+) ms")


def claim_durations(worker_log: str) -> dict | None:
    """How long the scoring claims held their row locks (the worker logs each): median, p95, max in ms,
    and the mean sessions per claim."""
    found = [(int(n), float(ms)) for n, ms in CLAIM_LINE.findall(worker_log)]
    if not found:
        return None
    held = sorted(ms for _, ms in found)
    return {
        "claims": len(held),
        "median": round(statistics.median(held), 1),
        "p95": round(held[min(len(held) - 1, int(0.95 * len(held)))], 1),
        "max": round(held[-1], 1),
        "sessions_per_claim": round(sum(n for n, _ in found) / len(found), 1),
    }


def _report(
    args: LoadtestArgs,
    run_id: str,
    servers: dict,
    load: dict,
    cpu: dict,
    stored: int,
    scoring: dict,
    bare: dict | None = None,
) -> dict:
    ok = load["ok"]
    per_session = {
        name: round(1000 * cpu[name]["cpu_s"] / ok, 2) if ok else None
        for name in ("web", "postgres", "scoring_worker", "client")
    }
    web_per_session = 1000 * cpu["web"]["cpu_s"] / ok if ok else None
    if bare is not None:
        floor = bare["web_ms_per_request"]
        bare["cost_ratio"] = round(web_per_session / floor, 2) if web_per_session and floor else None
    report = {
        "run": run_id,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "note": "shared: other jobs may run at the same time"},
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(args).items()},
        "servers": servers,
        "sessions_per_s": load["sessions_per_s"],
        "latency_ms": load["latency_ms"],
        "requests": {
            "measured": load["measured"],
            "ok": ok,
            "statuses": load["statuses"],
            "errors": load["errors"],
            "sent_total": load["sent_total"],
            "connections_opened": load["connections_opened"],
            "per_second": load["per_second"],
            "sessions_stored": stored,
        },
        "cpu": {**cpu, "ms_per_session": per_session, "client_self_reported_s": load["client_cpu_s"]},
        "scoring": scoring,
        "bare_post": bare,
        "goal": loadtest_goal(load, scoring, bare),
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return report


def loadtest_goal(load: dict, scoring: dict, bare: dict | None = None) -> dict:
    """Sessions/s and p99 under load; the backlog draining at the rate make bench-model predicts (within
    GOAL_DRAIN_OF_BENCH); and a session's web CPU within GOAL_COST_RATIO of a bare authenticated POST's.
    The last two are judged only when measured. `cost_met` is the machine-independent goal alone:
    the ratio and the p99 at saturation."""
    predicted = (scoring.get("bench_model") or {}).get("predicted_sessions_per_s")
    drained = scoring.get("drain_sessions_per_s")
    drain_ratio = round(drained / predicted, 2) if predicted and drained is not None else None
    p99_met = load["latency_ms"]["p99"] < GOAL_P99_MS
    met = load["sessions_per_s"] >= GOAL_SESSIONS_PER_S and p99_met
    ratio = (bare or {}).get("cost_ratio")
    cost_met = None if ratio is None else ratio <= GOAL_COST_RATIO and p99_met
    return {
        "sessions_per_s": GOAL_SESSIONS_PER_S,
        "p99_ms": GOAL_P99_MS,
        "drain_of_bench_model": GOAL_DRAIN_OF_BENCH,
        "drain_vs_bench_model": drain_ratio,
        "cost_ratio": GOAL_COST_RATIO,
        "cost_met": cost_met,
        "met": met and (drain_ratio is None or drain_ratio >= GOAL_DRAIN_OF_BENCH) and cost_met is not False,
    }


def format_report(report: dict) -> str:
    lat, cpu, sc, a = report["latency_ms"], report["cpu"], report["scoring"], report["args"]
    threads = f" x {a['web_threads']} threads (gthread)" if a["web_threads"] > 1 else " (sync)"
    mode = f"fixed rate {a['rate']:g}/s" if a["rate"] else f"closed loop, {a['concurrency']} connections"
    lines = [
        f"load test {report['run']}: {a['messages']}-message sessions, {a['patients']} patients, {mode}, "
        f"{a['duration']:g} s measured after {a['warmup']:g} s warm-up",
        f"gunicorn {a['web_workers']} workers{threads}; scoring worker "
        + (
            f"on (torch threads {a['worker_threads'] or 'default'}, CPU weight: "
            f"{report['servers'].get('worker_cpu_weight')})"
            if a["scoring_worker"]
            else "off"
        ),
        "",
        f"{'sustained':<28}{report['sessions_per_s']:>10.1f} sessions/s   (goal >= {GOAL_SESSIONS_PER_S})",
        f"{'latency p50 / p90 / p99':<28}{lat['p50']:>10.1f} / {lat['p90']:.1f} / {lat['p99']:.1f} ms"
        f"   (goal p99 < {GOAL_P99_MS}; max {lat['max']})",
        f"{'responses':<28}{report['requests']['statuses']}  errors {report['requests']['errors'] or 0}",
        "",
        f"{'CPU (measured span)':<28}{'cores':>10}{'ms per session':>24}",
    ]
    for name in ("web", "postgres", "scoring_worker", "client"):
        lines.append(f"  {name:<26}{cpu[name]['cores']:>10.2f}{cpu['ms_per_session'][name] or 0:>24.2f}")
    lines.append(f"  {'machine busy (all jobs)':<26}{cpu['machine_busy_pct']:>9.1f}%")
    lines += ["", f"scoring (model {sc['model_version']})"]
    lines.append(
        f"  scored during load {sc['scored_during_load']}, backlog at load end "
        f"{sc['backlog_at_load_end']} (gpu queue {sc['queue_length_at_load_end']})"
    )
    if sc.get("drain_s") is not None:
        lines.append(
            f"  drain: {sc['scored_during_drain']} in {sc['drain_s']} s = {sc['drain_sessions_per_s']} "
            f"sessions/s ({sc['drain_window_tokens_per_s']} window tokens/s, worker "
            f"{sc['worker_cores_during_drain']} cores); backlog at end {sc['backlog_at_end']}"
        )
        bench = sc.get("bench_model")
        lines.append(
            f"  make bench-model ({bench['ensemble']}, {bench['threads']} threads): "
            f"{bench['tokens_per_s']:,.0f} tokens/s, {bench['windows_per_s']:.2f} windows/s of "
            f"{bench['tokens_per_window']:,.0f} tokens; at this run's {sc['mean_window_tokens']} tokens "
            f"per window: {bench.get('predicted_sessions_per_s')} sessions/s"
            if bench
            else "  make bench-model: no var/bench.json (run `make bench-model` to compare)"
        )
        claim = sc.get("claim_ms")
        if claim:
            lines.append(
                f"  scoring claim held its row locks: median {claim['median']} ms, p95 {claim['p95']} ms, "
                f"max {claim['max']} ms over {claim['claims']} claims "
                f"({claim['sessions_per_claim']} sessions each)"
            )
    bare = report.get("bare_post")
    if bare:
        blat = bare["latency_ms"]
        lines += [
            "",
            f"bare authenticated POST ({bare['path']}: validates nothing, stores nothing), same processes",
            f"  {bare['requests_per_s']:.1f} requests/s, p50 / p99 {blat['p50']:.1f} / {blat['p99']:.1f} ms, "
            f"web CPU {bare['web_ms_per_request']} ms per request",
            f"  web CPU per session / per bare POST: {bare['cost_ratio']} (goal <= {GOAL_COST_RATIO:g}, with "
            f"p99 < {GOAL_P99_MS} ms at saturation: "
            + ("met)" if report["goal"]["cost_met"] else "NOT met)"),
        ]
    lines.append("")
    ratio = report["goal"]["drain_vs_bench_model"]
    if ratio is not None:
        lines.append(f"  drain / bench-model prediction: {ratio:.2f} (goal >= {GOAL_DRAIN_OF_BENCH})")
    lines.append("goal met" if report["goal"]["met"] else "goal NOT met")
    return "\n".join(lines)
