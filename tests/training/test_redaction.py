"""Redaction before text leaves the building: the issue's missed cases, the planted-identifier
benchmark's bar, and that redaction never logs."""

from __future__ import annotations

import logging

import pytest

from training.bench.redaction import NO_MISS_KINDS, planted_set, redaction_bench
from training.redaction import redact


@pytest.mark.parametrize(
    ("text", "planted"),
    [
        ("hi my name is sarah and i feel low", "sarah"),
        ("I'm Sarah and I cannot sleep", "Sarah"),
        ("my sister anna says I should eat", "anna"),
        ("my therapist John Murphy thinks it is depression", "Murphy"),
        ("Sarah Jane Thompson here, feeling hopeless", "Thompson"),
        ("Sarah Jane Thompson here, feeling hopeless", "Jane"),
        ("I told Zoë Müller-Schäfer everything", "Müller"),
        ("born 12/03/1985 and it shows", "1985"),
        ("I live at 14 Elm Grove, Leeds LS6 2AB", "Elm"),
        ("I live at 14 Elm Grove, Leeds LS6 2AB", "LS6"),
        ("my NI number is AB 12 34 56 C", "34 56"),
        ("IBAN DE89 3704 0044 0532 0130 00", "0532"),
        ("hospital number RX448812, again", "448812"),
        ("call me on 555 0199 tonight", "0199"),
        ("I work at Tesco on nights", "Tesco"),
        ("they took me to St Mary's Hospital", "Mary"),
        ("je m'appelle Chloé Lefèvre et je suis triste", "Lefèvre"),
        ("ich heiße Jürgen und kann nicht schlafen", "Jürgen"),
    ],
)
def test_it_removes_the_identifiers_the_probe_found_leaking(text: str, planted: str) -> None:
    assert planted.lower() not in redact(text).lower()


def test_it_removes_the_identifiers_the_app_knows_wherever_they_appear() -> None:
    out = redact("pt-0042 here, Sam says pt-0042 is fine", names=("pt-0042", "Sam Okafor"))
    assert "pt-0042" not in out and "Sam" not in out


@pytest.mark.parametrize(
    "text",
    [
        "I have been on sertraline 50mg since May and still feel flat",
        "been awake since 4 am, heart racing, I sleep 12 hours at weekends",
        "I feel worthless and tired every day, no appetite for 2 weeks",
    ],
)
def test_it_keeps_clinical_words_doses_and_times(text: str) -> None:
    assert redact(text) == text


def test_the_planted_identifier_set_meets_the_bar() -> None:
    """The bar the issue set. The patterns and the set were written together, so this is an upper
    bound: it fails when a change loses what the set covers, not proof on unseen text."""
    lines = planted_set()
    assert len(lines) >= 200
    report = redaction_bench(lines)
    assert report.recall >= 0.95, report.misses
    assert all(report.recall_of(kind) == 1.0 for kind in NO_MISS_KINDS), report.misses
    assert report.clinical_retention >= 0.9


def test_redaction_never_logs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        redact("my name is Sarah Jones, call 020 7946 0958")
    assert "Sarah" not in caplog.text and "7946" not in caplog.text
