from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from monitor_site.patients.services.tokens import ingest_token_create


class Command(BaseCommand):
    help = "Create a bearer token for an ingest source (created if new). The token is printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="source name, e.g. companion-app (letters, digits, - and _)")
        parser.add_argument("--care-team", help="care team that new patients from this source join")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.core.exceptions import ValidationError
        from django.core.management.base import CommandError
        from django.core.validators import validate_slug

        source = str(options["source"])
        try:
            validate_slug(source)
        except ValidationError as exc:
            raise CommandError(f"source {source!r}: use letters, digits, - and _ only") from exc
        token, raw = ingest_token_create(source_name=source, care_team_name=options.get("care_team"))
        self.stderr.write(f"Token for source {token.source.name} (store it now; only its hash is kept):")
        self.stdout.write(raw)
