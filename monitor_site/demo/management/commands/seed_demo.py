"""Seed the synthetic demo clinic, train the starter model on its questionnaires, score everything."""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from monitor_site.modelops.selectors import model_version_active
from monitor_site.patients.models import CareTeam, IngestSource, Patient
from monitor_site.patients.services import assessment_ingest, session_ingest
from training.synthetic.clinic import generate_clinic

DEMO_SOURCE = "synthetic-demo"
DEMO_USERS = {
    # username: (password, staff?, care teams)
    "clinician": ("demo-clinician-pass", False, ("North team", "South team")),
    "admin": ("demo-admin-pass", True, ("North team", "South team", "East team")),
}


class Command(BaseCommand):
    help = (
        "Create the synthetic demo clinic (marked synthetic everywhere), train and promote a starter model."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, default=60)
        parser.add_argument("--weeks", type=int, default=12)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--reset", action="store_true", help="delete the demo clinic and seed it again")
        parser.add_argument("--no-train", action="store_true", help="seed data only; no model, no scoring")

    def handle(self, *args: Any, **options: Any) -> None:
        if int(options["patients"]) < 4 or int(options["weeks"]) < 3:
            raise CommandError("use at least 4 patients and 3 weeks")
        source = IngestSource.objects.filter(name=DEMO_SOURCE).first()
        if source and options["reset"]:
            self._reset(source)
            source = None
        if source and source.patients.exists():
            self.stdout.write(
                f"demo clinic already seeded ({source.patients.count()} synthetic patients); "
                "`make demo RESEED=1` or `manage.py seed_demo --reset` rebuilds it"
            )
        else:
            self._seed(int(options["patients"]), int(options["weeks"]), int(options["seed"]))
        self._users()
        if not options["no_train"]:
            self._model_and_scores()
        self._emails()
        self._print_logins()

    def _reset(self, source: IngestSource) -> None:
        with transaction.atomic():
            Patient.objects.filter(source=source).delete()
            source.delete()
        self.stdout.write("removed the previous demo clinic")

    def _seed(self, n_patients: int, weeks: int, seed: int) -> None:
        started = time.monotonic()
        clinic = generate_clinic(n_patients=n_patients, weeks=weeks, end=timezone.now(), seed=seed)
        with transaction.atomic():
            teams = {
                name: CareTeam.objects.get_or_create(name=name)[0] for name in {p.care_team for p in clinic}
            }
            source, _ = IngestSource.objects.get_or_create(name=DEMO_SOURCE)
            n_sessions = n_assessments = 0
            for patient in clinic:
                for session in patient.sessions:
                    session_ingest(
                        source=source,
                        patient_external_id=patient.external_id,
                        session_external_id=session.external_id,
                        started_at=session.started_at,
                        messages=[
                            {"role": t.role, "text": t.text, "sent_at": t.sent_at} for t in session.turns
                        ],
                        notify=False,  # scored in bulk once the starter model exists
                        is_synthetic=True,
                    )
                    n_sessions += 1
                for assessment in patient.assessments:
                    assessment_ingest(
                        source=source,
                        patient_external_id=patient.external_id,
                        completed_at=assessment.completed_at,
                        items=list(assessment.items),
                        is_synthetic=True,
                    )
                    n_assessments += 1
                # Synthetic people: nothing stops their text from going to the labelling model.
                Patient.objects.filter(source=source, external_id=patient.external_id).update(
                    care_team=teams[patient.care_team], consent_external_processing=True
                )
        self.stdout.write(
            f"seeded {len(clinic)} synthetic patients, {n_sessions} sessions, {n_assessments} questionnaires "
            f"in {time.monotonic() - started:.0f}s"
        )

    def _users(self) -> None:
        User = get_user_model()
        for username, (password, staff, teams) in DEMO_USERS.items():
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(password)
                user.is_staff = user.is_superuser = staff
                user.save()
            for name in teams:
                team = CareTeam.objects.filter(name=name).first()
                if team:
                    team.members.add(user)

    def _model_and_scores(self) -> None:
        from django.core.management import call_command

        if model_version_active() is None:
            self.stdout.write("training the starter model on the demo questionnaires ...")
            call_command("train_model", "--promote", stdout=self.stdout)
        call_command("score_pending", stdout=self.stdout)

    def _emails(self) -> None:
        # Given after the history is scored: alerts raised on seeded history are recorded without
        # e-mail ("nobody to send to"); alerts on new sessions reach the console.
        User = get_user_model()
        for username in DEMO_USERS:
            User.objects.filter(username=username, email="").update(email=f"{username}@demo.invalid")

    def _print_logins(self) -> None:
        self.stdout.write("")
        self.stdout.write("Demo logins (synthetic clinic):")
        for username, (password, staff, _) in DEMO_USERS.items():
            role = "admin, /admin/" if staff else "clinician"
            self.stdout.write(f"  {username} / {password}   ({role})")
        self.stdout.write("Open http://127.0.0.1:8000/")
