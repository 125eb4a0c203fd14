"""PostgreSQL restarted under the API: 503 with a JSON body while it is down, then it recovers by
itself. A real outage: the test terminates the API's own database connection from a second one."""

from __future__ import annotations

import pytest
from django.db import close_old_connections, connection
from rest_framework.test import APIClient

from monitor_site.patients.models import ConversationSession
from tests.conftest import session_body

pytestmark = pytest.mark.faults


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_503_while_the_database_is_gone_and_recovers(api: APIClient) -> None:
    import psycopg

    settings_dict = connection.settings_dict
    assert api.post("/api/v1/sessions", session_body(session_id="before"), format="json").status_code == 201
    # Kill the server side of Django's persistent connection, as a PostgreSQL restart does.
    pid = connection.connection.info.backend_pid
    conninfo = dict(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        dbname=settings_dict["NAME"],
        password=settings_dict["PASSWORD"] or None,
    )
    with psycopg.connect(**{k: v for k, v in conninfo.items() if v is not None}, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    response = api.post("/api/v1/sessions", session_body(session_id="during"), format="json")
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "service_unavailable" and response["Retry-After"]
    # What Django's handler does around every real request (the test client skips it): drop a
    # connection that errored and is no longer usable.
    close_old_connections()
    after = api.post("/api/v1/sessions", session_body(session_id="during"), format="json")
    assert after.status_code == 201  # the broken connection was dropped; a fresh one works
    assert set(ConversationSession.objects.values_list("external_id", flat=True)) == {"before", "during"}
