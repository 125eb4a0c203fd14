"""The prediction admin: read-only, the detector's version beside the model's, a risk-language filter,
and no conversation text (the sentences the detector fired on are read on the patient page)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db

SENTENCE = "I keep having thoughts of hurting myself"


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_it_shows_the_detector_version_beside_the_model_version_and_filters_on_risk_language(
    admin_client: Client,
) -> None:
    risky = PredictionFactory(model_version__version="v-risk", session__patient__external_id="pt-risky")
    risky.risk_language, risky.detector_version = True, "self-harm-9.9"
    risky.risk_evidence = [{"session": "s", "turn": 0, "text": SENTENCE, "sent_at": None, "score": 0.9}]
    risky.save()
    PredictionFactory(model_version__version="v-calm", session__patient__external_id="pt-calm")
    listing = admin_client.get("/admin/predictions/prediction/").content.decode()
    assert "self-harm-9.9" in listing and "risk_language__exact" in listing
    row = listing[listing.index("pt-risky") :]
    assert row.index("v-risk") < row.index("self-harm-9.9")  # beside the model version
    only_risky = admin_client.get("/admin/predictions/prediction/?risk_language__exact=1").content.decode()
    assert "pt-risky" in only_risky and "pt-calm" not in only_risky
    page = admin_client.get(f"/admin/predictions/prediction/{risky.pk}/change/").content.decode()
    assert "self-harm-9.9" in page and "1 (read them on the patient page)" in page
    assert SENTENCE not in page and SENTENCE not in listing
