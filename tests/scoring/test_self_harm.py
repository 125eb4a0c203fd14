"""The self-harm detector: every trap kind has wordings that must not fire and wordings that must."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from scoring.self_harm import (
    DETECTOR_VERSION,
    Detection,
    SelfHarmDetector,
    SentenceEncoder,
    aggregate,
    load_config,
)
from scoring.types import Conversation, Turn, Window

MUST_FIRE = {
    "negation_inside_the_wish": [
        "More often than not I wish I could just not wake up.",
        "Thoughts of not wanting to be alive are with me most of the day.",
        "Honestly the world would be fine without me.",
    ],
    "ambivalent": [
        "I want to die but I also want to live.",
        "I'm safe right now, but I keep thinking about killing myself.",
    ],
    "explicit": [
        "I keep having thoughts of hurting myself.",
        "I want to kill myself.",
        "Honestly I've been feeling suicidal since Sunday.",
        "I cut myself last night.",
        "I've been planning how I would end my life.",
        "I've been hoarding my meds for when I finally do it.",
        "Been having suicidal thoughts again.",
    ],
    "passive": [
        "I think about not being here every single day.",
        "Everyone would be better off without me.",
        "I wish I could go to sleep and not wake up.",
        "What's the point of going on",
        "I'm so tired of living like this.",
        "Honestly I don't want to be here anymore.",
        "Nobody would even notice if I was gone.",
        "Death feels like the only escape.",
        "It would all be over if I just died.",
    ],
    "plan_or_means": [
        "I've been researching how much of my medication would be lethal.",
        "I've been looking up methods online.",
    ],
    "self_harm_act": [
        "I took a blade to my wrist yesterday.",
        "I hit my head against the wall on purpose.",
    ],
    "negation_then_risk": [
        "I'm not going to do anything but I think about dying every day.",
        "No, I wouldn't act on it, but I wish I was dead most days.",
        "I can't stop thinking about killing myself.",
        "I'm safe tonight, but I keep wishing I was dead.",
    ],
    "other_then_self": [
        "My mum tried once and now I'm thinking about it too.",
        "My friend self-harms and honestly I want to hurt myself as well.",
        "My cousin overdosed last year and lately I've been considering doing the same.",
    ],
    "past_reopened": [
        "I'd stopped for years but cut again this week.",
        "I was clean for two years but I relapsed and started cutting again.",
        "I used to self-harm in school and this week I did it again.",
    ],
    "question_own": [
        "Is it bad that I think about killing myself every night?",
        "Why do I keep wanting to die?",
        "Why should I keep living?",
    ],
    "serious_despite_laughter": [
        "lol I'm not joking, I want to kill myself.",
    ],
}

MUST_NOT_FIRE = {
    "protective": [
        "I want to live.",
        "I have too much to live for, even on bad days.",
        "I'm safe, it's just been a hard week at work.",
    ],
    "negation": [
        "I'm not suicidal, just exhausted.",
        "I would never hurt myself.",
        "I don't want to die, I want things to get better.",
        "No thoughts of self-harm at all.",
        "Suicide has never crossed my mind.",
        "I have never wanted to end my life.",
    ],
    "other_person": [
        "My friend told me she wants to kill herself and I don't know how to help.",
        "My brother has been cutting himself.",
        "Someone in my class attempted suicide last year.",
        "My dad keeps saying everyone would be better off without him.",
        "She told me she wished she was dead.",
    ],
    "idiom": [
        "This commute is killing me.",
        "I'm dead tired after that shift.",
        "Ugh, kill me now lol.",
        "I'm dying to see the new season.",
        "My phone died halfway through the call.",
        "I nearly died of embarrassment in the meeting.",
        "This meeting is so boring I want to die lol.",
        "I'd rather die than sing karaoke.",
        "I'll kill my brother if he reads my diary.",
    ],
    "fiction_game": [
        "I died so many times on that boss.",
        "In the book the main character kills himself at the end.",
        "We watched Suicide Squad last night.",
        "My character keeps dying on the last level of the game.",
        "The song is about a girl who wants to die.",
    ],
    "past_over": [
        "Years ago I used to cut myself, but I've been clean for 5 years.",
        "When I was a teenager I attempted suicide, but that is behind me now.",
        "I haven't self-harmed in years and I'm proud of that.",
        "I self-harmed for years. I stopped in 2015 and I'm doing great.",
        "It's been a decade since I last hurt myself.",
    ],
    "question_topic": [
        "What are the warning signs of suicide?",
        "How do you help someone who is suicidal?",
        "What is the suicide rate among men?",
    ],
    "topic_talk": [
        "I'm writing an essay on suicide prevention for my psychology course.",
        "We had suicide awareness training at work today.",
        "The documentary about self-harm was really well made.",
        "I'm a nurse and we admitted two overdoses on my shift.",
    ],
    "hypothetical": [
        "If I ever felt suicidal I would call my therapist straight away.",
        "In case I ever feel like hurting myself, I have a crisis number.",
    ],
    "everyday_low_mood": [
        "I feel empty and exhausted all the time.",
        "I cut my hair and my hours got cut too.",
        "My grandmother died last month and I miss her.",
        "I have a plan for the weekend.",
    ],
}


# Traps the shipped detector (self-harm-1.6) still fires on, just over its threshold: the price of its recall.
# Strict: a detector that stops firing on one makes the test fail, so this list stays true.
KNOWN_FALSE_ALARMS: set[str] = set()
# Wordings it still misses (its sentence model reads them as harmless). Strict, as above.
KNOWN_MISSES = {
    "Death feels like the only escape.",
}


@pytest.fixture(scope="module")
def detector() -> SelfHarmDetector:
    return SelfHarmDetector.default()


def window(*turns: Turn, conversation_id: str = "c1") -> Window:
    return Window.of("w1", (Conversation(id=conversation_id, turns=turns),))


@pytest.mark.parametrize(
    "kind,text",
    [
        pytest.param(
            k,
            t,
            marks=pytest.mark.xfail(strict=True, reason="known miss of 1.6") if t in KNOWN_MISSES else (),
        )
        for k, texts in MUST_FIRE.items()
        for t in texts
    ],
)
def test_it_fires_on_own_current_thoughts(detector: SelfHarmDetector, kind: str, text: str) -> None:
    assert detector.score_texts([text])[0] >= detector.threshold, (kind, text)


@pytest.mark.parametrize(
    "kind,text",
    [
        pytest.param(
            k,
            t,
            marks=pytest.mark.xfail(strict=True, reason="known false alarm of 1.6")
            if t in KNOWN_FALSE_ALARMS
            else (),
        )
        for k, texts in MUST_NOT_FIRE.items()
        for t in texts
    ],
)
def test_it_does_not_fire_on_traps(detector: SelfHarmDetector, kind: str, text: str) -> None:
    assert detector.score_texts([text])[0] < detector.threshold, (kind, text)


def test_it_gives_zero_to_text_without_risk_words(detector: SelfHarmDetector) -> None:
    assert detector.score_texts(["I had pasta for lunch.", ""]) == [0.0, 0.0]


def test_it_points_at_the_sentence_turn_and_span(detector: SelfHarmDetector) -> None:
    day = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    text = "Work was fine. I keep having thoughts of hurting myself."
    result = detector.detect(
        window(
            Turn("user", "Hello there.", day),
            Turn("assistant", "How are you?", day),
            Turn("user", text, day),
            conversation_id="session-7",
        )
    )
    assert isinstance(result, Detection) and result.fired and result.version == DETECTOR_VERSION
    (evidence,) = result.evidence
    assert (evidence.conversation_id, evidence.turn, evidence.sent_at) == ("session-7", 2, day)
    assert text[evidence.start : evidence.end] == evidence.text == "I keep having thoughts of hurting myself."
    assert evidence.score == result.score and evidence.cue


def test_it_reads_a_yes_to_the_assistants_question_about_risk(detector: SelfHarmDetector) -> None:
    asked = Turn("assistant", "Thank you for telling me. Have you had thoughts of ending your life?")
    yes = detector.detect(window(Turn("user", "Everything is grey."), asked, Turn("user", "Yes, most days.")))
    no = detector.detect(window(Turn("user", "Everything is grey."), asked, Turn("user", "No, never.")))
    assert yes.fired and [e.turn for e in yes.evidence] == [2] and not no.fired


def test_it_reads_a_reference_back_to_the_patients_previous_sentence(detector: SelfHarmDetector) -> None:
    turns = (
        Turn("user", "My sister tried to kill herself in May."),
        Turn("user", "Now I'm considering it too."),
    )
    result = detector.detect(window(*turns))
    assert result.fired and [(e.turn, e.text) for e in result.evidence] == [
        (1, "Now I'm considering it too.")
    ]


def test_it_reads_a_plan_after_a_risk_mention_and_not_alone(detector: SelfHarmDetector) -> None:
    after = detector.detect(
        window(Turn("user", "I keep thinking about suicide."), Turn("user", "I've picked a date."))
    )
    alone = detector.detect(
        window(Turn("user", "I went to the dentist."), Turn("user", "I've picked a date."))
    )
    assert [e.turn for e in after.evidence] == [1, 0] and not alone.fired


def test_it_ignores_assistant_turns(detector: SelfHarmDetector) -> None:
    result = detector.detect(
        window(Turn("assistant", "Have you had thoughts of killing yourself? Do you want to die?"))
    )
    assert result == Detection(score=0.0, fired=False, evidence=(), version=DETECTOR_VERSION)


def test_it_lists_evidence_most_recent_first_and_at_most_five(detector: SelfHarmDetector) -> None:
    turns = tuple(
        Turn("user", f"I want to die, day {d}.", datetime(2026, 3, d, tzinfo=UTC)) for d in range(1, 8)
    )
    result = detector.detect(window(*turns))
    assert [e.turn for e in result.evidence] == [6, 5, 4, 3, 2]


def test_the_packaged_weights_are_this_version_and_load_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    assert load_config()["version"] == DETECTOR_VERSION
    assert SelfHarmDetector.default() is SelfHarmDetector.default()
    assert SelfHarmDetector.default().score_texts(["I want to kill myself"])[0] > 0.9


def test_a_text_score_aggregates_its_sentence_scores_as_configured() -> None:
    assert aggregate([], {"method": "noisy_or", "k": 3}) == 0.0
    assert aggregate([0.2, 0.6, 0.1], {"method": "max"}) == 0.6
    assert abs(aggregate([0.5, 0.5, 0.5, 0.9], {"method": "noisy_or", "k": 2}) - (1 - 0.1 * 0.5)) < 1e-9


def test_a_wide_net_word_alone_does_not_make_a_plan_a_reference_back(detector: SelfHarmDetector) -> None:
    # "a plan" / "a date" select a sentence for the sentence model; they are not a risk mention by themselves,
    # so "I'll do it." after them is no reference back (whether the sentence model fires on "a plan" is
    # KNOWN_FALSE_ALARMS' business)
    result = detector.detect(
        window(Turn("user", "I have a plan for the weekend."), Turn("user", "I'll do it."))
    )
    assert all(e.text != "I'll do it." for e in result.evidence)
    assert detector.score_sentences([("I'll do it.", "I have a plan for the weekend.", "")])[0].score == 0.0


def test_the_filter_bag_is_the_mean_and_max_of_the_input_word_vectors() -> None:
    import numpy as np

    from scoring.backbone import DEFAULT_BACKBONE

    encoder = SentenceEncoder(DEFAULT_BACKBONE)
    sentences = ["I want it all to stop.", "", "ok then"]
    bags = np.asarray(encoder.bag(sentences))
    backbone = encoder._loaded()
    table = backbone.module.get_input_embeddings().weight.detach().numpy()
    for i, sentence in enumerate(sentences):
        ids = backbone.tokenizer(sentence, add_special_tokens=False)["input_ids"]
        if not ids:
            assert not bags[i].any()
            continue
        mean, top = table[ids].mean(axis=0), table[ids].max(axis=0)
        expected = np.concatenate([mean / np.linalg.norm(mean), top / np.linalg.norm(top)])
        assert np.allclose(bags[i], expected, atol=1e-5)


def test_a_sentence_without_any_expression_is_read_when_the_filter_passes_it(
    detector: SelfHarmDetector,
) -> None:
    sentence = "I want my heart to stop."
    assert detector.best_hit(sentence) is None
    assert detector.filter_logits([sentence])[0] >= detector.filter_threshold
    assert "sentence model" in detector.score_sentences([(sentence, "", "")])[0].cue


def test_the_packaged_detector_encodes_at_the_precision_it_was_trained_at(detector: SelfHarmDetector) -> None:
    assert detector.encoder is not None
    assert detector.encoder.precision == load_config()["head"].get("precision", "fp32")
    with pytest.raises(ValueError, match="precision"):
        SentenceEncoder("package:any", precision="fp16")


QUESTIONS = (
    "Over the past two weeks, have you had thoughts that you would be better off dead, or of hurting "
    "yourself?",
    # the question need not be the app's last sentence, nor use the questionnaire's words
    "Can I ask you something important? Have you had thoughts of taking your own life? You can be honest.",
    "Some people who feel this low wish they could go to sleep and not wake up. Has that happened to you?",
)


def _written_replies() -> list[tuple[int, str]]:
    path = Path(__file__).parents[1] / "fixtures" / "self_harm_answers.tsv"
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line[:1] in "01"]
    return [(int(label), text) for label, _, text in rows]


@pytest.mark.parametrize("question", QUESTIONS)
def test_it_reads_written_replies_to_the_apps_question_as_yes_or_no(
    detector: SelfHarmDetector, question: str
) -> None:
    """Replies a team member wrote (tests/fixtures/self_harm_answers.tsv): each yes fires, no no does."""
    wrong = []
    for label, reply in _written_replies():
        result = detector.detect(
            window(Turn("user", "I've been really low."), Turn("assistant", question), Turn("user", reply))
        )
        if result.fired != bool(label):
            wrong.append((label, reply))
    assert wrong == []


def test_a_yes_answers_only_a_question_about_the_patients_own_risk(detector: SelfHarmDetector) -> None:
    other = Turn("assistant", "Did you manage to sleep a bit better this week?")
    assert not detector.detect(window(Turn("user", "Hmm."), other, Turn("user", "Yes, most nights."))).fired
    asked = Turn("assistant", "Have you had thoughts of hurting yourself? It's okay to say.")
    denied = detector.detect(window(asked, Turn("user", "No. I have too much to live for.")))
    assert not denied.fired
