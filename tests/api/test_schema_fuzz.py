"""Fuzzes the whole API from its own OpenAPI schema (schemathesis, in-process through the WSGI app):
schema-valid and schema-violating bodies, query strings and path parameters for every operation, one
call at a time and as sequences (ingest a session, replay it, add a questionnaire, find the patient,
read the trajectory). Whatever comes in: never a 5xx, and every 4xx is our JSON error
{"detail", "code", "errors"?} naming the problem. Seeded and derandomized: CI sees the same cases."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, settings

from monitor_site.alerts.services import alerts_evaluate
from monitor_site.patients.models import CareTeam, IngestToken
from monitor_site.patients.services.tokens import ingest_token_create
from tests.factories import PatientFactory, PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db

SEED = 20260301
MAX_EXAMPLES = 40  # per operation and per generation mode (schema-valid, schema-violating)
STATEFUL_EXAMPLES = 12  # sequences of up to STATEFUL_STEPS calls
STATEFUL_STEPS = 6
INGEST_PATHS = ("/api/v1/sessions", "/api/v1/assessments")
# Fixed credentials: schemathesis builds some cases (its "coverage" phase) while pytest collects,
# before any fixture runs, so the values must be known then; _fuzz_world stores them in the database.
TOKEN = "phq_fuzz-token-0123456789abcdefghijklmnopqrstuv"
SESSION_KEY = "fuzzclinician0123456789abcdefghi"

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",  # no example database: the same cases on every machine
            # Credentials come from _Credentials; generated ones would only ever meet 401/403.
            "with-security-parameters": False,
        },
        "checks": {
            # "Valid by the schema => 2xx" cannot hold: JSON Schema cannot say "not in the future" or
            # "sent_at not before started_at". Those 400s still pass the error-shape check below.
            "positive_data_acceptance": {"enabled": False},
            # A schema-violating body can also be too large (a string at the schema's maxLength, times
            # the messages' maxItems): 413 is a refusal too.
            "negative_data_rejection": {
                "expected-statuses": [
                    *("400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"),
                    "5xx",
                ]
            },
        },
    }
)
APP = WSGIHandler()
schema = schemathesis.openapi.from_wsgi("/api/schema/", APP, config=CONFIG)  # needs no database


def _with_workflow_links(raw: dict) -> dict:
    """The served schema plus OpenAPI links for the sequences a real source and clinician produce."""
    raw = copy.deepcopy(raw)
    paths = raw["paths"]
    find_patient = {"operationId": "v1_patients_list", "parameters": {"query.q": "$request.body#/patient"}}
    paths["/api/v1/sessions"]["post"]["responses"]["201"]["links"] = {
        "ReplaySession": {"operationId": "v1_sessions_create", "requestBody": "$request.body"},
        "AssessSamePatient": {
            "operationId": "v1_assessments_create",
            "requestBody": {"patient": "$request.body#/patient"},
        },
        "FindPatient": find_patient,
    }
    paths["/api/v1/assessments"]["post"]["responses"]["201"]["links"] = {
        "ReplayAssessment": {"operationId": "v1_assessments_create", "requestBody": "$request.body"},
        "FindPatient": find_patient,
    }
    return raw


stateful_schema = schemathesis.openapi.from_dict(_with_workflow_links(schema.raw_schema), config=CONFIG)
stateful_schema.app = APP


class _Credentials:
    """The source's bearer token for the ingestion operations, the clinician's session for the reads."""

    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str:
        return TOKEN if case.operation.path in INGEST_PATHS else SESSION_KEY

    def set(self, case: schemathesis.Case, data: str, ctx: schemathesis.AuthContext) -> None:
        if case.operation.path in INGEST_PATHS:
            case.headers["Authorization"] = f"Bearer {data}"
        else:
            case.cookies["sessionid"] = data


schema.auth(refresh_interval=None)(_Credentials)
stateful_schema.auth(refresh_interval=None)(_Credentials)

statuses: dict[str, Counter[int]] = {}  # operation -> status -> count, printed with -s


def errors_are_json_and_name_the_problem(ctx: object, response: schemathesis.Response, case: Any) -> None:
    statuses.setdefault(case.operation.label, Counter())[response.status_code] += 1
    if response.status_code < 400:
        return
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), f"{response.status_code} as {content_type!r}"
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    assert isinstance(body.get("code"), str) and body["code"], body
    if response.status_code == 400:
        errors = body.get("errors")
        assert isinstance(errors, dict) and errors, body
        assert all(isinstance(v, list) and v and all(isinstance(m, str) for m in v) for v in errors.values())


@pytest.fixture(autouse=True)
def _fuzz_world(db: None) -> Iterator[None]:
    """A source whose new patients join Team F, and a signed-in Team F clinician who already has a
    patient with a prediction and an urgent alert."""
    token, _ = ingest_token_create(source_name="app-fuzz", care_team_name="Team F", create_team=True)
    IngestToken.objects.filter(pk=token.pk).update(prefix=TOKEN[:12], token_hash=IngestToken.hash(TOKEN))
    team = CareTeam.objects.get(name="Team F")
    clinician = UserFactory()
    team.members.add(clinician)
    patient = PatientFactory(care_team=team)
    PredictionFactory(session__patient=patient, items=[1.0] * 8 + [2.0])
    alerts_evaluate(patient_ids=[patient.pk])  # type: ignore[attr-defined]
    client = Client()
    client.force_login(clinician)
    Session.objects.create(
        session_key=SESSION_KEY,
        session_data=SessionStore().encode(dict(client.session.items())),
        expire_date=timezone.now() + timedelta(hours=1),
    )
    # schema.app is a real WSGI handler: keep it from closing the test's connection (and with it the
    # test transaction) after each request, as Django's test client does.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
    print(json.dumps({k: dict(v) for k, v in statuses.items()}))
    statuses.clear()


@contextmanager
def _rolled_back() -> Iterator[None]:
    """Each example starts from the same database, so Hypothesis can replay and shrink it faithfully."""
    savepoint = transaction.savepoint()
    try:
        yield
    finally:
        transaction.savepoint_rollback(savepoint)


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_it_answers_every_operation_without_5xx_and_with_json_errors(case: schemathesis.Case) -> None:
    with _rolled_back():
        case.call_and_validate(additional_checks=[errors_are_json_and_name_the_problem])


class _Workflows(stateful_schema.as_state_machine()):  # type: ignore[misc]
    def setup(self) -> None:
        self._savepoint = transaction.savepoint()

    def teardown(self) -> None:
        transaction.savepoint_rollback(self._savepoint)

    def validate_response(
        self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
    ) -> None:
        super().validate_response(response, case, [errors_are_json_and_name_the_problem], **kwargs)


def test_it_answers_sequences_of_calls_without_5xx_and_with_json_errors() -> None:
    _Workflows.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
    )
