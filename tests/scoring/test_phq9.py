from __future__ import annotations

import pytest

from scoring.phq9 import band_for, change_status


@pytest.mark.parametrize(
    ("total", "band"), [(0, "minimal"), (4.4, "minimal"), (4.5, "mild"), (14, "moderate"), (27, "severe")]
)
def test_it_bands_model_inferred_totals_like_a_clinician_rounds(total: float, band: str) -> None:
    assert band_for(total).key == band


def test_it_calls_a_6_point_rise_reliable_deterioration() -> None:
    status = change_status(8, 14)
    assert status.reliable == "deterioration" and status.label == "Reliable deterioration"
    assert status.response is None and status.remission is None  # baseline below 10: not applicable
    assert change_status(8, 13.44).reliable == "none"  # shown +5.4: rounds to 5; +5.5 would reach 6


def test_it_tells_response_from_remission() -> None:
    response = change_status(16, 8)
    assert response.reliable == "improvement" and response.response and not response.remission
    assert response.label == "Response"
    remission = change_status(16, 4)
    assert remission.remission and remission.label == "Remission"
    assert change_status(16, 9).label == "Reliable improvement"  # 7 points down, not yet a 50% drop


def test_it_holds_the_questionnaire_and_its_codes_once() -> None:
    from scoring import phq9

    assert len(phq9.ITEM_QUESTIONS) == len(phq9.ITEM_LABELS) == len(phq9.LOINC_ITEMS) == phq9.N_ITEMS
    assert len(set(phq9.LOINC_ITEMS)) == phq9.N_ITEMS and phq9.LOINC_TOTAL not in phq9.LOINC_ITEMS
    assert [score for score, _, _ in phq9.ANSWER_OPTIONS] == list(range(phq9.ITEM_MAX + 1))
    assert phq9.TOTAL_MAX == 27 and phq9.BANDS[-1].high == phq9.TOTAL_MAX


@pytest.mark.parametrize(
    ("change", "expected"), [(6.0, "deterioration"), (5.44, "none"), (-5.44, "none"), (-6.0, "improvement")]
)
def test_reliable_change_is_six_points_either_way(change: float, expected: str) -> None:
    from scoring.phq9 import reliable_change

    assert reliable_change(change) == expected


@pytest.mark.parametrize(
    ("score", "band", "line"),
    [
        (4.44, "minimal", 5),
        (4.45, "mild", 5),  # shown 4.5
        (9.44, "mild", 10),
        (9.45, "moderate", 10),
        (14.44, "moderate", 15),  # shown 14.4
        (14.46, "moderately_severe", 15),  # shown 14.5: the number beside the label decides
        (19.44, "moderately_severe", 20),
        (19.5, "severe", 20),
    ],
)
def test_one_rounding_rule_for_bands_lines_and_charts(score: float, band: str, line: int) -> None:
    from scoring.phq9 import band_for, chart_line, reaches

    assert band_for(score).key == band
    reached = band != {5: "minimal", 10: "mild", 15: "moderate", 20: "moderately_severe"}[line]
    assert reaches(score, line) is reached
    assert (score >= chart_line(line)) is reached  # drawn above the line exactly when it reaches it


def test_reliable_change_rounds_like_the_total() -> None:
    from scoring.phq9 import reliable_change

    assert reliable_change(5.5) == "deterioration" and reliable_change(5.44) == "none"
    assert reliable_change(-5.5) == "improvement" and reliable_change(-5.44) == "none"
    assert reliable_change(5.46) == "deterioration" and reliable_change(-5.46) == "improvement"  # 5.5 shown


def test_every_label_agrees_with_the_number_shown_both_ways() -> None:
    """From 0 to 27 and -27 to 27 in hundredths: the band, the lines and the reliable-change mark
    depend only on the number shown (one decimal), and a change is judged the same up and down."""
    from scoring.phq9 import THRESHOLDS, band_for, reaches, reliable_change, shown

    for hundredths in range(0, 2701):
        score = hundredths / 100
        twin = shown(score)
        assert band_for(score) == band_for(twin)
        assert all(reaches(score, line) == reaches(twin, line) for line in THRESHOLDS)
    for hundredths in range(1, 2701):
        change = hundredths / 100
        up, down = reliable_change(change), reliable_change(-change)
        assert (up, down) in {("none", "none"), ("deterioration", "improvement")}, change
        assert (up != "none") == (shown(change) >= 5.5)


@pytest.mark.parametrize(
    ("value", "answer"),
    [
        (0.0, "Not at all"),
        (0.49, "Not at all"),
        (0.5, "Several days"),
        (1.6, "More than half the days"),
        (2.5, "Nearly every day"),
        (3.4, "Nearly every day"),
        (-0.2, "Not at all"),
    ],
)
def test_it_words_an_item_score_as_the_answer_it_rounds_to(value: float, answer: str) -> None:
    from scoring.phq9 import item_answer

    assert item_answer(value) == answer


@pytest.mark.parametrize("change", [5.44, 5.45, 5.49, 5.5, -5.45, -5.44, -5.51, 6.0, -6.0, 0.0])
def test_a_database_filter_on_lowest_reaching_agrees_with_reliable_change(change: float) -> None:
    from scoring.phq9 import RELIABLE_CHANGE, lowest_reaching, reliable_change

    worse = change >= lowest_reaching(RELIABLE_CHANGE)
    better = -change >= lowest_reaching(RELIABLE_CHANGE)
    assert (worse, better) == (
        reliable_change(change) == "deterioration",
        reliable_change(change) == "improvement",
    )
