from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from monitor_site.modelops.models import ModelVersion
from monitor_site.modelops.services.registry import model_version_promote, model_version_register
from scoring.artifact import ArtifactError
from tests.conftest import register_copy

pytestmark = pytest.mark.django_db


def test_it_registers_an_artifact_once(registered_model: ModelVersion, model_store: Path) -> None:
    again = model_version_register(artifact_dir=model_store / registered_model.version)
    assert again.pk == registered_model.pk and ModelVersion.objects.count() == 1
    assert registered_model.status == "candidate" and registered_model.members == 3  # 2 heads + lexical
    assert registered_model.metrics["n"] > 0


def test_it_refuses_an_artifact_outside_the_store(tiny_artifact: Path, model_store: Path) -> None:
    with pytest.raises(ArtifactError, match="not inside MODEL_STORE_DIR"):
        model_version_register(artifact_dir=tiny_artifact)


def test_it_keeps_exactly_one_active_version(
    registered_model: ModelVersion, model_store: Path, django_capture_on_commit_callbacks: object
) -> None:
    other = register_copy(model_store, registered_model.version, "other")
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        model_version_promote(model_version=registered_model)
        model_version_promote(model_version=other)
    assert list(ModelVersion.objects.filter(status="active")) == [other]
    assert ModelVersion.objects.get(pk=registered_model.pk).status == "retired"
    assert (model_store / "ACTIVE").read_text().strip() == "other"


def test_it_says_whether_any_model_is_active_without_reading_one(
    registered_model: ModelVersion, django_capture_on_commit_callbacks: object
) -> None:
    from monitor_site.modelops.selectors import model_version_any_active

    assert model_version_any_active() is False  # registered, a candidate
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        model_version_promote(model_version=registered_model)
    assert model_version_any_active() is True


def test_it_promotes_from_the_command_line(registered_model: ModelVersion) -> None:
    out = StringIO()
    call_command("promote_model", registered_model.version, stdout=out)
    assert "is now active" in out.getvalue()
    with pytest.raises(CommandError, match="no model version 'nope'"):
        call_command("promote_model", "nope")


def test_it_explains_that_training_needs_ground_truth(model_store: Path) -> None:
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("train_model", "--epochs", "1")
    with pytest.raises(CommandError, match="members must be at least 1"):
        call_command("train_model", "--members", "0")


def test_it_audits_promotions_and_roll_backs(
    registered_model: ModelVersion, model_store: Path, django_capture_on_commit_callbacks: object
) -> None:
    from monitor_site.audit.models import AuditEvent
    from tests.conftest import register_copy
    from tests.factories import UserFactory

    admin = UserFactory(is_superuser=True)
    other = register_copy(model_store, registered_model.version, "other")
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        model_version_promote(model_version=registered_model, actor=admin, reason="admin")
        model_version_promote(model_version=other, actor=admin, reason="admin")  # type: ignore[arg-type]
        model_version_promote(model_version=registered_model, actor=admin, reason="admin")
    events = list(AuditEvent.objects.order_by("at", "pk").values_list("action", "detail"))
    assert [a for a, _ in events] == ["model.promote", "model.promote", "model.rollback"]
    assert events[2][1]["previous"] == ["other"] and events[2][1]["version"] == registered_model.version
