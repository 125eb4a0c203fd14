"""The floor under an ingestion request, for `manage.py loadtest`: a POST that passes through everything
Django and DRF do for `POST /api/v1/sessions` (middleware, the ingest-token authentication, permission
and throttle, the JSON response) and then validates nothing and stores nothing.

Mounted only when LOADTEST_BARE_POST is on (monitor_site/urls.py; off by default, and the load test
turns it on for its own gunicorn only): a production site has no such URL. The load test times it in
the same run and the same processes as the sessions, and reports web CPU per session / web CPU per bare
POST: what the ingestion itself costs beyond what any authenticated DRF request costs anyway.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

BARE_POST_PATH = "/api/v1/loadtest/bare-post"


@extend_schema(exclude=True)
@api_view(["POST"])
def bare_post(request: Request) -> Response:
    # The body is read off the socket by the server but never parsed: the session endpoint's parsing
    # and validation are part of what the ratio measures.
    return Response({"created": True}, status=status.HTTP_201_CREATED)
