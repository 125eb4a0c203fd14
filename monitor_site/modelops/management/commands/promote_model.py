from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitor_site.modelops.models import ModelVersion
from monitor_site.modelops.services.registry import model_version_promote


class Command(BaseCommand):
    help = "Make a registered model version the active one (the previous one retires)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version", help="version name, as listed in the admin's Model versions")

    def handle(self, *args: Any, **options: Any) -> None:
        version = ModelVersion.objects.filter(version=options["version"]).first()
        if version is None:
            known = ", ".join(ModelVersion.objects.values_list("version", flat=True)[:10]) or "none"
            raise CommandError(f"no model version {options['version']!r}; registered: {known}")
        model_version_promote(model_version=version, reason="manage.py promote_model")
        self.stdout.write(f"{version.version} is now active")
