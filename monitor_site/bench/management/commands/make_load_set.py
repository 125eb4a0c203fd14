"""Build the synthetic load set the page benchmark (manage.py bench_pages) runs against."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from tqdm import tqdm

from monitor_site.bench.load_set import SOURCE, LoadSetArgs, LoadSetError, load_set_create, load_set_delete
from monitor_site.patients.models import IngestSource
from scoring.cli_args import add_dataclass_arguments, dataclass_from_options


class Command(BaseCommand):
    help = (
        "Create a synthetic load set (marked synthetic; its own source, care team, clinician and model "
        "version): one session a day per patient with messages, predictions, questionnaires, summaries "
        "and a few open alerts. Use PostgreSQL: rows are written with COPY."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_dataclass_arguments(parser, LoadSetArgs)
        parser.add_argument("--reset", action="store_true", help="delete the existing load set first")
        parser.add_argument(
            "--if-missing", action="store_true", help="do nothing (exit 0) when a load set already exists"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            self.stderr.write(
                f"note: {connection.vendor} database: rows go through bulk_create, which is slow at full "
                "size; set DATABASE_URL=postgres://... for a production-like load set"
            )
        if (
            options["if_missing"]
            and not options["reset"]
            and IngestSource.objects.filter(name=SOURCE).exists()
        ):
            self.stdout.write("a load set already exists; kept (--reset rebuilds it)")
            return
        if options["reset"]:
            removed = load_set_delete()
            self.stdout.write(f"deleted the previous load set ({removed} patients)")
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(total=total, unit="patient", desc=stage, disable=None)
            bar.update(done - bar.n)

        try:
            result = load_set_create(
                **asdict(dataclass_from_options(LoadSetArgs, options)), progress=progress
            )
        except LoadSetError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            for bar in bars.values():
                bar.close()
        size = f", database {result.database_bytes / 1e9:.2f} GB" if result.database_bytes else ""
        self.stdout.write(
            f"load set: {result.patients} patients, {result.sessions} sessions, {result.messages} messages, "
            f"{result.predictions} predictions, {result.assessments} questionnaires, {result.summaries} "
            f"summaries, {result.alerts} open alerts in {result.seconds['total']:.0f}s{size}"
        )
        self.stdout.write(
            "  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items() if k != "total")
        )
        self.stdout.write(f"log in as {result.clinician} / {result.password}  (synthetic patients only)")
        self.stdout.write(f"time the pages: python manage.py bench_pages --clinician {result.clinician}")
