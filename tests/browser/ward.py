"""One clinician's ward for the browser tests: a team, a patient with three model-inferred scores (item
9 flagged on the last), one questionnaire and the alerts they open; and logging in through the form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from monitor_site.alerts.models import Alert, AlertRule
from monitor_site.alerts.services import alerts_evaluate
from monitor_site.patients.models import Patient
from tests.factories import (
    AssessmentFactory,
    CareTeamFactory,
    ModelVersionFactory,
    PatientFactory,
    PredictionFactory,
    UserFactory,
)

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from playwright.sync_api import Page

PASSWORD = "correct-horse-battery"
TOTALS = [8.0, 12.0, 17.0]
LATEST_ITEMS = [2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.2, 0.8]  # sums to 17; item 9 flagged (>= 0.5)
SELF_HARM_RULE = "Item 9: thoughts of self-harm"


@dataclass
class Ward:
    clinician: AbstractBaseUser
    patient: Patient
    alert: Alert


def make_ward() -> Ward:
    """The live server needs a transactional database, whose flush between tests also empties the
    default rules the data migration made, so the two rules used are (re)made here."""
    AlertRule.objects.get_or_create(
        name=SELF_HARM_RULE,
        defaults={"kind": "self_harm", "threshold": 0.5, "consecutive": 1, "urgent": True},
    )
    AlertRule.objects.get_or_create(
        name="PHQ-9 at or above 10 (moderate)",
        defaults={"kind": "threshold", "threshold": 10, "consecutive": 2},
    )
    team = CareTeamFactory(name="Team North")
    clinician = UserFactory(username="dr-north")
    team.members.add(clinician)
    patient = PatientFactory(care_team=team, external_id="pt-browser", named_clinician=clinician)
    version = ModelVersionFactory(version="v-browser", status="active")  # the version that scored them
    for total in TOTALS:
        items = LATEST_ITEMS if total == TOTALS[-1] else [total / 9] * 9
        PredictionFactory(session__patient=patient, model_version=version, total=total, items=items)
    AssessmentFactory(patient=patient, total=14, items=[2, 2, 2, 2, 2, 2, 1, 1, 0])
    alerts_evaluate(patient_ids=[patient.pk])
    return Ward(clinician=clinician, patient=patient, alert=Alert.objects.get(rule__name=SELF_HARM_RULE))


def log_in(page: Page, username: str) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))  # anonymous visitors are sent to log in
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()
