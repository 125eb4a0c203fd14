from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scoring.types import Conversation, LabeledWindow, Turn, Window
from tests.tiny_models import tiny_encoder

SAD = ["I feel hopeless and empty.", "I can't sleep and I'm exhausted.", "Nothing is fun anymore."]
FINE = ["I had a good day at work.", "Slept well and went for a run.", "Dinner with friends was lovely."]


def make_window(i: int, severity: float, *, n_turns: int = 6, end: datetime | None = None) -> Window:
    rng = random.Random(i)
    end = end or datetime(2026, 3, 1, tzinfo=UTC)
    turns = []
    for k in range(n_turns):
        if k % 2:
            turns.append(Turn("assistant", "Thanks for telling me. How is it today?", end - timedelta(minutes=n_turns - k)))
        else:
            pool = SAD if rng.random() < severity else FINE
            turns.append(Turn("user", rng.choice(pool), end - timedelta(minutes=n_turns - k)))
    return Window(id=f"w{i}", conversations=(Conversation(id=f"c{i}", turns=tuple(turns)),), end=end)


def make_examples(n: int = 24, *, groups: int = 8) -> list[LabeledWindow]:
    examples = []
    for i in range(n):
        severity = (i % 4) / 3
        items = tuple(float(round(severity * 3)) for _ in range(9))
        examples.append(
            LabeledWindow(window=make_window(i, severity), total=sum(items), items=items, group=f"p{i % groups}")
        )
    return examples


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real two-member artifact on a tiny encoder, trained in a second."""
    from training.finetune import TrainArgs, train_ensemble

    store = tmp_path_factory.mktemp("store")
    result = train_ensemble(make_examples(), TrainArgs(members=2, epochs=5, patience=5), store, backbone=tiny_encoder())
    return result.artifact_dir
