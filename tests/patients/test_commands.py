from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from monitor_site.patients.models import IngestToken

pytestmark = pytest.mark.django_db


def test_it_prints_a_new_token_once_and_stores_its_hash() -> None:
    out, err = StringIO(), StringIO()
    call_command(
        "create_ingest_token",
        "companion-app",
        "--care-team",
        "North",
        "--create-team",
        stdout=out,
        stderr=err,
    )
    raw = out.getvalue().strip()
    token = IngestToken.objects.get()
    assert raw.startswith("phq_") and token.token_hash == IngestToken.hash(raw)
    assert token.source.default_care_team.name == "North"
    assert not IngestToken.objects.filter(token_hash=raw).exists()
    assert "only its hash is kept" in err.getvalue()


def test_it_refuses_a_bad_source_name() -> None:
    with pytest.raises(CommandError, match="letters, digits"):
        call_command("create_ingest_token", "bad name!")


def test_it_refuses_to_score_without_an_active_model() -> None:
    with pytest.raises(CommandError, match="no active model"):
        call_command("score_pending")
