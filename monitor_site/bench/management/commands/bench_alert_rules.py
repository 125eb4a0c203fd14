"""`manage.py bench_alert_rules`: alerts opened and self-reported crossings missed, point vs confident."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from monitor_site.bench.alert_rules import alert_rule_tradeoff, format_tradeoff


class Command(BaseCommand):
    help = (
        "Replay every patient's predictions through the 10/15/20 threshold rules on the point estimate and "
        "on the interval's lower bound: episodes opened and self-reported crossings missed (nothing written)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--consecutive", type=int, default=2, help="predictions in a row (default 2)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        report = alert_rule_tradeoff(consecutive=options["consecutive"])
        self.stdout.write(json.dumps(report, indent=2) if options["json"] else format_tradeoff(report))
