from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from monitor_site.modelops.selectors import model_version_active
from monitor_site.predictions.services.scoring import predictions_score_pending
from monitor_site.predictions.tasks import alerts_evaluation_enqueue


class Command(BaseCommand):
    help = "Score every session the active model has not scored yet (safe to re-run)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=None, help="windows per model call")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.core.management.base import CommandError

        if model_version_active() is None:
            raise CommandError(
                "no active model: train and promote one first (manage.py train_model --promote)"
            )
        bar = tqdm(total=0, unit="session", desc="scoring", disable=None)

        def on_batch(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        scored = predictions_score_pending(batch_size=options["batch_size"], on_batch=on_batch)
        bar.close()
        self.stdout.write(f"scored {alerts_evaluation_enqueue(scored)} session(s)")  # then the alert rules
