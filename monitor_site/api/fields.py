"""Strict JSON fields: the API refuses what DRF would quietly coerce (naive datetimes, "2", true)."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# No "@" (an e-mail address is a name) and no whitespace: opaque ids such as p-0001 or 3f2a:77.
EXTERNAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)
VALID_OFFSET = re.compile(r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$", re.IGNORECASE)
# RFC 3339 date-time (section 5.6): T or t between date and time, seconds required, a fraction of up
# to 9 digits, Z, z or +hh:mm. Nothing else (no space, no week dates, no +0100).
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


@extend_schema_field(
    {
        "type": "string",
        "format": "date-time",
        "pattern": RFC3339.pattern,
        "description": "RFC 3339 date-time with an offset, e.g. 2026-03-01T09:30:00Z or "
        "2026-03-01T10:30:00.250+01:00.",
    }
)
class AwareDateTimeField(serializers.DateTimeField):
    """An RFC 3339 date-time with its offset (Z or ±hh:mm); a naive time is ambiguous across time zones."""

    default_error_messages = {
        "naive": "Datetime needs a timezone offset, e.g. 2026-03-01T09:30:00Z or +01:00.",
        "offset": "Timezone offset must lie between -23:59 and +23:59, e.g. +05:30.",
        "type": "Must be an ISO-8601 string.",
        "rfc3339": "Must be an RFC 3339 date-time, e.g. 2026-03-01T09:30:00Z or 2026-03-01T10:30:00+01:00.",
    }

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str):
            self.fail("type")
        value = value.strip()
        if not OFFSET.search(value):
            self.fail("naive")
        if not RFC3339.fullmatch(value):
            self.fail("rfc3339")
        if not VALID_OFFSET.search(value):
            self.fail("offset")  # Python reads +05:60 as +06:00; a sender writing that has a bug
        fraction = re.search(r"\.(\d+)", value)
        if fraction and len(fraction.group(1)) > 6:  # Python keeps microseconds: drop the rest
            value = value.replace(fraction.group(0), "." + fraction.group(1)[:6])
        return super().to_internal_value(value[:10] + "T" + value[11:].upper())


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"type": "Must be a JSON integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("type")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 128, "pattern": EXTERNAL_ID.pattern})
class ExternalIdField(serializers.CharField):
    default_error_messages = {
        "format": "1-128 characters: letters, digits and . _ : - (a pseudonymous id, never a name or an "
        "e-mail address)."
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=128, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not EXTERNAL_ID.fullmatch(value):  # match() would let "p1\n" through ($ matches before \n)
            self.fail("format")
        return value


class StrictCharField(serializers.CharField):
    """Text that must really be a JSON string and must not hold NUL (PostgreSQL cannot store it)."""

    default_error_messages = {"nul": "Must not contain NUL (\\u0000) characters."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if "\x00" in value:
            self.fail("nul")
        return value
