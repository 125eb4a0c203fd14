"""The one place that knows the PHQ-9 severity bands and clinical thresholds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Band:
    key: str
    label: str
    low: int
    high: int  # inclusive


BANDS: tuple[Band, ...] = (
    Band("minimal", "Minimal", 0, 4),
    Band("mild", "Mild", 5, 9),
    Band("moderate", "Moderate", 10, 14),
    Band("moderately_severe", "Moderately severe", 15, 19),
    Band("severe", "Severe", 20, 27),
)
BAND_KEYS = tuple(b.key for b in BANDS)
THRESHOLDS = (10, 15, 20)  # lines drawn on charts; 10 is the usual screening cut-off
RELIABLE_CHANGE = 6  # points (NHS Talking Therapies)
ITEM_SELF_HARM = 8  # zero-based index of item 9 (thoughts of being better off dead / self-harm)

ITEM_LABELS = (
    "Little interest or pleasure",
    "Feeling down, depressed or hopeless",
    "Sleep problems",
    "Tired or little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself",
    "Trouble concentrating",
    "Moving or speaking slowly / restless",
    "Thoughts of self-harm",
)


def band_for(total: float) -> Band:
    """Band of a (possibly fractional, model-inferred) total; rounds half up like a clinician would."""
    score = int(min(max(total, 0.0), 27.0) + 0.5)
    for band in BANDS:
        if band.low <= score <= band.high:
            return band
    raise AssertionError("unreachable: bands cover 0..27")


def band_by_key(key: str) -> Band:
    for band in BANDS:
        if band.key == key:
            return band
    raise KeyError(key)


# Item 9 is scored 0..3; a model-inferred value that rounds to 1 or more ("several days") needs a
# clinician's review, whatever the total.
SELF_HARM_FLAG = 0.5


# Measurement-based care (ARCHITECTURE "Clinical conventions"): reliable change 6 points, response a
# drop of at least 50% from baseline, remission below 5. Response and remission are only defined when
# the baseline is in the clinical range (>= 10), as in NHS Talking Therapies' "caseness".
RESPONSE_FRACTION = 0.5
REMISSION_BELOW = 5
CASENESS = 10


@dataclass(frozen=True)
class ChangeStatus:
    baseline: float
    latest: float
    change: float  # latest - baseline; positive is worse
    reliable: str  # "deterioration" | "improvement" | "none"
    response: bool | None  # None: baseline below caseness, not applicable
    remission: bool | None

    @property
    def label(self) -> str:
        if self.reliable == "deterioration":
            return "Reliable deterioration"
        if self.remission:
            return "Remission"
        if self.response:
            return "Response"
        if self.reliable == "improvement":
            return "Reliable improvement"
        return "No reliable change"


def change_status(baseline: float, latest: float) -> ChangeStatus:
    change = latest - baseline
    if change >= RELIABLE_CHANGE:
        reliable = "deterioration"
    elif change <= -RELIABLE_CHANGE:
        reliable = "improvement"
    else:
        reliable = "none"
    in_range = baseline >= CASENESS
    return ChangeStatus(
        baseline=baseline,
        latest=latest,
        change=change,
        reliable=reliable,
        response=latest <= baseline * RESPONSE_FRACTION if in_range else None,
        remission=latest < REMISSION_BELOW if in_range else None,
    )
