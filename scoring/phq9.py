"""Everything about the PHQ-9, once: items and their wording, answer options, the scale, severity
bands, clinical thresholds, reliable change, and the LOINC codes an EHR charts them by.

Nothing else in the project writes these numbers or words down; templates reach them through the
filters in monitor_site/dashboards/templatetags/dashboard_tags.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class Band:
    key: str
    label: str
    low: int
    high: int  # inclusive


N_ITEMS = 9
ITEM_MAX = 3  # each item is scored 0..3
TOTAL_MAX = N_ITEMS * ITEM_MAX  # 27
WINDOW_DAYS = 14  # "over the last 2 weeks"

# The question and its nine items, verbatim, in questionnaire order.
QUESTION_STEM = "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
ITEM_QUESTIONS = (
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself, or that you are a failure or have let yourself or your family down",
    "Trouble concentrating on things, such as reading the newspaper or watching television",
    "Moving or speaking so slowly that other people could have noticed, or the opposite, being so fidgety "
    "or restless that you have been moving around a lot more than usual",
    "Thoughts that you would be better off dead, or of hurting yourself in some way",
)
# The answer options: score -> wording, with the days of the last 14 each stands for.
ANSWER_OPTIONS = (
    (0, "Not at all", "0-1 days"),
    (1, "Several days", "2-6 days"),
    (2, "More than half the days", "7-11 days"),
    (3, "Nearly every day", "12-14 days"),
)

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

# LOINC: how an EHR charts a PHQ-9 questionnaire. Only questionnaire answers carry these codes: an EHR
# that charts by LOINC code would put a model estimate on the same line as the patient's answers, so model
# estimates are coded in the deployment's own code system (the web app's FHIR_MODEL_CODE_SYSTEM, a URL
# it controls), never with LOINC.
LOINC_SYSTEM = "http://loinc.org"
LOINC_PANEL = "44249-1"
LOINC_TOTAL = "44261-6"
LOINC_TOTAL_DISPLAY = "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"
MODEL_TOTAL_CODE = "phq9-total-estimate"
MODEL_TOTAL_DISPLAY = "PHQ-9 total estimated by a model from conversations (not a questionnaire answer)"


def model_item_code(index: int) -> str:
    """The code of item `index` (0..8) of a model estimate in the model code system."""
    return f"phq9-item-{index + 1}-estimate"


LOINC_ITEMS = (  # items 1..9 in questionnaire order (not numeric order)
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
)


def shown(value: float) -> float:
    """A model-inferred total or change as every page shows it: one decimal, half away from zero
    (14.45 -> 14.5, -5.45 -> -5.5), as Django's floatformat does. The rules below read this number, so a
    band, a line, a colour or a mark never disagrees with the number printed beside it."""
    return float(Decimal(repr(float(value))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def rounded_total(total: float) -> int:
    """The one rounding rule for a (possibly fractional, model-inferred) total: the number shown (one
    decimal), then half up, like a clinician would (14.5 counts as 15, and so does 14.46, shown 14.5).
    Bands, thresholds, alert rules and labels all use it."""
    return int(min(max(shown(total), 0.0), float(TOTAL_MAX)) + 0.5)


def reaches(score: float, line: float) -> bool:
    """Whether a total (or the size of a change in total) is at or above a whole-number line under the
    one rounding rule: shown 14.5 reaches 15 (14.45 does), shown 14.4 does not (14.44 does not)."""
    return math.floor(shown(score) + 0.5) >= line


def lowest_reaching(line: float) -> float:
    """The smallest score that reaches `line` under the one rounding rule (15 -> 14.45, shown 14.5):
    what a database filter compares against, so that a query and `reaches` never disagree."""
    return line - 0.55


def chart_line(line: float) -> float:
    """Where a chart draws the line `line`: where rounding starts to reach it (15 -> 14.45), so a point
    drawn above the line is a score that reaches it (and its band)."""
    return lowest_reaching(line)


def shown_range(band: Band) -> str:
    """A band's range in the numbers the pages show: "Moderate" is 9.5–14.4 (10–14 once rounded)."""
    low = f"{band.low - 0.5:.1f}" if band.low else "0"
    high = f"{band.high + 0.4:.1f}" if band.high < TOTAL_MAX else str(TOTAL_MAX)
    return f"{low}–{high}"


READING_NOTE = (
    "How to read these numbers: a model-inferred score is shown with one decimal and rounds half up to "
    "the whole number the PHQ-9 uses, so 14.5 counts as 15 (moderately severe) and 14.4 as 14 (moderate). "
    "Bands, alert lines, colours and the reliable-change mark (a change of 5.5 or more either way, "
    f"{RELIABLE_CHANGE} once rounded) all read the number shown. Questionnaire totals are whole numbers. "
    "The interval is where the true score likely lies."
)


def item_answer(value: float) -> str:
    """The questionnaire answer a (model-inferred) item score rounds to: 1.4 -> "Several days"."""
    score = int(min(max(value, 0.0), float(ITEM_MAX)) + 0.5)
    return ANSWER_OPTIONS[score][1]


def band_for(total: float) -> Band:
    """Band of a (possibly fractional, model-inferred) total, under the one rounding rule."""
    score = rounded_total(total)
    for band in BANDS:
        if band.low <= score <= band.high:
            return band
    raise AssertionError(f"unreachable: bands cover 0..{TOTAL_MAX}")


def band_by_key(key: str) -> Band:
    for band in BANDS:
        if band.key == key:
            return band
    raise KeyError(key)


# Item 9 is scored 0..3; a model-inferred value that rounds to 1 or more ("several days") needs a
# clinician's review, whatever the total.
SELF_HARM_FLAG = 0.5
# Half an answer step: a model-inferred item that moved less than this does not change the answer it
# rounds to (the evidence table marks a change of this size or more).
ITEM_CHANGE_STEP = 0.5

# How a score was obtained, in the words every page, export, API answer and FHIR `method` use: a
# predicted score is never a questionnaire answer.
METHOD_MODEL = "model-inferred"
METHOD_LLM = "llm-rated"  # cold start: Claude's rating of the redacted window (pages: "LLM-rated")
METHOD_SELF_REPORT = "self-report"


def reliable_change(change: float) -> str:
    """ "deterioration", "improvement" or "none" for a change in total (positive is worse): the size of
    the change as shown, the same rule both ways (+5.5 and -5.5 are both reliable; +5.4 and -5.4 not)."""
    if not reaches(abs(shown(change)), RELIABLE_CHANGE):
        return "none"
    return "deterioration" if change > 0 else "improvement"


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
    reliable = reliable_change(change)
    in_range = reaches(baseline, CASENESS)
    return ChangeStatus(
        baseline=baseline,
        latest=latest,
        change=change,
        reliable=reliable,
        response=latest <= baseline * RESPONSE_FRACTION if in_range else None,
        remission=rounded_total(latest) < REMISSION_BELOW if in_range else None,
    )
