"""`manage.py seed_demo`: the synthetic demo clinic, its starter model and scores (make demo)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from monitor_site.alerts.services import alerts_mark_not_sent
from monitor_site.demo.services import DEMO_USERS, demo_clinic_seed
from scoring.artifact import ArtifactError
from scoring.backbone import BackboneNotFound
from scoring.cli_args import add_dataclass_arguments, dataclass_from_options
from training.synthetic.clinic import DemoClinicArgs


class Command(BaseCommand):
    help = (
        "Create the synthetic demo clinic (marked synthetic everywhere), train and promote a starter model."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_dataclass_arguments(parser, DemoClinicArgs)
        parser.add_argument("--reset", action="store_true", help="delete the demo clinic and seed it again")
        parser.add_argument("--no-train", action="store_true", help="seed data only; no model, no scoring")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            clinic_args = dataclass_from_options(DemoClinicArgs, options)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        bars: dict[str, tqdm] = {}

        def bar(name: str, unit: str) -> tqdm:
            if name not in bars:
                bars[name] = tqdm(total=100, unit=unit, desc=name, disable=None)
            return bars[name]

        def train_progress(stage: str, fraction: float) -> None:
            training = bar("training", "%")
            training.set_description(stage)
            training.n = round(100 * fraction)
            training.refresh()

        def score_progress(done: int, total: int) -> None:
            scoring = bar("scoring", "session")
            scoring.total, scoring.n = total, done
            scoring.refresh()

        try:
            result = demo_clinic_seed(
                notify=alerts_mark_not_sent,  # seeded history is not news: no e-mail
                args=clinic_args,
                reset=options["reset"],
                train=not options["no_train"],
                say=self.stdout.write,
                train_progress=train_progress,
                score_progress=score_progress,
            )
        except (ValueError, ArtifactError, BackboneNotFound) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            for open_bar in bars.values():
                open_bar.close()
        if result.metrics is not None:
            self.stdout.write(f"starter model {result.trained}: on {result.metrics.get('evaluated_on')}")
            self.stdout.write(_figures("  starter model", result.metrics))
            if result.lookup_metrics is not None:
                self.stdout.write(_figures("  template lookup (no training)", result.lookup_metrics))
            self.stdout.write(
                "  (synthetic text from the generator's own phrase bank, test patients in a paraphrase "
                "family the model never saw: not evidence of validity; where the lookup matches the model, "
                "the figures measure the phrase bank)"
            )
        if not options["no_train"]:
            self.stdout.write(f"scored {result.scored} session(s)")
        self.stdout.write("")
        self.stdout.write("Demo logins (synthetic clinic):")
        for username, (password, staff, _) in DEMO_USERS.items():
            role = "admin, /admin/" if staff else "clinician"
            self.stdout.write(f"  {username} / {password}   ({role})")
        self.stdout.write("Open http://127.0.0.1:8000/")


def _figures(label: str, m: dict) -> str:
    def value(key: str) -> str:
        v = m.get(key)
        return "n/a" if v is None else f"{v:.2f}"

    return f"{label:<32} n={m.get('n')} MAE {value('mae')} r {value('pearson_r')} AUC@10 {value('auc_at_10')}"
