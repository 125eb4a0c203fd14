"""The API's JSON parser: DRF's, refusing a body that names one key twice.

Python's json keeps the last of duplicate keys, so {"patient": "p1", "patient": "p2"} would store p2
while a log or proxy that reads the first sees p1: ambiguous input is a 400, never a guess."""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json as drf_json


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r} in one object")
        seen[key] = value
    return seen


class StrictJSONParser(JSONParser):
    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            decoded = codecs.getreader(encoding)(stream)
            return json.load(
                decoded,
                object_pairs_hook=_no_duplicate_keys,
                parse_constant=drf_json.strict_constant if self.strict else None,
            )
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
