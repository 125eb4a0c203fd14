"""Cross-fitting: no window is re-labelled by a model that trained on it."""

from __future__ import annotations

from dataclasses import dataclass

from scoring.types import Conversation, LabeledWindow, Turn, Window
from training.labelling.crossfit import cross_fitted_items


@dataclass
class _Score:
    items: tuple[float, ...]


def _examples(n_patients: int, per_patient: int) -> list[LabeledWindow]:
    return [
        LabeledWindow(
            Window(f"p{p}-w{w}", (Conversation(f"c{p}{w}", (Turn("user", "x"),)),)),
            9.0,
            (1.0,) * 9,
            group=f"p{p}",
        )
        for p in range(n_patients)
        for w in range(per_patient)
    ]


def test_no_window_is_scored_by_a_model_trained_on_it() -> None:
    examples = _examples(7, 3)
    scored_by: dict[str, set[str]] = {}

    class Recorder:
        def __init__(self, trained_on: list[LabeledWindow]) -> None:
            self.trained_on = {e.window.id for e in trained_on}
            self.groups = {e.group for e in trained_on}

        def predict(self, windows: list[Window]) -> list[_Score]:
            for w in windows:
                scored_by[w.id] = self.trained_on
            return [_Score((float(len(self.groups)),) * 9) for _ in windows]

    items = cross_fitted_items(examples, folds=3, fit=Recorder)
    assert len(items) == len(examples) and set(scored_by) == {e.window.id for e in examples}
    assert all(window_id not in trained for window_id, trained in scored_by.items())
    # A patient's other windows are out of the model too (folds by patient, not by window).
    assert all(
        not any(t.startswith(w.split("-")[0] + "-") for t in trained) for w, trained in scored_by.items()
    )


def test_fewer_patients_than_folds_still_cross_fit() -> None:
    examples = _examples(2, 2)
    seen: list[set[str]] = []

    class Fit:
        def __init__(self, trained_on: list[LabeledWindow]) -> None:
            seen.append({e.group for e in trained_on})

        def predict(self, windows: list[Window]) -> list[_Score]:
            return [_Score((0.0,) * 9) for _ in windows]

    cross_fitted_items(examples, folds=5, fit=Fit)
    assert all(len(groups) <= 1 for groups in seen)
