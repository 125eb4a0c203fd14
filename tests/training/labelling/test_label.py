"""Reading Claude's answer: quotes checked against the patient's own turns."""

from __future__ import annotations


def test_quotes_not_in_the_patients_turns_make_that_item_invalid() -> None:
    from types import SimpleNamespace

    from training.labelling.label import parse_label

    def message(quotes: list[str]) -> SimpleNamespace:
        items = [{"assessable": True, "score": 2, "quotes": quotes}] + [
            {"assessable": True, "score": 0, "quotes": []}
        ] * 8
        block = SimpleNamespace(type="tool_use", name="record_phq9", input={"items": items})
        return SimpleNamespace(content=[block], usage=None)

    patient = "I have no interest in anything\nI feel awful"
    good = parse_label(message(["no interest in  anything"]), "m", patient_text=patient)
    assert good.usable[0] and good.items[0] == 2 and good.invalid_quotes == 0
    invented = parse_label(message(["I stopped going to the gym"]), "m", patient_text=patient)
    assert not invented.usable[0] and invented.invalid_quotes == 1
    unquoted = parse_label(message([]), "m", patient_text=patient)  # a score above 0 needs evidence
    assert not unquoted.usable[0]
    # From the assistant's turns only: not the patient's words.
    assert not parse_label(message(["That sounds hard"]), "m", patient_text=patient).usable[0]
