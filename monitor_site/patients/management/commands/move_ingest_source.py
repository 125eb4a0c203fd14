from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitor_site.patients.models import CareTeam, IngestSource
from monitor_site.patients.services.tokens import ingest_source_move


class Command(BaseCommand):
    help = (
        "Move an ingest source to another care team: its tokens then write to that team, and its patients "
        "of the old team move with it. Says what moves; --dry-run only says it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="the source's name")
        parser.add_argument("--care-team", required=True, help="the care team to move it to (must exist)")
        parser.add_argument("--dry-run", action="store_true", help="say what would move, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        source = IngestSource.objects.filter(name=options["source"]).first()
        if source is None:
            raise CommandError(f"no ingest source named {options['source']!r}")
        team = CareTeam.objects.filter(name=options["care_team"]).first()
        if team is None:
            raise CommandError(
                f"no care team named {options['care_team']!r}: check the spelling, or create it in the admin"
            )
        move = ingest_source_move(source=source, care_team=team, dry_run=options["dry_run"])
        self.stdout.write(move.describe(done=not options["dry_run"]))
