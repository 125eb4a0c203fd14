"""The admin side of alerts and models: the item-9 rule's guarded switch, undelivered alerts on the
index, rounded figures, the model card as a table, audit filters and readable app names."""

from __future__ import annotations

import pytest
from django.test import Client

from monitor_site.alerts.models import Alert, AlertNotification, AlertRule
from monitor_site.audit.models import AuditEvent
from monitor_site.audit.services import audit_record
from tests.factories import ModelVersionFactory, PatientFactory, PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(client: Client) -> object:
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def _form(rule: AlertRule, **changes: object) -> dict:
    data = {
        f.name: getattr(rule, f.name)
        for f in AlertRule._meta.fields
        if f.editable and not f.primary_key and getattr(rule, f.name) is not None
    }
    data.update(changes)
    return {k: ("on" if v is True else "" if v is False else v) for k, v in data.items() if v != ""}


def test_switching_off_an_item9_rule_needs_a_confirmation_and_is_audited(
    client: Client, admin_user: object
) -> None:
    rule = AlertRule.objects.create(
        name="Item 9 test", kind=AlertRule.Kind.SELF_HARM, threshold=0.5, urgent=True
    )
    url = f"/admin/alerts/alertrule/{rule.pk}/change/"
    refused = client.post(url, _form(rule, is_active=False))
    assert refused.status_code == 200 and "Tick to confirm" in refused.content.decode()
    rule.refresh_from_db()
    assert rule.is_active
    assert client.post(url, _form(rule, is_active=False, confirm_disable_item9=True)).status_code == 302
    rule.refresh_from_db()
    assert not rule.is_active
    event = AuditEvent.objects.get(action=AuditEvent.Action.ALERT_RULE_CHANGE)
    assert event.actor_username == "root" and event.detail["item9_switched_off"] is True
    assert "is_active" in event.detail["changed"]


def test_other_rule_changes_need_no_confirmation_but_are_audited(client: Client, admin_user: object) -> None:
    rule = AlertRule.objects.create(name="PHQ-9 >= 99", kind=AlertRule.Kind.THRESHOLD, threshold=99)
    response = client.post(f"/admin/alerts/alertrule/{rule.pk}/change/", _form(rule, is_active=False))
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ALERT_RULE_CHANGE).count() == 1


def test_the_rule_list_offers_no_inline_switch(client: Client, admin_user: object) -> None:
    html = client.get("/admin/alerts/alertrule/").content.decode()
    assert 'name="form-0-is_active"' not in html  # a list_editable checkbox would skip the confirmation


def _undelivered_alert() -> Alert:
    rule = AlertRule.objects.create(name="t >= 10", kind=AlertRule.Kind.THRESHOLD, threshold=10)
    alert = Alert.objects.create(rule=rule, patient=PatientFactory(external_id="pt-lonely"), total=14.0)
    AlertNotification.objects.create(alert=alert, outcome=AlertNotification.Outcome.NO_RECIPIENT)
    return alert


def test_an_alert_that_reached_nobody_shows_on_the_admin_index_and_in_the_inbox(
    client: Client, admin_user: object
) -> None:
    alert = _undelivered_alert()
    index = client.get("/admin/").content.decode()
    assert "1 unresolved alert reached nobody" in index
    listed = client.get("/admin/alerts/alert/?delivery=nobody")
    assert list(listed.context["cl"].queryset) == [alert]
    alert.patient.care_team.members.add(admin_user)
    assert "nobody on the care team has an e-mail address" in client.get("/alerts/").content.decode()
    AlertNotification.objects.create(
        alert=alert, outcome=AlertNotification.Outcome.SENT, recipients=["a@b.c"]
    )
    assert "reached nobody" not in client.get("/admin/").content.decode()


def test_admin_figures_are_rounded_and_the_model_card_is_readable(client: Client, admin_user: object) -> None:
    version = ModelVersionFactory(
        metrics={"mae": 2.634567, "auc_at_10": 0.912345, "per_item_mae": [0.51234] * 9},
        manifest={
            "backbone": {"id": "tiny"},
            "item9_flag": {"threshold": 0.4321},
            "members": [{"mode": "gt"}],
        },
    )
    PredictionFactory(model_version=version, total=14.56789)
    versions = client.get("/admin/modelops/modelversion/").content.decode()
    assert "2.63" in versions and "0.912" in versions and "2.634567" not in versions
    card = client.get(f"/admin/modelops/modelversion/{version.pk}/change/").content.decode()
    assert 'class="model-card"' in card
    assert "Threshold on the model&#x27;s item 9" in card and "0.43" in card and "0.4321" not in card
    assert "item9_flag" not in card and '{"' not in card
    predictions = client.get("/admin/predictions/prediction/").content.decode()
    assert "14.6" in predictions and "14.56789" not in predictions


def test_the_audit_list_filters_by_user_and_patient(client: Client, admin_user: object) -> None:
    other = UserFactory(username="clin")
    patient = PatientFactory()
    audit_record(actor=other, action=AuditEvent.Action.PATIENT_VIEW, obj=patient, patient_id=patient.pk)
    audit_record(
        actor=admin_user, action=AuditEvent.Action.PATIENT_VIEW, obj=patient, patient_id=patient.pk + 1
    )
    by_user = client.get(f"/admin/audit/auditevent/?actor__id__exact={other.pk}")
    assert [e.actor_username for e in by_user.context["cl"].queryset] == ["clin"]
    by_patient = client.get(f"/admin/audit/auditevent/?patient={patient.pk}")
    assert [e.patient_id for e in by_patient.context["cl"].queryset] == [patient.pk]
    assert client.get("/admin/audit/auditevent/?patient=abc").status_code == 200


def test_app_names_are_readable_in_the_admin(client: Client, admin_user: object) -> None:
    index = client.get("/admin/").content.decode()
    assert "Models and training" in index and "Model-inferred scores" in index and "Modelops" not in index


@pytest.mark.parametrize(
    ("kind", "threshold", "name", "ok"),
    [
        ("threshold", 19, "PHQ-9 at or above 20 (severe)", False),  # edited to 19: still says 20
        ("threshold", 19, "PHQ-9 at or above 19 (severe)", False),  # 19 is moderately severe
        ("threshold", 19, "PHQ-9 at or above 19 (moderately severe)", True),
        ("deterioration", 5, "Reliable deterioration (6+ points over baseline)", False),
        ("threshold", 12, "Watch list", True),  # a name without numbers says nothing wrong
    ],
)
def test_a_rule_name_must_follow_its_threshold(kind: str, threshold: float, name: str, ok: bool) -> None:
    from django.core.exceptions import ValidationError

    from monitor_site.alerts.models import AlertRule

    rule = AlertRule(name=name, kind=kind, threshold=threshold)
    if ok:
        rule.clean()
        return
    with pytest.raises(ValidationError) as raised:
        rule.clean()
    assert "name" in raised.value.message_dict
    assert f"Suggested: '{rule.suggested_name()}'" in raised.value.message_dict["name"][0]


def test_every_default_rule_name_follows_its_numbers() -> None:
    from monitor_site.alerts.models import AlertRule

    for rule in AlertRule.objects.all():
        rule.clean()


def test_the_rule_form_shows_only_what_fits_the_rule(client: object) -> None:
    from django.urls import reverse

    from monitor_site.alerts.models import AlertRule
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True, is_superuser=True))  # type: ignore[attr-defined]

    def form_of(**lookup: object) -> str:
        rule = AlertRule.objects.get(**lookup)
        page = client.get(reverse("admin:alerts_alertrule_change", args=[rule.pk]))  # type: ignore[attr-defined]
        assert page.status_code == 200
        return page.content.decode()

    item9 = form_of(kind="self_harm", source="model")
    assert 'name="confirm_disable_item9"' in item9 and 'name="crossing"' in item9
    line = form_of(kind="threshold", source="model", threshold=10)
    assert 'name="confirm_disable_item9"' not in line and 'name="crossing"' in line
    mine = form_of(kind="threshold", source="self_report", threshold=10)
    assert 'name="crossing"' not in mine and 'name="use_model_threshold"' not in mine
