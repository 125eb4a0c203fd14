"""Admin actions need a declared permission and leave an audit event: a view-only staff user is offered
no action on any registered admin (the project's or a third-party app's), and cannot run one by
posting it anyway."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from monitor_site.audit.models import AuditEvent
from monitor_site.modelops.models import ModelVersion, TrainingRun
from tests.factories import ModelVersionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client: Client) -> object:
    user = UserFactory(username="viewer", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(user)
    return user


def _changelists() -> list[str]:
    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]


def test_a_view_only_staff_user_is_offered_no_action_on_any_admin(client: Client, viewer: object) -> None:
    offered = {}
    for url in _changelists():
        response = client.get(url)
        assert response.status_code == 200, url  # they may look
        if response.context_data.get("action_form") is not None:
            offered[url] = [c for c, _ in response.context_data["action_form"].fields["action"].choices if c]
    assert offered == {}
    assert len(_changelists()) > 20  # third-party admins (celery beat, axes, otp, auth) walked too


def test_posting_an_action_anyway_does_nothing(client: Client, viewer: object) -> None:
    candidate = ModelVersionFactory(version="v-candidate", status=ModelVersion.Status.CANDIDATE)
    run = TrainingRun.objects.create(status=TrainingRun.Status.RUNNING, active_slot=True)
    client.post(
        reverse("admin:modelops_modelversion_changelist"),
        {"action": "promote", "_selected_action": [candidate.pk]},
    )
    client.post(
        reverse("admin:modelops_trainingrun_changelist"),
        {"action": "mark_failed", "_selected_action": [run.pk]},
    )
    client.post(
        reverse("admin:django_celery_beat_periodictask_changelist"),
        {"action": "run_tasks", "_selected_action": []},
    )
    candidate.refresh_from_db()
    run.refresh_from_db()
    assert candidate.status == ModelVersion.Status.CANDIDATE
    assert run.status == TrainingRun.Status.RUNNING
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.ADMIN_ACTION).exists()


def test_every_action_declares_a_permission_and_a_superusers_use_is_audited(client: Client) -> None:
    for model_admin in admin.site._registry.values():
        for action in model_admin.actions or ():
            assert getattr(action, "allowed_permissions", None), (model_admin, action)
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    run = TrainingRun.objects.create(status=TrainingRun.Status.RUNNING, active_slot=True)
    client.post(
        reverse("admin:modelops_trainingrun_changelist"),
        {"action": "mark_failed", "_selected_action": [run.pk]},
    )
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    event = AuditEvent.objects.get(action=AuditEvent.Action.ADMIN_ACTION)
    assert event.actor_username == "root"
    assert event.detail["action"] == "mark_failed" and event.detail["objects"] == [str(run.pk)]
    assert event.detail["model"] == "modelops.trainingrun"


def test_celery_beats_run_tasks_is_for_superusers(client: Client) -> None:
    staff = UserFactory(username="ops", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="django_celery_beat"))
    client.force_login(staff)
    response = client.get(reverse("admin:django_celery_beat_periodictask_changelist"))
    choices = [c for c, _ in response.context_data["action_form"].fields["action"].choices if c]
    assert "run_tasks" not in choices and "delete_selected" in choices  # model permissions still count
