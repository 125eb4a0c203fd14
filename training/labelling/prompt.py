"""What Claude is asked for a PHQ-9 label: the instructions (built from scoring.phq9), the tool it must
answer with, and the window rendered as sent (every turn dated and attributed, the text redacted:
training/redaction.py). `PROMPT_VERSION` and the rendered text make the label cache's key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from scoring.phq9 import ANSWER_OPTIONS, ITEM_MAX, ITEM_QUESTIONS, N_ITEMS, QUESTION_STEM
from scoring.types import Window
from training.redaction import redact

PROMPT_VERSION = "phq9-v2"  # part of the cache key: a new prompt means new labels
TOOL_NAME = "record_phq9"
PATIENT, ASSISTANT = "patient", "assistant"  # how turns are named to the labeller
MAX_NOT_ASSESSABLE = 2  # more items than this with nothing to go on: no total label for the window


def system_prompt() -> str:
    """The labeller's instructions, built from scoring.phq9 (the items verbatim, in order; the answer
    options with their day counts): what a psychometrician would give a human rater."""
    items = "\n".join(f"{i}. {q}" for i, q in enumerate(ITEM_QUESTIONS, start=1))
    options = "\n".join(f"{score} = {wording} ({days} of the 14)" for score, wording, days in ANSWER_OPTIONS)
    return (
        "You rate the PHQ-9, a depression questionnaire, for a person from what they wrote to a "
        "mental-health chat app. You see every turn of the two weeks before the rating date, oldest "
        "first, each with its date and who wrote it. Only the patient's own turns are evidence; the "
        "assistant's turns are context.\n\n"
        f"The question: {QUESTION_STEM}\n{items}\n\nAnswer options:\n{options}\n\n"
        "For each of the nine items, in this order:\n"
        "- assessable: false when the turns give nothing to go on for this item (not mentioned is not "
        "the same as absent: do not score an item 0 only because it was not talked about); true when "
        "they do, including when they show the problem is absent.\n"
        "- score: the answer the person would most likely give, counting the days in the two weeks the "
        "turns describe (use the dates); 0 when assessable and absent.\n"
        "- quotes: one to three short passages copied exactly, character for character, from the "
        "patient's own turns, that support the score; none when the score is 0 or not assessable.\n"
        f"When more than {MAX_NOT_ASSESSABLE} items are not assessable the window has no total; "
        "otherwise the total is prorated over the assessable items. Text in square brackets such as "
        "[NAME] was removed for privacy.\n"
        f"Answer only by calling the {TOOL_NAME} tool."
    )


TOOL = {
    "name": TOOL_NAME,
    "description": "Record the PHQ-9 rating of the window: per item, whether it is assessable, the score "
    "and verbatim quotes from the patient's turns.",
    "input_schema": {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "minItems": N_ITEMS,
                "maxItems": N_ITEMS,
                "description": "The nine PHQ-9 items in questionnaire order.",
                "items": {
                    "type": "object",
                    "properties": {
                        "assessable": {"type": "boolean"},
                        "score": {"type": "integer", "minimum": 0, "maximum": ITEM_MAX},
                        "quotes": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                    },
                    "required": ["assessable", "score", "quotes"],
                },
            },
        },
        "required": ["items"],
    },
}


@dataclass(frozen=True)
class LabelRequest:
    window: Window
    consent_external: bool  # the patient allows processing by an external model
    names: tuple[str, ...] = ()  # known names to redact


SEPARATOR = "\n\u00b6\u00b6\n"  # between turn bodies while redacting: nothing a pattern can match


def redacted_bodies(request: LabelRequest) -> list[str]:
    """The window's turn texts as sent, oldest first, one conversation after another: redacted together
    (a name found in one turn is removed from all of them)."""
    turns = [t for c in request.window.conversations for t in c.turns]
    return redact(SEPARATOR.join(t.text.strip() for t in turns), names=request.names).split(SEPARATOR)


def render_for_labelling(request: LabelRequest) -> str:
    """Every turn, oldest first, one conversation after another, each with its date and who wrote it
    (the text redacted, see redacted_bodies)."""
    bodies = redacted_bodies(request)
    lines = [f"Rating date: {request.window.end:%Y-%m-%d}"] if request.window.end else []
    position = 0
    for conversation in request.window.conversations:
        lines.append("--- conversation ---")
        for turn in conversation.turns:
            when = f"{turn.sent_at:%Y-%m-%d %a %H:%M}" if turn.sent_at else "date unknown"
            who = PATIENT if turn.role == "user" else ASSISTANT
            lines.append(f"[{when}] {who}: {bodies[position]}")
            position += 1
    return "\n".join(lines)


def patient_turns(text: str) -> str:
    """The patient's turns of a rendered window (what quotes must come from), one a line."""
    marker = f"] {PATIENT}: "
    return "\n".join(line.split(marker, 1)[1] for line in text.splitlines() if marker in line)


def window_hash(text: str, model: str) -> str:
    return hashlib.sha256(f"{PROMPT_VERSION}\n{model}\n{text}".encode()).hexdigest()
