"""What of a message's text is kept: the visible text, never invisible or direction-changing marks.

Zero-width spaces, byte-order marks, bidi overrides (U+202E shows text reversed in the evidence
panel) and control characters carry no meaning for a clinician or the model; they are removed. A
message with nothing visible left (only such marks and spaces) is refused: it is not patient text.
Joiners (ZWJ, ZWNJ) stay, since some scripts and emoji need them, but count as invisible.
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = re.compile(
    "["
    "\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"  # control characters but tab, newline, CR
    "\u00ad\u061c\u115f\u1160\u17b4\u17b5\u180e"  # soft hyphen, Arabic letter mark, fillers, Mongolian vs
    "\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"  # zero width, bidi marks and overrides
    "\u2800\u3164\uffa0\ufeff\ufff9-\ufffb"  # blank Braille, Hangul fillers, byte-order mark, annotation
    "\U0001d173-\U0001d17a"  # musical formatting marks
    "]"
)


def visible_text(text: str) -> str:
    """`text` without invisible and bidi-control characters."""
    return _INVISIBLE.sub("", text)


def has_visible_characters(text: str) -> bool:
    """Whether any letter, digit, punctuation mark or symbol is left."""
    return any(unicodedata.category(ch)[0] in "LNPS" for ch in text)


def clinician_text(text: str, *, max_chars: int, name: str = "note") -> str:
    """A clinician's note as stored: visible text, trimmed; ValueError saying why when it is refused
    (a NUL cannot be stored by PostgreSQL; a huge note is a mistake or an attack)."""
    if "\x00" in text:
        raise ValueError(f"{name}: contains a NUL character")
    text = visible_text(text).strip()
    if len(text) > max_chars:
        raise ValueError(f"{name}: at most {max_chars} characters")
    return text
