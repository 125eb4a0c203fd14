"""Splits by patient: development and held-out test patients, training and validation, early stopping
and calibration."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.conftest import make_examples, make_window
from training.splits import split_by_group


def test_it_splits_by_patient_never_by_window() -> None:
    examples = make_examples(40, groups=10)
    train, val = split_by_group(examples, val_fraction=0.2, seed=1)
    assert {examples[i].group for i in train}.isdisjoint({examples[i].group for i in val})
    assert len({examples[i].group for i in val}) == 2 and len(train) + len(val) == 40


def test_it_keeps_each_patient_on_the_same_side_as_data_grows() -> None:
    from training.splits import held_out_test_split

    small = make_examples(40, groups=20)
    big = make_examples(120, groups=60)
    _, test_small = held_out_test_split(small, fraction=0.2)
    _, test_big = held_out_test_split(big, fraction=0.2)
    small_test = {small[i].group for i in test_small}
    big_test = {big[i].group for i in test_big}
    assert small_test and small_test == {g for g in big_test if g in {e.group for e in small}}
    assert 0.05 < len(big_test) / 60 < 0.4
    dev, test = held_out_test_split(make_examples(6, groups=3), fraction=0.01)
    assert len({make_examples(6, groups=3)[i].group for i in test}) == 1 and len(dev) == 4


def test_it_always_keeps_two_patients_for_development() -> None:
    """Whatever the ids hash to (a test once failed when three of four patients hashed to the test side)."""
    from training.splits import held_out_test_split

    for offset in range(40):
        examples = make_examples(8, groups=4)
        for e in examples:
            object.__setattr__(e, "group", f"patient-{offset}-{e.group}")
        dev, test = held_out_test_split(examples, fraction=0.9)
        assert len({examples[i].group for i in dev}) == 2 and len({examples[i].group for i in test}) == 2


def test_a_time_ordered_split_tests_the_patients_who_started_last() -> None:
    from datetime import UTC, datetime, timedelta

    from scoring.types import LabeledWindow
    from training.splits import held_out_test_split, split_kind

    start = datetime(2026, 1, 1, tzinfo=UTC)
    examples = []
    for p in range(10):  # patient p starts on day 10 * p and has three windows a week apart
        for w in range(3):
            end = start + timedelta(days=10 * p + 7 * w)
            examples.append(
                LabeledWindow(window=make_window(100 * p + w, 0.5, end=end), total=9.0, group=f"p{p}")
            )
    assert split_kind(examples, "auto") == "time"
    dev, test = held_out_test_split(examples, fraction=0.2, kind="time")
    assert {examples[i].group for i in test} == {"p8", "p9"}
    assert not {examples[i].group for i in dev} & {"p8", "p9"}
    # the time cut: p8's first window ends on day 80, so p7's window of day 84 is left out of development
    assert len(dev) == 23 and "w702" not in {examples[i].window.id for i in dev}
    # undated windows fall back to the patient hash; asking for time on them is a clear error
    undated = [
        LabeledWindow(window=replace(e.window, end=None), total=e.total, group=e.group) for e in examples
    ]
    assert split_kind(undated, "auto") == "patient"
    with pytest.raises(ValueError, match="needs a date on every window"):
        split_kind(undated, "time")


def test_a_time_split_is_a_real_time_cut() -> None:
    """Development windows all end before the first test window begins, whoever they belong to: a
    patient who started early but wrote on after the test patients began is cut at that date."""
    from datetime import UTC, datetime, timedelta

    from scoring.types import LabeledWindow
    from training.splits import held_out_test_split, time_cut

    start = datetime(2026, 1, 1, tzinfo=UTC)
    examples = []
    for p in range(10):  # patient p starts on day 5 * p; windows every 30 days until day 200
        for w, day in enumerate(range(5 * p, 200, 30)):
            window = replace(make_window(100 * p + w, 0.5), start=None, end=start + timedelta(days=day))
            examples.append(LabeledWindow(window=window, total=9.0, group=f"p{p}"))
    dev, test = held_out_test_split(examples, fraction=0.2, kind="time")
    test_windows = [examples[i] for i in test]
    cut = time_cut(test_windows)
    assert cut == start + timedelta(days=40)  # p8's first window
    # (undated starts: a window is the moment it ends; the window of day 40 itself is no later than p8's)
    assert dev and max(examples[i].window.end for i in dev) <= cut  # type: ignore[type-var]
    assert not [i for i in dev if examples[i].window.end > cut]  # type: ignore[operator]
    assert len(dev) < len(examples) - len(test)  # later windows of development patients were left out
    # by patient hash there is no cut: every development patient's window stays
    dev_hash, test_hash = held_out_test_split(examples, fraction=0.2, kind="patient")
    assert len(dev_hash) + len(test_hash) == len(examples)


def test_a_patient_split_rotates_its_test_patients_and_draws_fresh_ones_first() -> None:
    """Undated data: the run's number rotates the held-out patients, so the same patients do not decide
    every run; patients the active version trained on or was selected on are drawn last."""
    from training.splits import held_out_test_split

    examples = make_examples(100, groups=50)
    patients = {e.group for e in examples}

    def tested(**holdout: object) -> set[str]:
        _, test = held_out_test_split(examples, fraction=0.2, kind="patient", **holdout)  # type: ignore[arg-type]
        return {examples[i].group for i in test}

    runs = [tested(rotation=r) for r in range(1, 6)]
    assert all(len(t) == 10 for t in runs)
    assert tested(rotation=3) == runs[2]  # the same run draws the same patients
    assert len({frozenset(t) for t in runs}) == 5 and len(set().union(*runs)) > 25  # they rotate
    seen = frozenset(sorted(patients)[:42])  # the active version trained on or was tested on 42 of 50
    fresh = tested(rotation=2, seen=seen)
    assert fresh >= patients - seen and len(fresh) == 10  # all 8 unseen, then 2 seen ones by hash
    few_seen = frozenset(sorted(patients)[:5])
    assert tested(rotation=2, seen=few_seen).isdisjoint(few_seen)
