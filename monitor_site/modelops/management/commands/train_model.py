"""`manage.py train_model`: train on the stored questionnaires only (the starter model), register it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from monitor_site.modelops.selectors import model_version_active
from monitor_site.modelops.services.registry import model_train_from_ground_truth
from scoring.artifact import ArtifactError
from scoring.backbone import BackboneNotFound
from scoring.cli_args import add_dataclass_arguments, dataclass_from_options
from training.args import TrainArgs


class Command(BaseCommand):
    help = "Train a model on the stored PHQ-9 questionnaires (ground truth) and register it."

    def add_arguments(self, parser: CommandParser) -> None:
        # Every TrainArgs field is an option (--lora-r, --max-tokens, ...), with TrainArgs' defaults.
        add_dataclass_arguments(parser, TrainArgs)
        parser.add_argument("--promote", action="store_true", help="make it the active model")
        parser.add_argument(
            "--promote-if-none", action="store_true", help="promote only if no model is active yet"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            train_args = dataclass_from_options(TrainArgs, options)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        promote = bool(options["promote"]) or (
            bool(options["promote_if_none"]) and model_version_active() is None
        )
        bar = tqdm(total=100, unit="%", desc="training", disable=None)

        def progress(stage: str, fraction: float) -> None:
            bar.set_description(stage)
            bar.n = round(100 * fraction)
            bar.refresh()

        try:
            version, result = model_train_from_ground_truth(
                args=train_args, promote=promote, progress=progress
            )
        except (ValueError, ArtifactError, BackboneNotFound) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        m = result.metrics
        self.stdout.write(
            f"model {version.version} ({version.status}): on {m.get('evaluated_on')} n={m.get('n')} "
            f"MAE {m.get('mae', float('nan')):.2f} RMSE {m.get('rmse', float('nan')):.2f} "
            f"AUC@10 {m.get('auc_at_10')}"
        )
