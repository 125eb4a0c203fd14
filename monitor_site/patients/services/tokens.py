"""Ingest tokens: create (the raw value shown once), authenticate (cached per process), revoke; and
moving a source (with its tokens and patients) to another care team, explicitly."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from monitor_site.patients.models import CareTeam, IngestSource, IngestToken, Patient

log = logging.getLogger(__name__)


class IngestSetupRefused(Exception):
    """A token or source change that would bind a source to the wrong care team, or to none; the
    message says what to do instead. Nothing was written."""


def ingest_token_create(
    *, source_name: str, care_team_name: str | None = None, create_team: bool = False
) -> tuple[IngestToken, str]:
    """A new token for a source (created if new); returns the row and the raw token, shown once.

    A source, and so each of its tokens, belongs to exactly one care team: its tokens create patients
    in that team and may write only to that team's patients. A new source needs `care_team_name`; a
    team that does not exist is refused (a typo would make an empty team nobody sees) unless
    `create_team`; naming another team than an existing source's is refused, since it would re-point
    every token of the source: that is `ingest_source_move`, which says what moves.
    """
    with transaction.atomic():
        source = IngestSource.objects.select_for_update().filter(name=source_name).first()
        team = _team(care_team_name, create=create_team) if care_team_name else None
        if source is None:
            if team is None:
                raise IngestSetupRefused(
                    f"source {source_name!r} is new: name the care team its patients belong to (--care-team)."
                )
            source = IngestSource.objects.create(name=source_name, default_care_team=team)
        elif team is not None and source.default_care_team_id not in (None, team.pk):
            raise IngestSetupRefused(
                f"source {source_name!r} belongs to care team {source.default_care_team}; moving it to "
                f"{team} re-points every token of the source: use `manage.py move_ingest_source "
                f"{source_name} --care-team {team.name!r}` (it says what moves)."
            )
        elif team is not None:  # a source from before every source had a team: it gets one now
            source.default_care_team = team
            source.save(update_fields=["default_care_team"])
        elif source.default_care_team_id is None:
            raise IngestSetupRefused(
                f"source {source_name!r} has no care team: name one (--care-team); its tokens refuse "
                "every write until it has."
            )
        raw = IngestToken.generate()
        token = IngestToken.objects.create(source=source, prefix=raw[:12], token_hash=IngestToken.hash(raw))
    return token, raw


def _team(name: str, *, create: bool) -> CareTeam:
    team = CareTeam.objects.filter(name=name).first()
    if team is not None:
        return team
    if not create:
        known = ", ".join(CareTeam.objects.order_by("name").values_list("name", flat=True)[:20]) or "none yet"
        raise IngestSetupRefused(
            f"no care team named {name!r} (known: {known}); check the spelling, or add --create-team."
        )
    return CareTeam.objects.create(name=name)


@dataclass(frozen=True)
class SourceMove:
    source: str
    from_team: str | None
    to_team: str
    tokens: int  # active tokens that now write to `to_team`
    patients_moved: int  # the source's patients of the old team (or of none), now in `to_team`
    patients_elsewhere: int  # the source's patients an admin put in other teams: they stay, unwritable

    def describe(self, *, done: bool) -> str:
        verb = "moved" if done else "would move"
        return (
            f"source {self.source}: care team {self.from_team or '(none)'} -> {self.to_team}; "
            f"{self.tokens} active token(s) {'now write' if done else 'would write'} to {self.to_team}; "
            f"{self.patients_moved} patient(s) {verb} to {self.to_team} (their alerts go to its members); "
            f"{self.patients_elsewhere} patient(s) of the source in other teams stay there, and its tokens "
            "cannot write to them."
        )


def ingest_source_move(*, source: IngestSource, care_team: CareTeam, dry_run: bool = False) -> SourceMove:
    """Re-point a source, its tokens and its patients of the old team to `care_team`, in one
    transaction; with `dry_run`, only say what would move."""
    with transaction.atomic():
        source = IngestSource.objects.select_for_update().get(pk=source.pk)
        old = source.default_care_team
        patients = Patient.objects.filter(source=source)
        mine = patients.filter(care_team=old) if old is not None else patients.filter(care_team__isnull=True)
        move = SourceMove(
            source=source.name,
            from_team=old.name if old is not None else None,
            to_team=care_team.name,
            tokens=source.tokens.filter(revoked_at__isnull=True).count(),
            patients_moved=mine.count(),
            patients_elsewhere=patients.exclude(pk__in=mine.values("pk"))
            .exclude(care_team=care_team)
            .count(),
        )
        if not dry_run:
            mine.update(care_team=care_team)
            source.default_care_team = care_team
            source.save(update_fields=["default_care_team"])
            _token_cache.clear()  # cached tokens carry their source's old team
            log.info("source %s moved to care team %s", source.pk, care_team.pk)
    return move


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
