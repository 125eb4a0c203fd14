from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitor_site.bench.loadtest import LoadtestArgs, format_report, loadtest_run
from monitor_site.modelops.selectors import model_version_active


class Command(BaseCommand):
    help = (
        "Load-test POST /api/v1/sessions: starts gunicorn and a scoring worker (-Q gpu) here, drives "
        "them over loopback for a bounded time, reports sessions/s, latency, CPU and the scoring backlog "
        "(table here, JSON in var/loadtest.json). Use a database of its own (make loadtest)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        d = LoadtestArgs()
        parser.add_argument("--duration", type=float, default=d.duration, help="measured seconds")
        parser.add_argument("--warmup", type=float, default=d.warmup, help="seconds before measuring")
        parser.add_argument("--concurrency", type=int, default=d.concurrency, help="client connections")
        parser.add_argument("--messages", type=int, default=d.messages, help="messages per session")
        parser.add_argument("--patients", type=int, default=d.patients)
        parser.add_argument("--rate", type=float, default=d.rate, help="fixed sessions/s; 0 = closed loop")
        parser.add_argument("--workers", type=int, default=d.web_workers, help="gunicorn workers")
        parser.add_argument("--threads", type=int, default=d.web_threads, help=">1: gthread worker")
        parser.add_argument("--no-scoring-worker", action="store_true", help="ingestion alone")
        parser.add_argument(
            "--worker-nice",
            type=int,
            default=d.worker_nice,
            help="the scoring worker's CPU weight as a nice value; 0 = the same as the web tier",
        )
        parser.add_argument(
            "--worker-threads", type=int, default=d.worker_threads, help="torch threads; 0 = one per core"
        )
        parser.add_argument("--drain", type=float, default=d.drain, help="seconds to watch the backlog")
        parser.add_argument("--purge-queue", action="store_true", help="empty the gpu queue first")
        parser.add_argument(
            "--starter-model",
            action="store_true",
            help="without an active model, seed 8 synthetic patients and train one (seed_demo)",
        )
        parser.add_argument("--out", type=Path, default=d.out, help="JSON report")
        parser.add_argument("--bench", type=Path, default=d.bench, help="make bench-model's JSON report")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run_args = LoadtestArgs(
                duration=options["duration"],
                warmup=options["warmup"],
                concurrency=options["concurrency"],
                messages=options["messages"],
                patients=options["patients"],
                rate=options["rate"],
                web_workers=options["workers"],
                web_threads=options["threads"],
                scoring_worker=not options["no_scoring_worker"],
                worker_nice=options["worker_nice"],
                worker_threads=options["worker_threads"],
                drain=options["drain"],
                purge_queue=options["purge_queue"],
                out=options["out"],
                bench=options["bench"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if run_args.scoring_worker and options["starter_model"] and model_version_active() is None:
            self.stdout.write(
                "no active model: seeding a small synthetic clinic and training a starter model"
            )
            call_command("seed_demo", patients=8, weeks=3)
        try:
            report = loadtest_run(args=run_args, echo=lambda line: self.stderr.write(line))
        except (ValueError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
        except KeyboardInterrupt as exc:
            raise CommandError("interrupted: gunicorn, the worker and the client were stopped") from exc
        self.stdout.write(format_report(report))
        if run_args.out:
            self.stdout.write(f"\nJSON report: {run_args.out}")
