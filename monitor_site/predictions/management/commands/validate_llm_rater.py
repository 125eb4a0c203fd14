from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from monitor_site.modelops.services.cold_start import llm_rater_validate, llm_scoring_in_use
from monitor_site.predictions.tasks import rate_pending


class Command(BaseCommand):
    help = (
        "Cold start: compare the Claude rater with the stored questionnaires of consented patients and keep "
        "its error and interval (labels already bought are reused); with --rate, then rate the sessions "
        "still pending. Runs daily on its own (beat)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--rate", action="store_true", help="then rate pending sessions")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.ANTHROPIC_API_KEY:
            raise CommandError("ANTHROPIC_API_KEY is not set: the LLM rater cannot run")
        if not llm_scoring_in_use():
            raise CommandError(
                "no care team uses cold-start LLM scoring: switch it on for a team in the admin "
                "(Care teams > cold start: LLM scoring) first"
            )
        row = llm_rater_validate()
        assert row is not None
        metrics = row.metrics
        state = "intervals from now on" if metrics.get("validated") else "not yet validated (too few pairs)"
        self.stdout.write(
            f"{row.version}: {metrics.get('pairs', 0)} questionnaire pair(s) of {metrics.get('patients', 0)} "
            f"patient(s), MAE {metrics.get('mae')}, r {metrics.get('pearson_r')}; " + state
        )
        if options["rate"]:
            self.stdout.write(f"rated {rate_pending()} session(s)")  # then the alert rules, as the task does
