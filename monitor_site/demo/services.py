"""The synthetic demo clinic written through the product's own services: sessions and questionnaires
as the ingestion API stores them, the starter model trained by the training service, every session
scored by the scoring service. The text comes from training/synthetic (no third-party text) and every
patient is marked synthetic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from monitor_site.alerts.services import alerts_evaluate, alerts_evaluate_self_report
from monitor_site.modelops.selectors import model_version_active
from monitor_site.modelops.services.registry import model_train_from_ground_truth
from monitor_site.patients.models import CareTeam, IngestSource, Patient
from monitor_site.patients.selectors import labeled_windows_from_assessments
from monitor_site.patients.services.ingest import assessment_ingest, session_ingest
from monitor_site.predictions.services.scoring import predictions_score_pending
from training.args import TrainArgs
from training.finetune import Progress
from training.metrics import regression_report
from training.synthetic.clinic import DemoClinicArgs, generate_clinic
from training.synthetic.lookup import template_lookup_items

DEMO_SOURCE = "synthetic-demo"
DEMO_USERS = {
    # username: (password, staff?, care teams)
    "clinician": ("demo-clinician-pass", False, ("North team", "South team")),
    "admin": ("demo-admin-pass", True, ("North team", "South team", "East team")),
}
DEMO_NAMED_CLINICIAN = {"clinician": "North team"}  # username: the team half of whose patients they lead


@dataclass
class DemoClinicResult:
    patients: int
    sessions: int = 0  # written by this call (0 when the clinic was already there)
    questionnaires: int = 0
    seeded: bool = False
    removed: int = 0  # patients of a previous demo clinic removed first (reset)
    trained: str = ""  # version of a starter model trained by this call
    metrics: dict | None = None
    lookup_metrics: dict | None = None  # the template lookup on the same test windows (no training)
    scored: int = 0


def demo_clinic_seed(
    *,
    args: DemoClinicArgs,
    reset: bool = False,
    train: bool = True,
    notify: Callable[..., None],
    say: Callable[[str], None] = lambda line: None,
    train_progress: Progress | None = None,
    score_progress: Callable[[int, int], None] | None = None,
) -> DemoClinicResult:
    """Write the demo clinic once (again after `reset`), its users, and unless `train` is False a
    starter model (when none is active) and the scores of every session. Safe to re-run. `notify`, passed
    in by the edge, is called with the alerts opened on the seeded history: `seed_demo` passes
    alerts.services.alerts_mark_not_sent (crossings weeks or months old are history, not news: no e-mail,
    and nothing retries them); alerts on sessions that arrive later are e-mailed as usual."""
    source = IngestSource.objects.filter(name=DEMO_SOURCE).first()
    result = DemoClinicResult(patients=0)
    if source and reset:
        with transaction.atomic():
            result.removed = Patient.objects.filter(source=source).count()
            Patient.objects.filter(source=source).delete()
            source.delete()
        source = None
        say("removed the previous demo clinic")
    if source and source.patients.exists():
        result.patients = source.patients.count()
        say(
            f"demo clinic already seeded ({result.patients} synthetic patients); "
            "`make demo RESEED=1` or `manage.py seed_demo --reset` rebuilds it"
        )
    else:
        started = time.monotonic()
        _clinic_write(args, result, notify)
        say(
            f"seeded {result.patients} synthetic patients, {result.sessions} sessions, "
            f"{result.questionnaires} questionnaires in {time.monotonic() - started:.0f}s"
        )
    demo_users_ensure()
    with demo_users_unreachable():
        _model_and_scores(
            result,
            train=train,
            notify=notify,
            say=say,
            train_progress=train_progress,
            score_progress=score_progress,
        )
    # The demo users' addresses: alerts on sessions that arrive later reach the console.
    for username in DEMO_USERS:
        get_user_model().objects.filter(username=username, email="").update(email=f"{username}@demo.invalid")
    return result


@contextmanager
def demo_users_unreachable() -> Iterator[None]:
    """While the seeded history is scored, the demo users have no e-mail address: the promotion's
    re-scoring runs the usual tasks (eagerly in the demo), whose alerts on months-old crossings are then
    recorded as reaching nobody instead of e-mailed. Their addresses come back afterwards (and the
    admin's "reached nobody" no longer counts those alerts)."""
    users = get_user_model().objects.filter(username__in=list(DEMO_USERS))
    kept = dict(users.values_list("pk", "email"))
    users.update(email="")
    try:
        yield
    finally:
        for pk, email in kept.items():
            get_user_model().objects.filter(pk=pk).update(email=email)


def _model_and_scores(
    result: DemoClinicResult,
    *,
    train: bool,
    notify: Callable[..., None],
    say: Callable[[str], None],
    train_progress: Progress | None,
    score_progress: Callable[[int, int], None] | None,
) -> None:
    if train:
        if model_version_active() is None:
            say("training the starter model on the demo questionnaires ...")
            version, trained = model_train_from_ground_truth(
                args=TrainArgs(), promote=True, progress=train_progress
            )
            result.trained, result.metrics = version.version, trained.metrics
            for skipped in trained.manifest.get("skipped_members", []):
                say(f"the starter model has no {skipped['name']} member: {skipped['reason']}")
            result.lookup_metrics = template_lookup_report(
                set(trained.manifest.get("test_set", {}).get("windows", []))
            )
        scored = predictions_score_pending(on_batch=score_progress)
        # What the scoring task does next (predictions.tasks): the model rules on the patients scored.
        notify(alerts=alerts_evaluate(patient_ids=scored.patient_ids))
        result.scored = scored.rows


def template_lookup_report(window_ids: set[str]) -> dict | None:
    """The generator's template lookup scored on these ground-truth windows (the starter model's test
    windows): printed beside the model so the circularity left in the demo is visible."""
    examples = [e for e in labeled_windows_from_assessments() if e.window.id in window_ids]
    if not examples:
        return None
    predicted = [template_lookup_items(e.window) for e in examples]
    return regression_report(
        [e.total for e in examples],
        [sum(items) for items in predicted],
        items_true=[e.items for e in examples],
        items_pred=predicted,
        groups=[e.group for e in examples],
    )


def _clinic_write(args: DemoClinicArgs, result: DemoClinicResult, notify: Callable[..., None]) -> None:
    clinic = generate_clinic(n_patients=args.patients, weeks=args.weeks, end=timezone.now(), seed=args.seed)
    with transaction.atomic():
        teams = {name: CareTeam.objects.get_or_create(name=name)[0] for name in {p.care_team for p in clinic}}
        source, _ = IngestSource.objects.get_or_create(name=DEMO_SOURCE)
        # In bulk: nothing is enqueued per row. Sessions are scored once the starter model exists;
        # the self-report rules read each patient's latest questionnaire (below).
        for patient in clinic:
            for session in patient.sessions:
                session_ingest(
                    source=source,
                    patient_external_id=patient.external_id,
                    session_external_id=session.external_id,
                    started_at=session.started_at,
                    messages=[{"role": t.role, "text": t.text, "sent_at": t.sent_at} for t in session.turns],
                    care_team=teams[patient.care_team],
                    is_synthetic=True,
                )
                result.sessions += 1
            for assessment in patient.assessments:
                assessment_ingest(
                    source=source,
                    patient_external_id=patient.external_id,
                    completed_at=assessment.completed_at,
                    items=list(assessment.items),
                    care_team=teams[patient.care_team],
                    is_synthetic=True,
                )
                result.questionnaires += 1
            # Synthetic people: nothing stops their text from going to the labelling model.
            Patient.objects.filter(source=source, external_id=patient.external_id).update(
                consent_external_processing=True
            )
        # Self-report rules on each patient's current state (their latest questionnaire) only: crossings
        # in the seeded history are history, not alerts.
        notify(
            alerts=alerts_evaluate_self_report(
                patient_ids=list(Patient.objects.filter(source=source).values_list("pk", flat=True))
            )
        )
    result.patients, result.seeded = len(clinic), True


def demo_users_ensure() -> None:
    """The demo logins, members of the demo care teams (created once; passwords kept if changed)."""
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
        if username in DEMO_NAMED_CLINICIAN:
            # Every other patient of that team is theirs ("My patients" on the triage list).
            team_patients = Patient.objects.filter(
                care_team__name=DEMO_NAMED_CLINICIAN[username],
                is_synthetic=True,
                named_clinician__isnull=True,
            ).order_by("external_id")
            ids = list(team_patients.values_list("pk", flat=True))[::2]
            Patient.objects.filter(pk__in=ids).update(named_clinician=user)
