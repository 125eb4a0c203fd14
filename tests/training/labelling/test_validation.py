"""Claude's labels against questionnaires: the report on a hand-made example, the map of totals and
when it is kept, and the gate."""

from __future__ import annotations

import pytest

from scoring.types import Conversation, LabeledWindow, Turn, Window
from training.labelling.label import ClaudeLabel
from training.labelling.validation import ValidationPair, apply_total_map, fit_total_map, validation_report


def _label(items: list[float], usable: list[bool] | None = None) -> ClaudeLabel:
    return ClaudeLabel(tuple(items), ("",) * 9, 1.0, "m", 0, 0, tuple(usable or [True] * 9))


def test_the_report_on_a_hand_made_example() -> None:
    pairs = [
        # Claude total 9 vs self-report 6: +3; same band? 9 mild, 6 mild -> agree
        ValidationPair(_label([1] * 9), 6.0, (1, 1, 1, 1, 1, 1, 0, 0, 0), "p1"),
        # Claude 18 vs 12: +6; 18 moderately severe vs 12 moderate -> disagree
        ValidationPair(_label([2] * 9), 12.0, (2, 2, 2, 2, 2, 2, 0, 0, 0), "p2"),
        # Claude 0 vs 3: -3; minimal vs minimal -> agree
        ValidationPair(_label([0] * 9), 3.0, (1, 1, 1, 0, 0, 0, 0, 0, 0), "p3"),
        # too many items not assessable: no total, counted in the share
        ValidationPair(_label([1] * 9, [False] * 3 + [True] * 6), 9.0, None, "p4"),
    ]
    report = validation_report(pairs)
    assert report["pairs"] == 4 and report["with_total"] == 3
    assert report["mae"] == 4.0 and report["bias"] == 2.0
    assert report["band_agreement"] == round(2 / 3, 3)
    assert report["not_assessable_share"] == round(3 / 36, 3)
    assert report["pearson_r"] == pytest.approx(81 / (162 * 42) ** 0.5, abs=1e-3)  # 0.982
    item1 = report["items"][0]
    assert item1 == {"item": 1, "mae": round(1 / 3, 3), "bias": round(-1 / 3, 3)}
    assert report["items"][6]["bias"] == 1.0  # item 7: Claude 1, 2, 0 vs 0, 0, 0


def test_a_map_of_totals_is_kept_only_when_it_helps_other_patients() -> None:
    # Claude reads every window 6 points too high: the map learns it on half the patients.
    over = [
        ValidationPair(_label([(t + 6) / 9] * 9), float(t), None, f"p{t}-{k}")
        for t in range(0, 18, 2)
        for k in range(4)
    ]
    total_map, info = fit_total_map(over, min_pairs=10)
    assert total_map is not None and info["applied"]
    assert info["mae_held_out_after"] < info["mae_held_out_before"] == 6.0
    assert total_map(16.0) == pytest.approx(10.0, abs=1.0)
    # Right already: nothing to gain, nothing applied.
    right = [
        ValidationPair(_label([t / 9] * 9), float(t), None, f"q{t}-{k}")
        for t in range(0, 18, 2)
        for k in range(4)
    ]
    assert fit_total_map(right, min_pairs=10)[0] is None
    assert fit_total_map(over[:5], min_pairs=10) == (
        None,
        {"applied": False, "why": "5 pairs, fewer than 10"},
    )


def test_a_mapped_pseudo_label_keeps_its_items_in_range() -> None:
    window = Window("w", (Conversation("c", (Turn("user", "x"),)),))
    example = LabeledWindow(window, 18.0, (2.0,) * 9, "p", source="pseudo:m")
    mapped = apply_total_map(example, lambda total: total - 6)
    assert mapped.total == pytest.approx(12.0) and mapped.items == pytest.approx((12 / 9,) * 9)
    up = apply_total_map(example, lambda total: 30.0)
    assert all(v <= 3 for v in up.items) and up.total == 27.0


def test_a_mapped_total_is_never_lost_to_clipping_nor_left_without_items() -> None:
    window = Window("w", (Conversation("c", (Turn("user", "x"),)),))
    # An isotonic map that turns 0 into 3: the items (all 0) share it, so items and total agree.
    zero = apply_total_map(LabeledWindow(window, 0.0, (0.0,) * 9, "p"), lambda total: 3.0)
    assert zero.total == pytest.approx(3.0) and sum(zero.items) == pytest.approx(3.0)
    # Scaling 3,3,1 to 12 would clip two items at 3 and lose 4.5 points: what they cannot hold goes on.
    skewed = (3.0, 3.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    mapped = apply_total_map(LabeledWindow(window, 7.0, skewed, "p"), lambda total: 12.0)
    assert mapped.total == pytest.approx(12.0) and sum(mapped.items) == pytest.approx(12.0)
    assert all(0 <= v <= 3 for v in mapped.items) and mapped.items[2] == pytest.approx(3.0)


def test_the_validation_sample_spreads_over_patients() -> None:
    from training.labelling.validation import _spread_over_patients

    window = Window("w", (Conversation("c", (Turn("user", "x"),)),))
    examples = [LabeledWindow(window, 5.0, None, f"p{p}") for p in range(10) for _ in range(8)]
    sample = _spread_over_patients(examples, 20)
    assert len(sample) == 20 and len({e.patient for e in sample}) == 10  # not p0's 8 and p1's 8 ...


class _BiasedLabeller:
    """Rates every window `bias` points above its self-report (known through the window id)."""

    def __init__(self, truth: dict[str, float], bias: float) -> None:
        self.truth, self.bias = truth, bias

    def label(self, requests: list) -> object:
        from training.labelling.claude import LabelingReport

        return LabelingReport(
            labels={r.window.id: _label([(self.truth[r.window.id] + self.bias) / 9] * 9) for r in requests}
        )


def test_the_trust_gate_reads_the_mae_of_the_labels_used() -> None:
    """A labeller 8 points high, raw MAE 8 (above the 6 allowed), whose map of totals brings it near 0:
    the mapped labels are the ones used, so their MAE decides, and they are used."""
    from training.args import LoopConfig
    from training.labelling.validation import validate_labeller

    examples = []
    for p in range(40):
        total = float(p % 15)
        window = Window(f"w{p}", (Conversation("c", (Turn("user", "x"),)),))
        examples.append(
            LabeledWindow(window, total, (total / 9,) * 9, f"p{p}", meta={"consent_external": True})
        )
    labeller = _BiasedLabeller({e.window.id: e.total for e in examples}, bias=8.0)
    check, total_map, trusted, _ = validate_labeller(labeller, examples, LoopConfig(), say=lambda line: None)  # type: ignore[arg-type]
    assert check["mae"] == pytest.approx(8.0) and total_map is not None
    assert check["mae_of_labels_used"] < 1.0 and trusted and check["used"]


def test_without_a_consented_questionnaire_window_the_labels_are_used_and_said_to_be_unvalidated() -> None:
    from training.args import LoopConfig
    from training.labelling.validation import validate_labeller

    window = Window("w0", (Conversation("c", (Turn("user", "x"),)),))
    examples = [LabeledWindow(window, 5.0, (5 / 9,) * 9, "p0", meta={"consent_external": False})]
    lines: list[str] = []
    labeller = _BiasedLabeller({"w0": 5.0}, bias=0.0)
    check, total_map, trusted, _ = validate_labeller(labeller, examples, LoopConfig(), say=lines.append)  # type: ignore[arg-type]
    assert trusted and total_map is None
    assert check["validated"] is False and check["pairs"] == 0 and check["used"]
    assert "NOT validated" in lines[0] and "used unvalidated" in lines[0]
