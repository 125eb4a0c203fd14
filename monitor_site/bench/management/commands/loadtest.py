from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitor_site.bench.loadtest import (
    LoadtestArgs,
    format_report,
    loadtest_run,
    loadtest_starter_model_ensure,
)
from scoring.cli_args import add_dataclass_arguments, dataclass_from_options


class Command(BaseCommand):
    help = (
        "Load-test POST /api/v1/sessions: starts gunicorn and a scoring worker (-Q gpu) here, drives "
        "them over loopback for a bounded time, reports sessions/s, latency, CPU and the scoring backlog "
        "(table here, JSON in var/loadtest.json). Use a database of its own (make loadtest)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_dataclass_arguments(parser, LoadtestArgs)
        parser.add_argument(
            "--starter-model",
            action="store_true",
            help="without an active model, seed 8 synthetic patients and train one (seed_demo)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run_args = dataclass_from_options(LoadtestArgs, options)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            if run_args.scoring_worker and options["starter_model"]:
                loadtest_starter_model_ensure(say=self.stdout.write)
            report = loadtest_run(args=run_args, echo=lambda line: self.stderr.write(line))
        except (ValueError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
        except KeyboardInterrupt as exc:
            raise CommandError("interrupted: gunicorn, the worker and the client were stopped") from exc
        self.stdout.write(format_report(report))
        if run_args.out:
            self.stdout.write(f"\nJSON report: {run_args.out}")
