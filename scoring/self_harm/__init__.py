"""The self-harm risk-language detector (PHQ-9 item 9), run beside the score on every window.

It reads the patient's turns sentence by sentence and scores each sentence 0..1 for a statement of the
patient's own current or recent thoughts of being better off dead, of death as a way out, of suicide or
of hurting themselves, or of self-harm acts. Two parts a reviewer can inspect, combined in one logistic
formula whose weights are in `scoring/data/self_harm_head.json` (numbers only; `training/self_harm.py`
writes them):

    z = strength[expression kind] + sum(cue weights of the expression's clause) + model_weight * head(e)
    sentence score = sigmoid(z)

- the lexicon (`expressions.py`, `cues.py` here): risk expressions ("strong", "passive", "topic" words,
  "anaphora") and cues (negated, other_person, past_over, hypothetical, topic_question, idiom,
  laughter, hyperbole, context, first_person, recent);
- the sentence model: logistic regression over the packaged MiniLM sentence embedding `e`
  (mean-pooled, L2-normalised), run only on the sentences the lexicon selects (any expression or topic
  word, unless its lexicon part alone is below `embed_floor`), so it costs a few short sentences per
  window, never a pass over every sentence.

A window's score is its highest sentence score; it fires at `threshold`. `score_texts` (a forum user's
posts, cssrs) may combine the highest few sentence scores instead (`aggregate`). Assistant turns are
never scored; the app's question about risk before a patient's reply is read so that a "yes" to it
counts (`cues.ANSWER_HIT`: such a reply is scored by the lexicon alone, since the sentence model reads
one sentence without its question). Where the lexicon finds a cue against risk (`cues.AGAINST_CUES`),
the sentence model's term is multiplied by `against_share`.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from scoring.self_harm.cues import (
    AGAINST_CUES,
    ANSWER_HIT,
    Hit,
    asked_about_risk,
    find_hits,
    normalise,
    split_sentences,
)
from scoring.types import Window

log = logging.getLogger(__name__)

DETECTOR_VERSION = "self-harm-1.6"
HEAD_FILE = "self_harm_head.json"
MAX_EVIDENCE = 5
MAX_SENTENCE_CHARS = 600  # a run-on "sentence" is cut for the sentence model
MAX_SENTENCE_TOKENS = 128
ENCODE_BATCH = 32


@dataclass(frozen=True)
class RiskSentence:
    conversation_id: str  # Conversation.id of the window's conversation (a session id in the web app)
    turn: int  # index of the turn in that conversation's turns (all roles counted)
    start: int  # character span of the sentence in that turn's text
    end: int
    text: str
    sent_at: datetime | None
    score: float  # 0..1
    cue: str  # the lexicon expression / reason that fired, for reviewers (never shown to patients)


@dataclass(frozen=True)
class Detection:
    score: float  # the window's score = max sentence score (0.0 when nothing matched)
    fired: bool  # score >= the detector's threshold
    evidence: tuple[RiskSentence, ...]  # the sentences at or above threshold, most recent first, at most 5
    version: str


@dataclass(frozen=True)
class _Scored:
    score: float
    cue: str


class SentenceEncoder:
    """The packaged MiniLM: `encode` gives one contextual vector per sentence (mean-pooled, L2-normalised);
    `bag` a cheap one without the transformer pass (the mean and the max of the sentence's input word
    vectors, each L2-normalised), for the filter that picks which sentences are worth encoding. Loaded on
    first use."""

    def __init__(self, backbone_id: str, *, precision: str = "fp32") -> None:
        from scoring.quantize import check_precision

        self.backbone_id = backbone_id
        self.precision = check_precision(precision)
        self._backbone: Any = None

    def _loaded(self) -> Any:
        from scoring.backbone import load_backbone
        from scoring.quantize import quantize_int8

        if self._backbone is None:
            self._backbone = load_backbone(self.backbone_id)
            self._backbone.module.eval()
            if self.precision == "int8":  # Linear layers only: the input word vectors of `bag` stay fp32
                self._backbone.module = quantize_int8(self._backbone.module)
        return self._backbone

    def encode(self, sentences: Sequence[str]) -> list[list[float]]:
        import torch

        backbone = self._loaded()
        tokenizer = backbone.tokenizer
        # Shortest first, so a batch pads to about its own length, not to the longest sentence's.
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        vectors: list[list[float]] = [[] for _ in sentences]
        with torch.inference_mode():
            # Dynamic int8 quantises each Linear's input with one scale per call: a sentence is encoded
            # alone there, so that its vector (and score) depends on nothing else in the window.
            size = ENCODE_BATCH if self.precision == "fp32" else 1
            for i in range(0, len(order), size):
                rows = order[i : i + size]
                batch = tokenizer(
                    [sentences[r][:MAX_SENTENCE_CHARS] for r in rows],
                    padding=True,
                    truncation=True,
                    max_length=MAX_SENTENCE_TOKENS,
                    return_tensors="pt",
                )
                pooled = backbone.embed(batch["input_ids"], batch["attention_mask"])  # (N, H)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)  # (N, H)
                for r, vector in zip(rows, pooled.tolist(), strict=True):
                    vectors[r] = vector
        return vectors

    def bag(self, sentences: Sequence[str]) -> Any:
        """(N, 2H) array: per sentence the mean and the max of its input word vectors, each L2-normalised."""
        import numpy as np
        import torch

        backbone = self._loaded()
        table = backbone.module.get_input_embeddings().weight  # (V, H)
        ids = backbone.tokenizer(
            [s[:MAX_SENTENCE_CHARS] for s in sentences],
            add_special_tokens=False,
            truncation=True,
            max_length=MAX_SENTENCE_TOKENS,
        )["input_ids"]
        out = np.zeros((len(ids), 2 * table.shape[1]), dtype=np.float32)
        rows = [i for i, row in enumerate(ids) if row]
        if rows:
            flat = torch.tensor([t for i in rows for t in ids[i]])  # (T,)
            offsets = torch.tensor([0, *np.cumsum([len(ids[i]) for i in rows])[:-1].tolist()])  # (N,)
            with torch.inference_mode():
                mean = torch.nn.functional.embedding_bag(flat, table, offsets, mode="mean")  # (N, H)
                top = torch.nn.functional.embedding_bag(flat, table, offsets, mode="max")  # (N, H)
                pooled = torch.cat(
                    [torch.nn.functional.normalize(mean, dim=-1), torch.nn.functional.normalize(top, dim=-1)],
                    dim=-1,
                )
            out[rows] = pooled.numpy()
        return out


class SelfHarmDetector:
    def __init__(self, config: dict[str, Any], *, encoder: SentenceEncoder | None = None) -> None:
        self.config = config
        self.threshold = float(config["threshold"])
        self.version = str(config.get("version", DETECTOR_VERSION))
        self.strength: dict[str, float] = {k: float(v) for k, v in config["strength"].items()}
        self.cue_weights: dict[str, float] = {k: float(v) for k, v in config["cues"].items()}
        head = config.get("head")
        self.head_coef: list[float] | None = [float(v) for v in head["coef"]] if head else None
        self.head_intercept = float(head["intercept"]) if head else 0.0
        self.model_weight = float(head["weight"]) if head else 0.0
        self.against_share = float(head.get("against_share", 1.0)) if head else 1.0
        self.embed_floor = float(config.get("embed_floor", -4.0))
        sieve = config.get("filter")
        self.filter_coef: list[float] | None = [float(v) for v in sieve["coef"]] if sieve else None
        self.filter_intercept = float(sieve["intercept"]) if sieve else 0.0
        self.filter_threshold = float(sieve["threshold"]) if sieve else math.inf
        self.filter_weight = float(sieve.get("weight", 0.0)) if sieve else 0.0
        self.aggregate: dict[str, Any] = dict(config.get("aggregate") or {"method": "max"})
        self.encoder = encoder
        if head and self.encoder is None:
            self.encoder = SentenceEncoder(
                str(head["backbone"]), precision=str(head.get("precision", "fp32"))
            )

    @classmethod
    def default(cls) -> SelfHarmDetector:
        """The packaged detector, loaded once per process."""
        return _default_detector()

    @classmethod
    def from_json(cls, text: str, *, encoder: SentenceEncoder | None = None) -> SelfHarmDetector:
        return cls(json.loads(text), encoder=encoder)

    # ---- scoring ------------------------------------------------------------------------------------
    def lexicon_logit(self, hit: Hit) -> float:
        return self.strength[hit.strength] + sum(self.cue_weights.get(c, 0.0) for c in hit.cues)

    def head_logit(self, vector: Sequence[float]) -> float:
        assert self.head_coef is not None
        return self.head_intercept + math.fsum(w * x for w, x in zip(self.head_coef, vector, strict=True))

    def best_hit(self, sentence: str, previous: str = "", following: str = "") -> tuple[float, Hit] | None:
        """The sentence's expression with the highest lexicon logit, and that logit; None without any."""
        hits = find_hits(normalise(sentence), previous=normalise(previous), following=normalise(following))
        return max(((self.lexicon_logit(h), h) for h in hits), key=lambda t: t[0]) if hits else None

    def lexicon_part(self, sentence: str, previous: str = "", following: str = "") -> float | None:
        best = self.best_hit(sentence, previous, following)
        return best[0] if best else None

    def filter_logits(self, sentences: Sequence[str]) -> list[float]:
        """The cheap filter's logit per sentence (no transformer pass); -inf without a filter."""
        if self.filter_coef is None or self.encoder is None or not sentences:
            return [-math.inf] * len(sentences)
        import numpy as np

        bags = np.asarray(self.encoder.bag(sentences), dtype=np.float64)  # (N, 2H)
        return (bags @ np.asarray(self.filter_coef) + self.filter_intercept).tolist()

    def reads(self, sentences: Sequence[tuple[str, str, str]]) -> list[bool]:
        """Which sentences the sentence model reads: those the lexicon selects or the filter passes."""
        best = [self.best_hit(s, p, f) for s, p, f in sentences]
        return self._reads(best, self.filter_logits([s for s, _, _ in sentences]))

    def _reads(self, best: list[tuple[float, Hit] | None], sieve: list[float]) -> list[bool]:
        """A reply to the app's question about risk is read by the lexicon alone (see cues.ANSWER_HIT)."""
        return [
            not (b is not None and b[1].name == ANSWER_HIT)
            and ((b is not None and b[0] >= self.embed_floor) or f >= self.filter_threshold)
            for b, f in zip(best, sieve, strict=True)
        ]

    def score_sentences(self, sentences: Sequence[tuple[str, str, str]]) -> list[_Scored]:
        """(sentence, the one before, the one after) -> each sentence's score and the reason for reviewers.
        A sentence is read by the sentence model when the lexicon selects it or the filter passes it."""
        best = [self.best_hit(s, p, f) for s, p, f in sentences]
        model: dict[int, float] = {}
        sieve: list[float] = []
        if self.head_coef is not None and self.encoder is not None:
            sieve = self.filter_logits([s for s, _, _ in sentences])
            to_embed = [i for i, read in enumerate(self._reads(best, sieve)) if read]
            if to_embed:
                vectors = self.encoder.encode([sentences[i][0] for i in to_embed])
                model = {i: self.head_logit(v) for i, v in zip(to_embed, vectors, strict=True)}
        out = []
        for i, b in enumerate(best):
            if b is None and i not in model:
                out.append(_Scored(0.0, ""))
                continue
            if b is not None:
                z, hit = b
                reason = hit.name + (f" [{', '.join(sorted(hit.cues))}]" if hit.cues else "")
            else:
                z, reason = self.strength.get("none", 0.0), "no lexicon expression"
            if i in model:
                say = self.against_share if b is not None and b[1].cues & AGAINST_CUES else 1.0
                z += say * self.model_weight * model[i]
                z += say * self.filter_weight * sieve[i] if self.filter_coef is not None else 0.0
                reason += f"; sentence model {_sigmoid(model[i]):.2f}"
            out.append(_Scored(_sigmoid(z), reason))
        return out

    def score_texts(self, texts: list[str]) -> list[float]:
        """A whole text (e.g. all of one forum user's posts) -> one score from its sentence scores, by the
        config's `aggregate` (chosen on cssrs val): "max", or "noisy_or" of the `k` highest (how much a
        user writes about their own risk counts, not only the single strongest sentence)."""
        pairs_per_text = [sentence_pairs([t]) for t in texts]
        flat = [(s, p, f) for pairs in pairs_per_text for _, s, p, f in pairs]
        scores = iter(self.score_sentences(flat))
        return [aggregate([next(scores).score for _ in pairs], self.aggregate) for pairs in pairs_per_text]

    def detect(self, window: Window) -> Detection:
        """Score the window's user turns; the evidence is the sentences at or above threshold."""
        located, pairs = window_sentences(window)
        scored = self.score_sentences(pairs)
        top = max((s.score for s in scored), default=0.0)
        hits = [
            RiskSentence(conv, turn, start, end, text, sent_at, s.score, s.cue)
            for (conv, turn, sent_at, start, end, text), s in zip(located, scored, strict=True)
            if s.score >= self.threshold
        ]
        order_of = {id(h): i for i, h in enumerate(hits)}
        hits.sort(key=lambda h: (_when(h.sent_at), order_of[id(h)]), reverse=True)
        return Detection(
            score=top, fired=top >= self.threshold, evidence=tuple(hits[:MAX_EVIDENCE]), version=self.version
        )


def window_sentences(
    window: Window,
) -> tuple[list[tuple[str, int, datetime | None, int, int, str]], list[tuple[str, str, str]]]:
    """The sentences of the window's user turns in order: where each is (conversation id, turn index,
    sent_at, span, text), and (sentence, the one before, the one after). The sentence before may be the
    assistant's: a patient's "yes" answers the question before it. Assistant turns are not scored."""
    located: list[tuple[str, int, datetime | None, int, int, str]] = []
    pairs: list[tuple[str, str, str]] = []
    previous = ""
    for conversation in window.conversations:
        for index, turn in enumerate(conversation.turns):
            spans = split_sentences(turn.text)
            if turn.role != "user":
                # A screening question anywhere in the app's turn is what the patient's next words answer.
                last = turn.text[spans[-1][0] : spans[-1][1]] if spans else previous
                previous = asked_about_risk(turn.text) or last
                continue
            for k, (start, end) in enumerate(spans):
                text = turn.text[start:end]
                following = turn.text[spans[k + 1][0] : spans[k + 1][1]] if k + 1 < len(spans) else ""
                located.append((conversation.id, index, turn.sent_at, start, end, text))
                pairs.append((text, previous, following))
                previous = text
    return located, pairs


def _when(sent_at: datetime | None) -> float:
    return sent_at.timestamp() if sent_at is not None else -math.inf


def sentence_pairs(texts: Iterable[str]) -> list[tuple[int, str, str, str]]:
    """(index of the text, sentence, the sentence before it, the one after it) for every sentence."""
    out = []
    for i, text in enumerate(texts):
        sentences = [text[a:b] for a, b in split_sentences(text)]
        for k, sentence in enumerate(sentences):
            previous = sentences[k - 1] if k else ""
            following = sentences[k + 1] if k + 1 < len(sentences) else ""
            out.append((i, sentence, previous, following))
    return out


def aggregate(scores: Sequence[float], how: dict[str, Any]) -> float:
    """Sentence scores -> one text score: "max", or "noisy_or" of the k highest, 1 - prod(1 - p)."""
    if not scores:
        return 0.0
    if how.get("method", "max") == "max":
        return max(scores)
    top = sorted(scores, reverse=True)[: int(how.get("k", 3))]
    return 1.0 - math.prod(1.0 - p for p in top)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z > -500 else 0.0


def load_config() -> dict[str, Any]:
    """The packaged weights (scoring/data/self_harm_head.json)."""
    return json.loads(resources.files("scoring").joinpath("data", HEAD_FILE).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _default_detector() -> SelfHarmDetector:
    config = load_config()
    if config.get("version") != DETECTOR_VERSION:
        log.warning("%s says %s; the code says %s", HEAD_FILE, config.get("version"), DETECTOR_VERSION)
    return SelfHarmDetector(config)
