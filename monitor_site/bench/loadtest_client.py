"""The load generator behind `manage.py loadtest`: keep-alive HTTP/1.1 POSTs of 10-message sessions.

No Django, no HTTP library: one process, asyncio streams and a hand-written request, so that on a
2-core machine the client spends a few percent of a core and the server stays the bottleneck. It
reports its own CPU time so the report can show that. Run as
`python -m monitor_site.bench.loadtest_client --port P --token T --duration 30 ...`; prints one JSON
object on stdout.

Closed loop by default (each of `concurrency` connections sends its next session as soon as the
last one is answered). With `--rate` the sends follow a fixed schedule instead, and latency is
counted from each request's scheduled time, so a server that falls behind is not hidden by the
client waiting for it (coordinated omission).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count

from monitor_site.bench.stats import percentile
from scoring.cli_args import add_dataclass_arguments, dataclass_from_options

PATH = "/api/v1/sessions"
USER_LINES = [
    "I have not slept properly all week and I keep waking at four.",
    "Work was fine today, I managed to finish the report.",
    "I don't really enjoy anything at the moment, even football.",
    "Had dinner with my sister, it was nice to get out of the flat.",
    "I feel tired all the time, even after a full night.",
    "My appetite is gone, I skipped lunch again.",
    "I keep thinking I let everyone down.",
    "Went for a walk by the river this morning.",
    "It's hard to concentrate on anything for more than a few minutes.",
    "Honestly today was a better day than most.",
]
ASSISTANT_LINES = [
    "Thank you for telling me. How long has it been like this?",
    "That sounds hard. What helped a little, if anything?",
    "It's good that you got out. How did you feel afterwards?",
    "Would it help to plan one small thing for tomorrow?",
    "I'm glad there were some better moments. Tell me more.",
]


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 8000
    token: str = ""
    duration: float = 30.0
    warmup: float = 5.0
    concurrency: int = 16
    messages: int = 10
    patients: int = 300
    max_requests: int = 100_000
    rate: float = 0.0  # sessions/s; 0 = closed loop, as fast as the server answers
    run_id: str = "lt"
    seed: int = 1
    path: str = PATH  # the same bodies to another URL: the load test's bare POST (bench/bare_post.py)


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)  # measured requests only (after warm-up)
    statuses: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    per_second: dict[int, int] = field(default_factory=dict)
    sent: int = 0
    connects: int = 0


class BodyMaker:
    """Unique session ids, `patients` patients in rotation, times in the past and in order."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.seq = count()
        self.rng = random.Random(opts.seed)
        # Sessions of one patient a few minutes apart, all inside the last 13 days: a valid 14-day
        # window, and no timestamp in the future whatever the run's length.
        self.base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=13)

    def __call__(self) -> bytes:
        i = next(self.seq)
        opts = self.opts
        rounds, patient = divmod(i, opts.patients)
        start = self.base + timedelta(minutes=7 * rounds, seconds=patient % 60)
        messages = []
        for k in range(opts.messages):
            lines = USER_LINES if k % 2 == 0 else ASSISTANT_LINES
            sent = (start + timedelta(seconds=20 * k)).isoformat()
            messages.append(
                {
                    "role": "user" if k % 2 == 0 else "assistant",
                    "text": self.rng.choice(lines),
                    "sent_at": sent,
                }
            )
        body = {
            "patient": f"lt-{patient:05d}",
            "session_id": f"{opts.run_id}-{i:07d}",
            "started_at": start.isoformat(),
            "messages": messages,
        }
        return json.dumps(body, separators=(",", ":")).encode()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, server keeps the connection open)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("server closed the connection")
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    keep_alive = status_line.startswith(b"HTTP/1.1")
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            keep_alive = value.strip().lower() != b"close"
    if length:
        await reader.readexactly(length)
    return status, keep_alive


class Schedule:
    """Send times for --rate: request k is due at start + k / rate."""

    def __init__(self, start: float, rate: float) -> None:
        self.start, self.interval, self.k = start, 1.0 / rate, 0

    def next_due(self) -> float:
        due = self.start + self.k * self.interval
        self.k += 1
        return due


async def _connection(
    opts: Options,
    make_body: BodyMaker,
    tally: Tally,
    started: float,
    schedule: Schedule | None,
) -> None:
    measure_from = started + opts.warmup
    deadline = measure_from + opts.duration
    head = (
        f"POST {opts.path} HTTP/1.1\r\nHost: {opts.host}:{opts.port}\r\n"
        f"Authorization: Bearer {opts.token}\r\n"
        "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    )
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    while tally.sent < opts.max_requests:
        due = schedule.next_due() if schedule else time.perf_counter()
        if due >= deadline:
            break
        if schedule and due > time.perf_counter():
            await asyncio.sleep(due - time.perf_counter())
        if writer is None:
            reader, writer = await asyncio.open_connection(opts.host, opts.port)
            tally.connects += 1
        assert reader is not None
        body = make_body()
        tally.sent += 1
        writer.write((head % len(body)).encode() + body)
        try:
            status, keep_alive = await _read_response(reader)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            tally.errors[type(exc).__name__] = tally.errors.get(type(exc).__name__, 0) + 1
            writer.close()
            writer = None
            continue
        done = time.perf_counter()
        if due >= measure_from:
            tally.latencies_ms.append((done - due) * 1000)
            tally.statuses[str(status)] = tally.statuses.get(str(status), 0) + 1
            second = int(done - measure_from)
            tally.per_second[second] = tally.per_second.get(second, 0) + 1
        if not keep_alive:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


def summarise(opts: Options, tally: Tally, wall_s: float, cpu_s: float) -> dict:
    lat = sorted(tally.latencies_ms)
    ok = sum(n for s, n in tally.statuses.items() if s in ("200", "201"))
    seconds = [tally.per_second.get(s, 0) for s in range(int(opts.duration))]
    return {
        "options": {k: v for k, v in asdict(opts).items() if k != "token"},
        "measured": len(lat),
        "ok": ok,
        "statuses": tally.statuses,
        "errors": tally.errors,
        "sent_total": tally.sent,
        "connections_opened": tally.connects,
        "sessions_per_s": round(ok / opts.duration, 1),
        "per_second": seconds,
        "latency_ms": {
            "p50": round(percentile(lat, 50), 2),
            "p90": round(percentile(lat, 90), 2),
            "p99": round(percentile(lat, 99), 2),
            "max": round(lat[-1], 2) if lat else None,
        },
        "client_cpu_s": round(cpu_s, 2),
        "client_cpu_pct_of_one_core": round(100 * cpu_s / wall_s, 1) if wall_s else None,
        "wall_s": round(wall_s, 2),
    }


async def run(opts: Options) -> dict:
    tally = Tally()
    make_body = BodyMaker(opts)
    cpu0 = _cpu_seconds()
    started = time.perf_counter()
    schedule = Schedule(started, opts.rate) if opts.rate > 0 else None
    loop = asyncio.get_running_loop()  # tell the driver when the measured span starts and ends
    loop.call_later(opts.warmup, _mark, "measuring")
    loop.call_later(opts.warmup + opts.duration, _mark, "done")
    await asyncio.gather(
        *(_connection(opts, make_body, tally, started, schedule) for _ in range(opts.concurrency))
    )
    return summarise(opts, tally, time.perf_counter() - started, _cpu_seconds() - cpu0)


def _mark(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_dataclass_arguments(parser, Options)
    opts = dataclass_from_options(Options, parser.parse_args(argv))
    if not opts.token:
        parser.error("--token is required (manage.py create_ingest_token SOURCE --care-team TEAM)")
    report = asyncio.run(run(opts))
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
