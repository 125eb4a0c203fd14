"""`manage.py bench_pages`: time the clinician pages (monitor_site/bench/pages.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitor_site.bench.pages import PageBenchArgs, PageBenchError, format_pages_report, pages_bench_run
from scoring.cli_args import add_dataclass_arguments, dataclass_from_options


class Command(BaseCommand):
    help = "Time the triage list and patient pages (median, p95, queries per request); table and JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        add_dataclass_arguments(parser, PageBenchArgs)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            bench_args = dataclass_from_options(PageBenchArgs, options)
            report = pages_bench_run(args=bench_args, note=self.stderr.write)
        except (ValueError, PageBenchError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(format_pages_report(report))
        self.stdout.write(f"JSON report: {bench_args.out}")
