"""Ingest tokens: create (the raw value shown once), authenticate (cached per process), revoke."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from monitor_site.patients.models import CareTeam, IngestSource, IngestToken

log = logging.getLogger(__name__)


def ingest_token_create(*, source_name: str, care_team_name: str | None = None) -> tuple[IngestToken, str]:
    """A new token for a source (created if new); returns the row and the raw token, shown once."""
    with transaction.atomic():
        source, _ = IngestSource.objects.get_or_create(name=source_name)
        if care_team_name:
            team, _ = CareTeam.objects.get_or_create(name=care_team_name)
            if source.default_care_team_id != team.pk:
                source.default_care_team = team
                source.save(update_fields=["default_care_team"])
        raw = IngestToken.generate()
        token = IngestToken.objects.create(source=source, prefix=raw[:12], token_hash=IngestToken.hash(raw))
    return token, raw


# token hash -> (monotonic expiry, token with its source): valid tokens only, per process.
_token_cache: dict[str, tuple[float, IngestToken]] = {}
TOKEN_CACHE_MAX = 1024


def ingest_token_authenticate(*, raw: str) -> IngestToken | None:
    """The active token for this raw bearer value, or None.

    A valid token is remembered by this process for INGEST_TOKEN_CACHE_SECONDS: under load the lookup
    (a query with two joins) was the largest single cost of an ingest request (`manage.py loadtest`).
    The price: a token revoked by another process keeps working here for at most that long;
    `ingest_token_revoke` forgets it at once in its own process. Unknown tokens are never cached, so
    guessing costs a query each time, as before.
    """
    digest = IngestToken.hash(raw)
    now = time.monotonic()
    ttl = settings.INGEST_TOKEN_CACHE_SECONDS
    hit = _token_cache.get(digest) if ttl > 0 else None
    if hit is not None and hit[0] > now:
        return hit[1]
    token = (
        IngestToken.objects.select_related("source", "source__default_care_team")
        .filter(token_hash=digest, revoked_at__isnull=True)
        .first()
    )
    if token is None or ttl <= 0:
        _token_cache.pop(digest, None)
    else:
        if len(_token_cache) >= TOKEN_CACHE_MAX:
            _token_cache.clear()
        _token_cache[digest] = (now + ttl, token)
    return token


def ingest_token_revoke(*, tokens: models.QuerySet[IngestToken]) -> int:
    """Revoke these tokens (the already revoked keep their date). Returns how many were revoked.
    Other web processes refuse them within INGEST_TOKEN_CACHE_SECONDS."""
    active = tokens.filter(revoked_at__isnull=True)
    hashes = list(active.values_list("token_hash", flat=True))
    revoked = active.update(revoked_at=timezone.now())
    for digest in hashes:
        _token_cache.pop(digest, None)
    if revoked:
        log.info("revoked %d ingest token(s)", revoked)
    return revoked
