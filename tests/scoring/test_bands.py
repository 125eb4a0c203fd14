from __future__ import annotations

import pytest

from scoring.bands import band_for, change_status


@pytest.mark.parametrize(
    ("total", "band"), [(0, "minimal"), (4.4, "minimal"), (4.5, "mild"), (14, "moderate"), (27, "severe")]
)
def test_it_bands_model_inferred_totals_like_a_clinician_rounds(total: float, band: str) -> None:
    assert band_for(total).key == band


def test_it_calls_a_6_point_rise_reliable_deterioration() -> None:
    status = change_status(8, 14)
    assert status.reliable == "deterioration" and status.label == "Reliable deterioration"
    assert status.response is None and status.remission is None  # baseline below 10: not applicable
    assert change_status(8, 13.9).reliable == "none"


def test_it_tells_response_from_remission() -> None:
    response = change_status(16, 8)
    assert response.reliable == "improvement" and response.response and not response.remission
    assert response.label == "Response"
    remission = change_status(16, 4)
    assert remission.remission and remission.label == "Remission"
    assert change_status(16, 9).label == "Reliable improvement"  # 7 points down, not yet a 50% drop
