from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from monitor_site.patients.models import Assessment, ConversationSession, Patient

pytestmark = pytest.mark.django_db


def test_it_seeds_a_synthetic_clinic_once(model_store: Path) -> None:
    out = StringIO()
    call_command("seed_demo", "--patients", "6", "--weeks", "4", "--no-train", stdout=out)
    assert Patient.objects.count() == 6 and Patient.objects.filter(is_synthetic=False).count() == 0
    sessions = ConversationSession.objects.count()
    assert sessions >= 6 * 4 * 2
    assert Assessment.objects.exists()
    assert "clinician / demo-clinician-pass" in out.getvalue()
    out = StringIO()
    call_command("seed_demo", "--patients", "6", "--weeks", "4", "--no-train", stdout=out)
    assert "already seeded" in out.getvalue() and ConversationSession.objects.count() == sessions
    call_command("seed_demo", "--patients", "5", "--weeks", "4", "--no-train", "--reset", stdout=StringIO())
    assert Patient.objects.count() == 5


def test_it_gives_the_demo_clinician_patients_to_see(model_store: Path, client: object) -> None:
    call_command("seed_demo", "--patients", "6", "--weeks", "3", "--no-train", stdout=StringIO())
    assert (
        client.post("/login/", {"username": "clinician", "password": "demo-clinician-pass"}).status_code
        == 302
    )  # type: ignore[attr-defined]
    html = client.get("/").content.decode()  # type: ignore[attr-defined]
    assert "syn-p" in html and "Synthetic demo data" in html
