from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

from monitor_site.api.fields import AwareDateTimeField, ExternalIdField, StrictCharField, StrictIntegerField
from monitor_site.patients.text import has_visible_characters, visible_text
from monitor_site.patients.timestamps import timestamp_problem
from scoring.phq9 import ITEM_MAX, N_ITEMS
from scoring.types import ROLES


class StrictSerializer(serializers.Serializer):
    """Unknown keys are an error: a typo in a field name must not silently drop data."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({k: ["Unknown field."] for k in unknown})
        return super().to_internal_value(data)


class StrictSerializerScheme(OpenApiSerializerExtension):
    """Publishes the refusal of unknown keys as `additionalProperties: false`."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}


def _in_accepted_range(value: Any) -> None:
    """INGEST_EARLIEST_DATE .. now + the clock-skew tolerance, for every time the API stores."""
    problem = timestamp_problem(value)
    if problem:
        raise serializers.ValidationError(problem)


MESSAGE_KEYS = frozenset({"role", "text", "sent_at"})


class MessageListIn(serializers.ListSerializer):
    """A session's messages, with a fast path for the common case of all of them well-formed.

    DRF's nested validation costs ~0.1 ms of CPU per message, a fifth of an ingest request under load
    (`manage.py loadtest`). The fast path checks exactly what MessageIn checks, with plain Python for
    role and text and MessageIn's own sent_at field; at the first doubt it hands the whole list to
    DRF, so every error (and its wording) comes from one place.
    """

    def to_internal_value(self, data: Any) -> Any:
        validated = self._all_well_formed(data)
        return validated if validated is not None else super().to_internal_value(data)

    def _all_well_formed(self, data: Any) -> list[dict] | None:
        if type(data) is not list or not data:
            return None
        assert isinstance(self.child, serializers.Serializer)  # MessageIn
        sent_at_field = self.child.fields["sent_at"]
        max_chars = settings.API_MAX_MESSAGE_CHARS
        validated = []
        for message in data:
            if type(message) is not dict or message.keys() != MESSAGE_KEYS:
                return None
            role, text, sent_at = message["role"], message["text"], message["sent_at"]
            if type(role) is not str or role not in ROLES or type(text) is not str:
                return None
            if not 0 < len(text) <= max_chars or "\x00" in text or not text.strip():
                return None
            if not text.isascii():
                try:
                    text.encode("utf-8")  # lone surrogates ("\ud800") cannot be stored
                except UnicodeEncodeError:
                    return None
            text = visible_text(text)
            if not has_visible_characters(text):
                return None  # the field-by-field path says why
            try:
                when = sent_at_field.run_validation(sent_at)
            except serializers.ValidationError:
                return None
            validated.append({"role": role, "text": text, "sent_at": when})
        return validated


class MessageIn(StrictSerializer):
    class Meta:
        list_serializer_class = MessageListIn

    role = serializers.ChoiceField(choices=ROLES)
    text = StrictCharField(allow_blank=False, trim_whitespace=False, min_length=1)
    sent_at = AwareDateTimeField(validators=[_in_accepted_range])

    def validate_text(self, value: str) -> str:
        if len(value) > settings.API_MAX_MESSAGE_CHARS:
            raise serializers.ValidationError(f"Longer than {settings.API_MAX_MESSAGE_CHARS} characters.")
        if not value.strip():
            raise serializers.ValidationError("May not be blank.")
        value = visible_text(value)
        if not has_visible_characters(value):
            raise serializers.ValidationError(
                "Has no visible characters (only spaces, zero-width or control characters)."
            )
        return value


class SessionIn(StrictSerializer):
    patient = ExternalIdField()
    session_id = ExternalIdField()
    started_at = AwareDateTimeField(validators=[_in_accepted_range])
    messages = MessageIn(many=True, allow_empty=False)

    def validate_messages(self, value: list) -> list:
        if len(value) > settings.API_MAX_MESSAGES:
            raise serializers.ValidationError(f"At most {settings.API_MAX_MESSAGES} messages per session.")
        return value

    def validate(self, attrs: dict) -> dict:
        errors = {}
        for i, message in enumerate(attrs["messages"]):
            if message["sent_at"] < attrs["started_at"]:
                errors[f"messages[{i}].sent_at"] = ["Before the session's started_at."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class SessionOut(serializers.Serializer):
    id = serializers.IntegerField(help_text="Our id for the session.")
    session_id = serializers.CharField()
    patient = serializers.CharField()
    messages = serializers.IntegerField(help_text="Messages stored.")
    created = serializers.BooleanField(help_text="False when this was a replay of an identical body.")


class AssessmentIn(StrictSerializer):
    patient = ExternalIdField()
    completed_at = AwareDateTimeField(validators=[_in_accepted_range])
    items = serializers.ListField(
        child=StrictIntegerField(min_value=0, max_value=ITEM_MAX),
        min_length=N_ITEMS,
        max_length=N_ITEMS,
        help_text="The 9 PHQ-9 item answers, 0..3, in questionnaire order.",
    )


class AssessmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    patient = serializers.CharField()
    completed_at = serializers.DateTimeField()
    total = serializers.IntegerField()
    created = serializers.BooleanField()


class ErrorOut(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    # The response's "errors" key. It shadows Serializer.errors; this serializer only documents the
    # error shape in the OpenAPI schema and never validates anything.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text='Field path -> messages, e.g. {"messages[2].sent_at": ["..."]}.',
    )


def schema_limits(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular post-processing hook: the limits the server enforces, from the settings in
    force when the schema is generated (API_MAX_MESSAGES, API_MAX_MESSAGE_CHARS)."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        properties = schema.get("properties", {})
        if name.startswith("MessageIn") and "text" in properties:
            properties["text"].update(minLength=1, maxLength=settings.API_MAX_MESSAGE_CHARS)
        if name.startswith("SessionIn") and "messages" in properties:
            properties["messages"].update(minItems=1, maxItems=settings.API_MAX_MESSAGES)
    return result
