"""The self-harm detector's lexicon: risk expressions and the cues that qualify them (no model here).

Written for reviewers: every expression names what it stands for, and every cue is a short word list or
pattern whose effect on the score is a named weight in `scoring/data/self_harm_head.json`. A sentence is
a *candidate* (worth the sentence model's time) when any risk expression or topic word occurs in it;
the cues then say whether the patient speaks of their own current thoughts or acts, or of something else:

- negation in the expression's clause ("I'm not suicidal"), unless the expression carries its own
  ("I don't want to live") or the negation is of something else ("I can't stop thinking about dying");
- another person as the subject ("my friend wants to die") or a reported request ("she told me to ...");
- the past stated as over ("years ago", "clean for 5 years"), unless a recency word reopens it
  ("I'd stopped for years but cut again this week");
- hypotheticals ("if I ever felt suicidal, ..."); questions about the topic with no first person
  ("what are the signs of suicide?"), while first-person and rhetorical questions stay risk
  ("is it bad that I think about killing myself?", "what's the point of going on?");
- idioms and hyperbole ("this is killing me", "dead tired", "kill me now lol");
- talk about the topic: fiction, games, media, work, study ("the character kills himself", "I died
  ten times on that boss", "my essay on suicide prevention").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scoring.self_harm.expressions import ANAPHORA, ATTEMPT_TOPIC, EXPRESSIONS

# ---- cues ------------------------------------------------------------------------------------------
NEGATION = re.compile(
    r"\b(?:not|no|never|don'?t|dont|do not|doesn'?t|didn'?t|won'?t|wouldn'?t|isn'?t|aren'?t|wasn'?t|"
    r"haven'?t|hasn'?t|nor|without|neither|nothing like|stopped|quit|no longer|no more)\b"
)
# Negations of something else than the risk: "I can't stop thinking about dying".
NEGATION_EXCEPTIONS = re.compile(
    r"\b(?:can'?t|cannot|couldn'?t|won'?t|doesn'?t|don'?t) (?:stop|help|shake|escape|get rid of|seem to stop|"
    r"get (?:it|this|the thought|them) out|go away|leave)|\b(?:don'?t|do not|didn'?t) (?:know|understand|"
    r"think i can|see)\b|\bnot (?:sure|just|only|even|gonna lie|going to lie)\b|\bno matter\b|"
    r"\bnothing but\b|"
    r"\bno one (?:knows|understands|cares)\b|\bnot going to (?:do|act)\b"
)
DENIAL_AFTER = re.compile(
    r"\b(?:i said no|i told (?:her|him|them) no|and i (?:don'?t|do not)\b|which i (?:don'?t|do not)\b|"
    r"not anymore|any ?more\?? no\b)"
)
FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|i've|ive|i'd|i'll|me|my|myself|mine)\b")
OTHER_PERSON = re.compile(
    r"\b(?:he|she|they|he's|she's|they're|his|her|their|him|them|himself|herself|themselves|you|you're|"
    r"your|yourself|u|someone|somebody|anyone|people|person|everyone|friend|friends|mum|mom|mother|dad|"
    r"father|brother|sister|son|daughter|wife|husband|partner|boyfriend|girlfriend|bf|gf|cousin|aunt|uncle|"
    r"grandma|grandpa|grandmother|grandfather|classmate|coworker|colleague|patient|patients|client|"
    r"clients|character|kid|kids|student|students|teen|teens|teenagers?|guy|girl|man|woman|neighbou?r)\b"
)
REPORTED = re.compile(
    r"\b(?:told|tells|telling|asked|asks|asking|ask|tell) (?:me|us)? ?(?:to|if|whether)\b|\btold me to\b"
)
PAST = re.compile(
    r"\b(?:years? ago|months ago|long time ago|when i was (?:a |in |younger|little|\d)|in (?:high|middle) "
    r"school|as a (?:teen|teenager|kid|child)|back then|back in|in the past|used to|at (?:\d\d|fifteen|"
    r"sixteen|seventeen|fourteen|thirteen)|in (?:19|20)\d\d)\b"
)
OVER = re.compile(
    r"\b(?:clean (?:for|since)|\d+ (?:years?|months?) clean|haven'?t (?:\w+ )?(?:since|in (?:years|months))|"
    r"not anymore|no longer|any ?more|(?:i'm|im|i am) (?:past|over) (?:that|it)|(?:got|get|getting) (?:help|"
    r"better|through it)|recovered|behind me|those (?:days|thoughts) are (?:gone|over)|stopped|"
    r"doing (?:much )?"
    r"better now|survived|proud of how far)\b"
)
RECENT = re.compile(
    r"\b(?:again|lately|recently|these days|this (?:week|month|morning|evening|weekend)|last (?:night|week|"
    r"few days|couple of days)|yesterday|today|tonight|right now|now|every (?:day|night|morning|single day)|"
    r"all the time|constantly|keep|keeps|still|anymore|nowadays|currently|past (?:two|few|2) weeks)\b"
)
HYPOTHETICAL = re.compile(
    r"\b(?:if|in case|suppose|supposing|imagine|hypothetically|what if|whether|would you|should someone)\b"
)
HYPOTHETICAL_EXCEPTIONS = re.compile(
    r"\bif i'?m (?:being )?honest\b|\bif that makes sense\b|\bas if\b|\beven if\b"
)
# Questions that ask about the topic and not about the asker's own state; first-person and rhetorical
# questions ("what's the point of going on?") are risk and are not caught by this cue.
QUESTION_WORDS = re.compile(
    r"^\s*(?:what|how|why|when|where|who|which|is|are|do|does|did|can|could|should|would|will|have|has)\b"
)
IDIOMS = re.compile(
    r"\b(?:(?:is|are|was|it's|its|this|that|they're|you're|heat|job|work|commute|week|exam|class|boss|"
    r"feet|back|legs) (?:is |are )?(?:literally |absolutely |honestly )?killing me|"
    r"kill(?:s|ed)? me now|just kill me|"
    r"shoot me now|dead (?:tired|beat|serious|on|set|end|line|lines|ringer|weight|easy|last)|deadline\w*|"
    r"dying (?:to|for|of (?:laughter|boredom|embarrassment|thirst|hunger|curiosity))|to die for|"
    r"die (?:of|from) (?:laughter|laughing|embarrassment|boredom|cringe|shame)|died (?:laughing|of laughter|"
    r"of embarrassment|inside)|(?:bored|scared|frightened|worried|sick|tired) to death|over my dead body|"
    r"drop dead|killed it|killing it|kill(?:ing)? (?:time|the vibe|the mood|it|two birds)|"
    r"kill for (?:a|some)|"
    r"(?:phone|battery|laptop|car|plant|plants|conversation|wifi|internet) "
    r"(?:is |was |has |just )?(?:died|dead|"
    r"dying)|i'm dead\b|im dead\b|i'm dying\b(?= *(?:lol|lmao|haha|😂|💀))|dying laughing|could (?:just )?die"
    r" (?:of|from)|would die (?:for|without)|dead to me|beat a dead horse|dead or alive|suicide (?:squad|"
    r"mission|run|runs|drills?|doors?|burn|king|forest)|to death\b|kill(?:er|ers) (?:app|feature|deal|"
    r"workout|track)|mortified|embarrass\w*)"
)
LAUGHTER = re.compile(r"(?:\b(?:lol|lmao|lmfao|rofl|haha\w*|jk|just kidding|kidding)\b|😂|🤣|💀|😅|:\))")
HYPERBOLE = re.compile(
    r"\bso (?:boring|embarrassing|awkward|cringe|cringy|bored|hungry|full|hot|cold|annoyed|"
    r"bad at)\b|\b(?:meeting|homework|exam|exams|traffic|mondays?|lecture|maths?|taxes|queue|hangover)\b"
)
CONTEXT = re.compile(
    r"\b(?:essay|paper|thesis|dissertation|research|study|studying|studies|class|course|module|lecture|"
    r"seminar|project|homework|assignment|training|workshop|article|documentary|podcast|movie|movies|film|"
    r"films|show|series|episode|season|book|books|novel|chapter|story|stories|character|characters|plot|"
    r"song|songs|lyrics|album|game|games|gaming|level|boss|respawn\w*|player|players|match|raid|quest|npc|"
    r"minecraft|fortnite|news|headline|headlines|statistics|stats|rates?|awareness|prevention|campaign|"
    r"hotline|volunteer\w*|shift|ward|my job|at work|the clinic|the hospital|nurse|doctor|therapist|"
    r"counsel+or|colleague|coworker|trial|survey|data|presentation|poem|poems|fanfic|script|scene|"
    r"in real life|irl|playthrough|anime|manga|comic|tv)\b"
)
CLAUSE_BREAK = re.compile(
    r"[,;:()]|\s[-–—]\s|\b(?:but|though|although|yet|however|except|whereas|while|and now|so now|and then)\b"
)
SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")


@dataclass(frozen=True)
class Hit:
    """One risk expression found in a sentence, with the cues of its clause."""

    name: str
    strength: str  # "strong" | "passive" | "topic" | "anaphora"
    start: int  # span inside the sentence
    end: int
    cues: frozenset[str]


def normalise(text: str) -> str:
    """Lower case with typographic apostrophes made plain; the same length as `text`, so spans carry over."""
    return text.lower().replace("\u2019", "'").replace("\u2018", "'")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text` (ends of sentence, line breaks), blanks left out."""
    spans = []
    for m in SENTENCE.finditer(text):
        start, end = m.start(), m.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def _clause(sentence: str, start: int, end: int) -> tuple[int, int]:
    """The clause around [start, end): from the last clause break before it to the first one after it."""
    before = [m.end() for m in CLAUSE_BREAK.finditer(sentence, 0, start)]
    after = CLAUSE_BREAK.search(sentence, end)
    return (before[-1] if before else 0), (after.start() if after else len(sentence))


def _cues(sentence: str, start: int, end: int, strength: str) -> frozenset[str]:
    c0, c1 = _clause(sentence, start, end)
    before, clause, after = sentence[c0:start], sentence[c0:c1], sentence[end:]
    expression = sentence[start:end]
    cues: set[str] = set()
    negations = [m for m in NEGATION.finditer(before) if not NEGATION_EXCEPTIONS.match(before, m.start())]
    if negations or DENIAL_AFTER.search(after):
        cues.add("negated")
    persons = [(m.start(), "other") for m in OTHER_PERSON.finditer(before)]
    persons += [(m.start(), "self") for m in FIRST_PERSON.finditer(before)]
    own = FIRST_PERSON.search(expression) is not None
    if REPORTED.search(before) or (not own and persons and max(persons)[1] == "other"):
        cues.add("other_person")
    if own or (persons and max(persons)[1] == "self") or FIRST_PERSON.search(clause):
        cues.add("first_person")
    if (PAST.search(sentence) or OVER.search(sentence)) and not RECENT.search(clause):
        cues.add("past_over")
    if RECENT.search(sentence):
        cues.add("recent")
    hypo = [m for m in HYPOTHETICAL.finditer(before) if not HYPOTHETICAL_EXCEPTIONS.match(before, m.start())]
    if hypo:
        cues.add("hypothetical")
    if sentence.rstrip().endswith("?") and "first_person" not in cues and strength != "passive":
        cues.add("topic_question")
    if IDIOMS.search(sentence) and _overlaps_idiom(sentence, start, end):
        cues.add("idiom")
    if LAUGHTER.search(sentence) or HYPERBOLE.search(clause):
        cues.add("hyperbole")
    if CONTEXT.search(clause):
        cues.add("context")
    return frozenset(cues)


def _overlaps_idiom(sentence: str, start: int, end: int) -> bool:
    return any(m.start() < end and start < m.end() for m in IDIOMS.finditer(sentence))


_COMPILED = tuple((name, strength, re.compile(pattern)) for name, strength, pattern in EXPRESSIONS)


def find_hits(sentence: str, *, previous: str = "") -> list[Hit]:
    """The risk expressions of one sentence (already normalised), each with its clause's cues; an
    expression inside a longer one found first is left out. `previous` is the sentence before, for
    anaphora."""
    hits: list[Hit] = []
    taken: list[tuple[int, int]] = []
    for name, strength, pattern in _COMPILED:
        for m in pattern.finditer(sentence):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            hits.append(
                Hit(name, strength, m.start(), m.end(), _cues(sentence, m.start(), m.end(), strength))
            )
    topic = hits or ATTEMPT_TOPIC.search(sentence) or any(True for _ in _risk_mentions(previous))
    if topic:
        for m in ANAPHORA.finditer(sentence):
            if not any(m.start() < e and s < m.end() for s, e in taken):
                cues = _cues(sentence, m.start(), m.end(), "anaphora") - {"other_person"}
                hits.append(Hit("thinking about it too", "anaphora", m.start(), m.end(), cues))
    return hits


def _risk_mentions(sentence: str) -> list[str]:
    if not sentence:
        return []
    found = [name for name, _, pattern in _COMPILED if pattern.search(sentence)]
    return found + (["attempt"] if ATTEMPT_TOPIC.search(sentence) else [])
