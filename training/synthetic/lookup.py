"""The template lookup: a score for a window with no training at all, by finding the generator's own
symptom sentences (training/synthetic/phrases.py, both paraphrase families) in the patient's turns.

The demo prints it beside the starter model on the same test patients. Where the lookup does as well as
the model, the demo's figures measure how well the model has learnt the phrase bank, not depression:
the circularity that remains in any synthetic clinic, made visible.
"""

from __future__ import annotations

import re
from functools import cache

from scoring.phq9 import N_ITEMS
from scoring.types import Window
from training.synthetic.phrases import POSITIVE, SYMPTOMS


def _pattern(template: str) -> re.Pattern[str]:
    """A template's literal words, each {slot} standing for a run of words inside one sentence."""
    parts = re.split(r"\{\w+\}", template)
    return re.compile("[^.!?]+?".join(re.escape(p) for p in parts), re.IGNORECASE)


@cache
def _bank() -> tuple[tuple[re.Pattern[str], int, int], ...]:
    """(pattern, item index 0..8, intensity 0..3) for every template of the generator."""
    rows = [
        (_pattern(t), item - 1, intensity)
        for item, directions in SYMPTOMS.items()
        for by_intensity in directions.values()
        for intensity, templates in by_intensity.items()
        for t in templates
    ]
    rows += [(_pattern(t), item - 1, 0) for item, templates in POSITIVE.items() for t in templates]
    return tuple(rows)


def template_lookup_items(window: Window) -> tuple[float, ...]:
    """Per item, the mean intensity of the templates found in the patient's turns (0 when none)."""
    found: list[list[int]] = [[] for _ in range(N_ITEMS)]
    for conversation in window.conversations:
        for turn in conversation.turns:
            if turn.role != "user":
                continue
            for pattern, item, intensity in _bank():
                if pattern.search(turn.text):
                    found[item].append(intensity)
    return tuple(sum(v) / len(v) if v else 0.0 for v in found)
