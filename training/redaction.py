"""Redaction of identifiers before any text leaves the building (e.g. to an external labelling model).

Pattern-based and deliberately greedy: a false positive costs a word of context, a false negative
leaks an identifier. Replaced with typed placeholders so the labeller still sees the sentence shape.
"""

from __future__ import annotations

import re

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("[EMAIL]", re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")),
    (
        "[URL]",
        re.compile(
            r"\b(?:https?://|www\.)[^\s,;)\]]+|\b[\w-]+\.(?:com|org|net|io|co\.uk|uk|de|fr)(?:/\S*)?\b", re.I
        ),
    ),
    ("[HANDLE]", re.compile(r"(?<!\w)@\w{2,}")),
    ("[PHONE]", re.compile(r"(?<!\w)\+?\d[\d\s().-]{7,}\d(?!\w)")),
    ("[POSTCODE]", re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b")),
    ("[ID]", re.compile(r"\b\d{5,}\b")),
    # Names: after an introduction or a title. Capitalised words alone are too common to remove.
    ("[NAME]", re.compile(r"\b(?:Dr|Mr|Mrs|Ms|Miss|Prof)\.? [A-Z][a-z]+(?: [A-Z][a-z]+)?")),
)

# Names after an introduction ("my name is Sam Lee", "call me Sam").
_INTRODUCTION = re.compile(
    r"\b((?:[Mm]y name is|[Cc]all me|I'm called|I am called|[Tt]his is) )[A-Z][a-z]+(?: [A-Z][a-z]+)?"
)


def redact(text: str, *, names: tuple[str, ...] = ()) -> str:
    """Text with e-mails, URLs, handles, phone numbers, postcodes, long numbers and names replaced.

    `names`: known names to remove wherever they appear (e.g. from the app's own records).
    """
    for placeholder, pattern in _PATTERNS:
        text = pattern.sub(placeholder, text)
    text = _INTRODUCTION.sub(lambda m: m.group(1) + "[NAME]", text)
    for name in names:
        if name.strip():
            text = re.sub(rf"\b{re.escape(name.strip())}\b", "[NAME]", text, flags=re.I)
    return text
