from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_slug

from monitor_site.patients.services.tokens import IngestSetupRefused, ingest_token_create


class Command(BaseCommand):
    help = (
        "Create a bearer token for an ingest source (created if new). The token is printed once. A source "
        "and its tokens belong to one care team: they create patients there and write only to its patients."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="source name, e.g. companion-app (letters, digits, - and _)")
        parser.add_argument(
            "--care-team",
            help="the source's care team (required for a new source; an existing source keeps its own: "
            "moving it is move_ingest_source)",
        )
        parser.add_argument(
            "--create-team", action="store_true", help="create the care team if no team has that name"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = str(options["source"])
        try:
            validate_slug(source)
        except ValidationError as exc:
            raise CommandError(f"source {source!r}: use letters, digits, - and _ only") from exc
        try:
            token, raw = ingest_token_create(
                source_name=source,
                care_team_name=options.get("care_team"),
                create_team=options["create_team"],
            )
        except IngestSetupRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(
            f"Token for source {token.source.name}, care team {token.source.default_care_team} "
            "(store it now; only its hash is kept):"
        )
        self.stdout.write(raw)
