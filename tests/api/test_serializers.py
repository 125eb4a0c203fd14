"""The fast path for well-formed messages (MessageListIn) must agree with DRF's own validation: it may
hand anything to DRF, but whatever it accepts DRF must accept, with the same values."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from monitor_site.api.serializers import SessionIn

ROLE = st.sampled_from(["user", "assistant", "system", "", "USER", 1, None, True])
TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["ok", " ", "", "a\x00b", "\ud800", "héllo ✓", "\n\t", "x" * 20001]),
    st.integers(),
    st.none(),
)
SENT_AT = st.one_of(
    st.sampled_from(
        [
            "2026-03-01T09:30:00Z",
            "2026-03-01T09:30:00+05:30",
            "2026-03-01T09:30:00.123456-08:00",
            "2026-03-01T09:30:00+0530",
            "2026-03-01 09:30:00z",
            "2026-03-01T09:30:00",
            "2026-03-01T09:30:00+05:60",
            "2026-03-01T09:30:00+25:00",
            "2026-02-30T09:30:00Z",
            "2099-01-01T00:00:00Z",
            " 2026-03-01T09:30:00Z ",
            "2026-03-01",
            "",
        ]
    ),
    st.text(max_size=25),
    st.integers(),
    st.none(),
)
WELL_FORMED = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant"]),
        "text": st.text(min_size=1, max_size=40),
        "sent_at": st.sampled_from(
            ["2026-03-01T09:30:00Z", "2026-03-01T09:30:00.5+05:30", "2026-03-01T23:59:59-0800"]
        ),
    }
)
MESSAGE = st.one_of(
    WELL_FORMED,
    st.fixed_dictionaries({"role": ROLE, "text": TEXT, "sent_at": SENT_AT}),
    st.fixed_dictionaries(
        {"role": ROLE, "text": TEXT, "sent_at": SENT_AT}, optional={"extra": st.just(1), "id": st.just("x")}
    ),
    st.dictionaries(st.sampled_from(["role", "text", "sent_at"]), st.just("user"), max_size=3),
    st.just([]),
    st.just("message"),
)


def _list_field() -> Any:
    return SessionIn().fields["messages"]


def _drf(field: Any, data: Any) -> Any:
    """DRF's own path, without the fast one."""
    return serializers.ListSerializer.to_internal_value(field, data)


def test_it_accepts_only_what_drf_accepts_with_the_same_values() -> None:
    taken = []

    @settings(max_examples=400, deadline=None, derandomize=True)
    # Half all well-formed, half with odd messages among them: both paths get exercised.
    @given(st.lists(WELL_FORMED, min_size=1, max_size=3) | st.lists(MESSAGE, min_size=1, max_size=3))
    def check(messages: list) -> None:
        field = _list_field()
        fast = field._all_well_formed(messages)
        if fast is not None:
            assert [dict(m) for m in _drf(field, messages)] == fast
            taken.append(len(fast))

    check()
    assert len(taken) >= 100  # a generator that never reached the fast path would prove nothing


def test_it_takes_the_fast_path_for_ordinary_messages() -> None:
    field = _list_field()
    messages = [
        {"role": "user", "text": "I slept badly.", "sent_at": "2026-03-01T09:30:00Z"},
        {"role": "assistant", "text": "Tell me more — ça va?", "sent_at": "2026-03-01T09:31:00+01:00"},
    ]
    fast = field._all_well_formed(messages)
    assert fast is not None and fast == [dict(m) for m in _drf(field, messages)]


@pytest.mark.parametrize(
    "message",
    [
        {"role": "user", "text": "hi", "sent_at": "2026-03-01T09:30:00"},  # naive
        {"role": "user", "text": "a\x00b", "sent_at": "2026-03-01T09:30:00Z"},
        {"role": "user", "text": "\ud800", "sent_at": "2026-03-01T09:30:00Z"},
        {"role": "bot", "text": "hi", "sent_at": "2026-03-01T09:30:00Z"},
        {"role": "user", "text": "   ", "sent_at": "2026-03-01T09:30:00Z"},
        {"role": "user", "text": "hi", "sent_at": "2026-03-01T09:30:00Z", "mood": 3},
    ],
)
def test_it_leaves_every_doubtful_message_to_drf(message: dict) -> None:
    field = _list_field()
    assert field._all_well_formed([message]) is None
    with pytest.raises(serializers.ValidationError):
        _drf(field, [message])
