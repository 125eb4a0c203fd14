"""The cold-start LLM rater: validation against questionnaires, ratings as scores (its gate against the first
trained model: tests/training/test_promotion.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scoring.phq9 import TOTAL_MAX
from scoring.types import Conversation, Turn, Window
from tests.training.fake_anthropic import client_for, fake_anthropic
from training.labelling.cache import MemoryCache
from training.labelling.claude import ClaudeLabeler, LabelerConfig
from training.labelling.label import ClaudeLabel
from training.labelling.prompt import LabelRequest
from training.labelling.rater import LlmRater, RaterValidation, gate_totals, rater_version, validate_rater
from training.labelling.validation import ValidationPair

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def _label(total_items: list[float], usable: tuple[bool, ...] | None = None) -> ClaudeLabel:
    return ClaudeLabel(
        items=tuple(total_items),
        evidence=("",) * 9,
        confidence=1.0,
        model="claude-test",
        input_tokens=0,
        output_tokens=0,
        usable=usable or (True,) * 9,
    )


def _pairs(n: int, *, bias: float) -> list[ValidationPair]:
    """n patients, one pair each: the rater says truth + bias (spread over the items)."""
    pairs = []
    for i in range(n):
        truth = float(i % 20)
        rated = min(float(TOTAL_MAX), truth + bias)
        pairs.append(ValidationPair(_label([rated / 9] * 9), truth, None, f"patient-{i}"))
    return pairs


def test_a_rater_is_not_validated_with_too_few_pairs() -> None:
    validation = validate_rater(_pairs(5, bias=0.0), min_pairs=20)
    assert not validation.validated and validation.calibration is None
    assert validation.report["pairs"] == 5 and validation.report["mae"] == 0.0


def test_a_validated_rater_has_an_interval_from_residuals_and_round_trips_as_json() -> None:
    # Right on 24 patients, 4 points high on 6: no map can help (held-out MAE), and the 80% interval is
    # at rank 31 * 0.8 = 24.8 of the 30 patients' |residual|: between the 24th (0) and 25th (4), 3.2.
    pairs = _pairs(24, bias=0.0) + [
        ValidationPair(_label([(t + 4) / 9] * 9), float(t), None, f"high-{t}") for t in range(6)
    ]
    validation = validate_rater(pairs, min_pairs=20)
    assert validation.validated and validation.total_map is None, validation.report["calibration"]
    assert validation.calibration is not None and validation.calibration.half_width == pytest.approx(3.2)
    again = RaterValidation.from_dict(validation.to_dict())
    assert again is not None and again.calibration == validation.calibration and again.validated


def test_a_biased_rater_is_mapped_and_its_interval_uses_residuals_no_map_saw() -> None:
    validation = validate_rater(_pairs(60, bias=6.0), min_pairs=20)
    assert validation.validated and validation.total_map is not None
    assert validation.total_map(16.0) == pytest.approx(10.0, abs=1.0)
    # Residuals of out-of-half maps, not of the map fitted on every pair (which would be ~0 here).
    assert validation.report["mae_mapped_out_of_half"] > 0


def _window(wid: str, texts: list[str], *, end: datetime = T0) -> Window:
    turns = []
    for i, text in enumerate(texts):
        turns.append(Turn("user", text, end - timedelta(hours=2 * (len(texts) - i))))
        turns.append(
            Turn(
                "assistant", "I hear you.", end - timedelta(hours=2 * (len(texts) - i)) + timedelta(minutes=1)
            )
        )
    return Window(
        id=wid, conversations=(Conversation("sess-1", tuple(turns)),), start=end - timedelta(days=14), end=end
    )


def _rater(fake: object, validation: RaterValidation | None = None) -> LlmRater:
    labeler = ClaudeLabeler(
        client_for(fake), LabelerConfig(model="claude-test", max_retries=0), MemoryCache()
    )  # type: ignore[arg-type]
    return LlmRater(labeler, rater_version(labeler.config.variant), validation)


def test_a_rating_before_validation_has_no_interval_and_its_evidence_is_the_quoted_turn() -> None:
    with fake_anthropic() as fake:
        fake.ok([2, 1, 0, 0, 0, 0, 0, 0, 3])
        window = _window("w1", ["I have not slept properly for days", "some days I wish I were not here"])
        [rating] = _rater(fake).rate([LabelRequest(window, True, ())])
    assert rating.score is not None and not rating.validated
    assert rating.score.total == pytest.approx(6.0) and rating.score.items[8] == 3.0
    assert rating.score.interval == (0.0, float(TOTAL_MAX))  # nothing known about its error here yet
    assert rating.score.band == "mild" and rating.score.model_version.startswith("llm-claude-test-phq9-v2")
    # The fake quotes the first patient turn: turn 0 of sess-1 is the evidence of every rated item > 0.
    [chunk] = rating.score.evidence
    assert chunk.conversation_id == "sess-1" and chunk.turn_indices == (0,)
    assert chunk.weights[0] == 1.0 and chunk.weights[8] == 1.0 and chunk.weights[2] == 0.0
    assert rating.score.n_tokens == 17  # patient text in tokens, at 4 characters a token: ceil(66 / 4)


def test_a_validated_rating_is_mapped_and_carries_the_validated_interval() -> None:
    validation = validate_rater(_pairs(60, bias=6.0), min_pairs=20)
    with fake_anthropic() as fake:
        fake.ok([2] * 8 + [0])  # 16 before the map
        [rating] = _rater(fake, validation).rate([LabelRequest(_window("w1", ["I feel awful"]), True, ())])
    assert rating.validated and rating.score is not None
    assert rating.score.total == pytest.approx(10.0, abs=1.0)
    assert validation.calibration is not None
    assert rating.score.interval == validation.calibration.interval(rating.score.total)


def test_windows_that_cannot_be_rated_say_why() -> None:
    with fake_anthropic() as fake:
        fake.ok([None, None, None, 1, 1, 1, 1, 1, 1])  # three items not assessable: no total
        requests = [
            LabelRequest(_window("w1", ["hello"]), True, ()),
            LabelRequest(_window("w2", ["hello again"]), False, ()),  # no consent: never sent
        ]
        ratings = _rater(fake).rate(requests)
        assert len(fake.requests) == 1
    assert [r.score for r in ratings] == [None, None]
    assert ratings[0].why_not == "too few items assessable for a total"
    assert ratings[1].why_not == "no consent to external processing"


def test_a_flooded_window_is_cut_like_a_models_and_evidence_keeps_original_turn_indices() -> None:
    texts = [f"message number {i} " + "x" * 900 for i in range(100)]  # ~90k characters of patient text
    with fake_anthropic() as fake:
        fake.ok([1] * 9)
        [rating] = _rater(fake).rate([LabelRequest(_window("w1", texts), True, ())])
        sent = fake.sent_texts[0]
    assert rating.score is not None and rating.score.n_turns_left_out > 0
    assert "message number 0 " not in sent and "message number 99 " in sent
    [chunk] = rating.score.evidence  # the first turn sent, at its index in the whole conversation
    left_out = rating.score.n_turns_left_out  # the first turn kept may be the assistant's (odd index)
    assert chunk.turn_indices[0] == left_out + left_out % 2


def test_the_gate_maps_the_raters_test_totals_with_a_map_fitted_without_the_test_patients() -> None:
    # 40 development patients the rater rates 6 points high; 10 test patients it rates right. A map fitted
    # on all pairs would learn the test patients' own (right) totals; fitted without them it maps their
    # totals down by about 6, as it would any new patient's.
    development = _pairs(40, bias=6.0)
    test_pairs = [
        ValidationPair(_label([t / 9] * 9), t, None, f"test-{i}") for i, t in enumerate(range(8, 18))
    ]
    test_labels = {f"w{i}": p.label for i, p in enumerate(test_pairs)}
    test_groups = {p.group for p in test_pairs}
    totals, info = gate_totals(development + test_pairs, test_labels, test_groups=test_groups, min_pairs=20)
    alone, _ = gate_totals(development, test_labels, test_groups=test_groups, min_pairs=20)
    assert info["applied"] and info["fitted_without_test_patients"] and info["pairs"] == 40
    assert totals == alone  # the test patients' pairs change nothing
    assert totals["w9"] == pytest.approx(17 - 6, abs=1.0)  # rated 17, mapped as a development rating would be
