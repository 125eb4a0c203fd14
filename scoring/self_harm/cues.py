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
- idioms, laughter and hyperbole ("this is killing me", "dead tired", "kill me now lol", "so
  boring I could die");
- talk about the topic: fiction, games, media, work, study ("the character kills himself", "I died
  ten times on that boss", "my essay on suicide prevention");
- a protective statement in the expression's clause ("I want to live", "I have too much to live
  for", "I'm safe"), unless it is itself negated ("I don't want to live" is a risk expression of its own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scoring.self_harm.expressions import ANAPHORA, ATTEMPT_TOPIC, EXPRESSIONS, WIDE_NET

# ---- cues (patterns run on normalised text: lower case, no apostrophes) ------------------------------
NEGATION = re.compile(
    r"\b(?:not|no|never|dont|do not|doesnt|didnt|wont|wouldnt|isnt|arent|wasnt|havent|hasnt|hadnt|cant|"
    r"cannot|couldnt|shouldnt|nor|without|neither|nothing like|no longer|no more|nobody)\b"
)
# Negations of something else than the risk: "I can't stop thinking about dying".
NEGATION_EXCEPTIONS = re.compile(
    r"(?:cant|cannot|dont|do not) see (?:a|any|another|other) (?:way|option|choice|solution)|no other "
    r"(?:way|option|choice)|(?:cant|cannot|couldnt|wont|doesnt|dont|do not) (?:stop|help|shake|escape|"
    r"get rid of|seem to stop|"
    r"get (?:it|this|the thought|them) out|go away|leave|control)|(?:dont|do not|didnt) (?:know|understand|"
    r"think i can|see why|care)|not (?:sure|just|only|even|gonna lie|going to lie|going to (?:do|act)|"
    r"gonna (?:do|act))|no matter|nothing but|no one (?:knows|understands|cares)|nobody (?:knows|cares|"
    r"understands)|(?:i )?(?:dont|do not|didnt) (?:have|want) (?:anyone|anybody|friends)|"
    # a negated telling, knowing or hiding: "I haven't told anyone I want to die", "he doesn't know I cut"
    r"(?:not|no|never|dont|do not|doesnt|didnt|wont|wouldnt|havent|hasnt|hadnt|cant|cannot|couldnt) "
    r"(?:(?:yet|really|even|ever|dare|bring myself to|have the heart to) )?(?:tell|told|telling|say|said|"
    r"mention|mentioned|admit|admitted|explain|explained|know|knows|knew|notice|noticed|see|sees|saw|realise|"
    r"realize|realised|realized|find out|hide|hiding|lie|lying|joke|joking|kid|kidding|pretend|pretending|"
    r"exaggerat\w*|keep pretending|keep hiding|trust myself|scared|afraid|sure|strong enough|promise)\b|"
    r"not a (?:day|night) goes by|(?<=than )not\b|no point (?:pretending|hiding|lying)|"
    r"no way (?:im|i am|i will|ill) (?:telling|going to tell)|"
    r"(?:dont|do not|cant|cannot) get (?:\w+ ){0,4}out of my head"
)
DENIAL_AFTER = re.compile(
    r"^[^.?!]{0,40}?\b(?:i said no|i told (?:her|him|them) no|and i (?:dont|do not)\b|which i (?:dont|do not)"
    r"\b|i never (?:have|would|will)|not anymore|- no\b|(?:has|have) never crossed my mind|"
    r"never crossed my mind|"
    r"(?:isnt|is not|not) something i|(?:is|are) (?:not|never) (?:the|a|an) (?:answer|way|option|solution))"
)
FIRST_PERSON = re.compile(r"\b(?:i|im|ive|id|ill|me|my|myself|mine)\b")
OTHER_PERSON = re.compile(
    r"\b(?:he|she|they|hes|shes|theyre|his|her|their|him|them|himself|herself|themselves|you|youre|your|"
    r"yourself|u|ur|someone|somebody|anyone|people|person|everyone|friend|friends|mum|mom|mother|dad|father|"
    r"brother|sister|son|daughter|wife|husband|partner|boyfriend|girlfriend|bf|gf|cousin|aunt|uncle|grandma|"
    r"grandpa|grandmother|grandfather|classmate|coworker|colleague|roommate|patient|patients|client|clients|"
    r"character|kid|kids|child|student|students|teen|teens|teenagers?|guy|girl|man|woman|neighbou?r|"
    r"narrator|hero|protagonist)\b"
)
REPORTED = re.compile(r"\b(?:told|tells|telling|asked|asks|asking|ask|tell) (?:me |us )?(?:to|if|whether)\b")
PAST = re.compile(
    r"\b(?:years? ago|months ago|(?:a )?long time ago|ages ago|when i was (?:a |in |younger|little|at |\d)|"
    r"in (?:high|middle|secondary) school|(?:at|in) (?:university|uni|college)|as a (?:teen|teenager|kid|"
    r"child)|back then|back in|in the past|used to|at (?:\d\d|thirteen|fourteen|fifteen|sixteen|seventeen)|"
    r"in (?:19|20)\d\d|i was once|there was a time|at one point|as a \w+ (?:year old|student)|"
    r"(?:a )?decades? ago|"
    r"long ago|(?:years|a decade|decades|months|a long time|ages) since|since i (?:last|was (?:a |\d))|in my "
    r"(?:early |late |mid )?(?:teens|twenties|thirties|forties|20s|30s))\b"
)
OVER = re.compile(
    r"\b(?:clean (?:for|since)|\d+ (?:years?|months?) clean|(?:havent|hasnt|never) (?:\w+ ){0,3}(?:since|in "
    r"(?:years|months|a long time)|again)|not anymore|no longer|(?:im|i am) (?:past|over) (?:that|it)|(?:got|"
    r"get|getting|found) (?:help|better|through it|treatment)|recovered|recovery|behind me|(?:are|is) "
    r"(?:long )?(?:gone|over)|stopped|doing (?:much |a lot )?better|(?:good|better|safe) place|survived|"
    r"glad i (?:survived|"
    r"didnt|am alive|lived)|proud|changed everything|have a (?:family|life) i love|grateful)\b|"
    r"\b(?:im|i am|feeling|i feel) (?:doing )?(?:much |a lot |so much |way )?better\b"
)
RECENT = re.compile(
    r"\b(?:again|lately|recently|these days|this (?:week|month|morning|evening|weekend|year)|last (?:night|"
    r"week|few days|couple of days|weekend|monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|yesterday|today|tonight|right now|"
    r"every (?:day|night|morning|single day)|all the time|constantly|keep|keeps|still|anymore|nowadays|"
    r"currently|past (?:two|few|2|couple of) (?:weeks|days)|since (?:monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|last week)|came back|are back|is back|its back)\b"
)
# Recency that reopens a past act ("I'd stopped for years but cut again this week"); frequency words
# ("all the time") do not: "I used to think about dying all the time" stays in the past.
REOPEN = re.compile(
    r"\b(?:again|lately|recently|this (?:week|month|morning|evening|weekend)|last (?:night|week|few days|"
    r"couple of days|weekend|monday|tuesday|wednesday|thursday|friday|saturday|sunday)|on (?:monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday)|yesterday|today|tonight|right now|still|came back|are back|"
    r"is back|its back|relaps\w*)\b"
)
# A following sentence that says it is over now ("I self-harmed for years. I stopped in 2015.").
OVER_NOW = re.compile(
    r"\b(?:(?:im|i am) (?:doing )?(?:much |a lot |so much |way )?better|in a (?:good|better|safe) place|"
    r"(?:that|it|"
    r"this) (?:part of my life |time )?(?:is|was) (?:over|behind me|a long time ago|in the past)|(?:those|"
    r"the|"
    r"these) (?:thoughts|urges|feelings) (?:have|are|went) (?:gone|passed|away)|havent (?:\w+ ){0,3}since|"
    r"(?:stopped|quit) (?:in|years|months|a long|ages)|\d+ years? clean|recovered|in recovery|doing great|"
    r"(?:grateful|glad|happy) (?:to be|im|i am) alive|never (?:again|going back))\b"
)
HYPOTHETICAL = re.compile(
    r"\b(?:if|in case|suppose|supposing|imagine|hypothetically|what if|would you|should someone|"
    r"whenever someone)\b"
)
HYPOTHETICAL_EXCEPTIONS = re.compile(
    r"in case (?:im|i am) not (?:here|around)|if (?:im |i am )?(?:being )?honest|if that makes sense|as if|"
    r"even if|if i died|if i (?:was|were) "
    r"(?:gone|dead|not here)|if i (?:wasnt|werent) (?:here|around|alive)|if i (?:didnt|never) wake"
)
IDIOMS = re.compile(
    r"\b(?:(?:is|are|was|its|this|that|theyre|youre|heat|job|work|commute|week|exam|class|boss|feet|back|"
    r"legs|shoes|deadline|suspense|hangover) (?:is |are )?(?:literally |absolutely |honestly |really |so )?"
    r"killing me|kill(?:s|ed)? me now|just kill me|shoot me now|dead (?:tired|beat|serious|on|set|end|line|"
    r"lines|ringer|weight|easy|last|inside)|deadline\w*|dying (?:to|for|of (?:laughter|boredom|embarrassment|"
    r"thirst|hunger|curiosity))|to die for|die (?:of|from) (?:laughter|laughing|embarrassment|boredom|"
    r"cringe|shame)|died (?:laughing|of laughter|of embarrassment|inside)|(?:bored|scared|frightened|"
    r"worried|sick|tired) to death|over my dead body|drop dead|killed it|killing it|kill(?:ing)? (?:time|"
    r"the vibe|the mood|two birds|my (?:brother|sister|mum|mom|dad|boss|husband|wife|partner|roommate|"
    r"flatmate|friend))|kill for (?:a|some)|(?:joke|that) killed me|(?:phone|battery|laptop|car|plants?|"
    r"conversation|wifi|internet|flowers|goldfish|fish|hamster|dog|cat) (?:is |was |has |have |just |all )?"
    r"(?:died|dead|dying)|im dead|im dying(?= *(?:lol|lmao|haha|😂|💀))|dying laughing|could (?:just )?die "
    r"(?:of|from)|would die (?:for|without)|dead to me|dead horse|dead or alive|suicide (?:squad|mission|run|"
    r"runs|drills?|doors?|burn|king|forest|shot)|kill(?:ed|ing) my ?self (?:all day|working|at work|"
    r"at the gym|"
    r"laughing|to (?:finish|get|make|pay))|to death\b|death of me|rather die than|kill myself lol|"
    r"killer (?:app|feature|deal|workout|track)|dying (?:my|her|his) hair|dyed|mortified)"
)
LAUGHTER = re.compile(r"(?:\b(?:lol|lmao|lmfao|rofl|haha\w*|jk|just kidding|kidding|xd)\b|😂|🤣|💀|😅|:\))")
SERIOUS = re.compile(r"\b(?:not (?:even )?joking|not kidding|seriously|i mean it|for real|honestly)\b")
PROTECTIVE = re.compile(
    r"\b(?:want to (?:live|stay alive|be alive|be here|stay around)|(?:have|got) (?:so much|too much|a"
    r" lot|lots|plenty|everything) (?:left )?to live for|(?:reasons?|something|someone|people) to live"
    r" for|i(?:m| am) (?:safe|not (?:in )?danger(?:ous)?)|(?:love|enjoy) (?:my )?(?:life|living)|glad "
    r"(?:to be|i(?:m| am)) alive)\b"
)
# "I don't want to live", "no reason to live for": a negation just before the protective words undoes them.
PROTECTIVE_UNDONE = re.compile(
    r"\b(?:not|no|dont|do not|doesnt|didnt|never|nothing|no one|nobody|cant|cannot|hardly|barely|"
    r"stopped|lost)\W+(?:\w+\W+){0,2}$"
)
HYPERBOLE = re.compile(
    r"\bso (?:boring|embarrassing|awkward|cringe|cringy|bored|hungry|full|hot|cold|annoyed)\b|\b(?:meeting|"
    r"meetings|homework|exam|exams|traffic|mondays?|lecture|maths?|taxes|queue|hangover|party|dress|song)\b"
)
CONTEXT = re.compile(
    r"\b(?:essay|paper|thesis|dissertation|research|researching suicide|study|studying|studies|class|course|"
    r"module|lecture|seminar|project|homework|assignment|training|workshop|article|documentary|podcast|"
    r"movie|movies|film|films|show|series|episode|season|book|books|novel|chapter|story|stories|character|"
    r"characters|plot|storyline|narrator|song|songs|lyrics|album|game|games|gaming|level|boss|respawn\w*|"
    r"player|players|match|raid|quest|npc|minecraft|fortnite|news|headline|headlines|statistics|stats|rates?|"
    r"awareness|prevention|campaign|hotline|volunteer\w*|shift|shifts|ward|my job|at work|the clinic|the "
    r"hospital|nurse|counsell?or|colleague|coworker|trial|survey|data|presentation|poem|poems|fanfic|script|"
    r"scene|playthrough|anime|manga|comic|tv|d&d|dnd|mystery|charity|risk assessment|history)\b"
)
CLAUSE_BREAK = re.compile(
    r"[,;:()]|\s[-–—]\s|\b(?:but|though|although|yet|however|except|whereas|while|and now|so now|and then|"
    r"and honestly|and i|because)\b"
)
# A question about the patient's own risk (the assistant's screening question, or anyone's), and a yes to it:
# "Have you had thoughts of ending your life?" - "Yes, most days."
RISK_QUESTION = re.compile(
    r"\b(?:kill(?:ing)? your ?self|hurt(?:ing)? your ?self|harm(?:ing)? your ?self|cut(?:ting)? your ?"
    r"self|(?:end|ending|take|taking) your (?:own )?life|end(?:ing)? (?:it|it all|things)\b|overdos\w*"
    r"|suicid\w*|self[- ]?harm\w*|better off (?:dead|gone|not here|without you)|(?:wish|wished|wishing"
    r") you (?:were|was) dead|(?:want|wanted|wanting) to die|not (?:want|wanting) to (?:live|be alive|"
    r"be here|be around|wake up)|not (?:be|being) (?:here|alive|around)|(?:sleep|go to sleep) and not "
    r"wake up|dying|death)"
)
# The answer's first words: a denial ("No, just tired", "Not really", "Never") is read before any yes in it,
# so "No, honestly, none of that" is a no; "I'd be lying if I said no" is a yes.
ANSWER_NO = re.compile(
    r"\W*(?:no\b|nope|nah\b|not\b(?! (?:gonna|going to) (?:lie|pretend))|never\b|none\b|nothing\b|zero"
    r"\b|absolutely not|definitely not|(?:thankfully|luckily|honestly|actually|truthfully|um+|uh+|well"
    r")\W+(?:no|not|never|nope|nah)\b|(?:i|ive) (?:havent|have not|dont|do not|didnt|did not|wouldnt|w"
    r"ould not|never)\b|hell no|of course not|no way)"
)
ANSWER_YES = re.compile(
    r"\W*(?:yes|yeah|yep|yup|yea|ya|yah|mhm|mm+|some (?:days|nights|mornings)|uh[- ]huh|sadly|unfortun"
    r"ately|honestly|to be honest|if im honest|tbh|ngl|not gonna lie|i wont lie|(?:id|i would) be lyin"
    r"g|its hard to admit|i have|i do|i am|i did|i guess|i suppose|i think so|sometimes|often|a lot|ev"
    r"ery (?:single )?(?:day|night|morning)|most (?:days|nights|of the time)|nearly every|almost every"
    r"|more (?:often )?than|more days|several|a few times|once or twice|a couple of times|on and off|n"
    r"ow and then|constantly|all the time|daily|nightly|lately|recently|again|kind of|kinda|sort of|so"
    r"rta|a little|a bit|maybe|probably|definitely|for sure|absolutely|pretty much|the (?:first|second"
    r") one|both|mostly|it comes and goes|its (?:there|crossed my mind)|it has|they have|(?:it|they)(?"
    r":s| have| has) been)\b"
)
# Cues that say a sentence is not the patient's own current risk: where one is found, the sentence model
# (which barely reads them) has a smaller say (`against_share` in the detector's weights).
AGAINST_CUES = frozenset(
    {
        "negated",
        "other_person",
        "past_over",
        "hypothetical",
        "topic_question",
        "idiom",
        "laughter",
        "hyperbole",
        "context",
        "protective",
    }
)
# The name of a "yes" read with the question before it: the sentence model, which reads one sentence
# alone, cannot read a reply ("More than I'd like to admit."), so such a sentence is scored by the lexicon.
ANSWER_HIT = "yes to a question about risk"
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
    """Lower case without apostrophes ("Don’t" -> "dont"): the text every pattern here runs on."""
    return text.lower().replace("\u2019", "").replace("\u2018", "").replace("'", "")


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


def _cues(sentence: str, start: int, end: int, strength: str, following: str = "") -> frozenset[str]:
    c0, c1 = _clause(sentence, start, end)
    before, clause, after = sentence[c0:start], sentence[c0:c1], sentence[end:]
    expression = sentence[start:end]
    cues: set[str] = set()
    negations = [
        m for m in NEGATION.finditer(before) if not NEGATION_EXCEPTIONS.match(sentence, c0 + m.start())
    ]
    if negations or DENIAL_AFTER.search(after):
        cues.add("negated")
    persons = [(m.start(), "other") for m in OTHER_PERSON.finditer(before)]
    persons += [(m.start(), "self") for m in FIRST_PERSON.finditer(before)]
    own = FIRST_PERSON.search(expression) is not None
    if REPORTED.search(before) or (not own and persons and max(persons)[1] == "other"):
        cues.add("other_person")
    if own or (persons and max(persons)[1] == "self") or FIRST_PERSON.search(clause):
        cues.add("first_person")
    over = PAST.search(sentence) or OVER.search(sentence) or OVER_NOW.search(following)
    if over and not REOPEN.search(clause):
        cues.add("past_over")
    if RECENT.search(sentence):
        cues.add("recent")
    hypo = [
        m
        for m in HYPOTHETICAL.finditer(before)
        if not HYPOTHETICAL_EXCEPTIONS.match(sentence, c0 + m.start())
    ]
    if hypo:
        cues.add("hypothetical")
    if sentence.rstrip().endswith("?") and "first_person" not in cues and strength != "passive":
        cues.add("topic_question")
    if IDIOMS.search(sentence) and _overlaps_idiom(sentence, start, end):
        cues.add("idiom")
    if LAUGHTER.search(sentence) and not SERIOUS.search(sentence):
        cues.add("laughter")
    if HYPERBOLE.search(clause):
        cues.add("hyperbole")
    if CONTEXT.search(clause):
        cues.add("context")
    if any(not PROTECTIVE_UNDONE.search(clause[: m.start()]) for m in PROTECTIVE.finditer(clause)):
        cues.add("protective")
    return frozenset(cues)


def _overlaps_idiom(sentence: str, start: int, end: int) -> bool:
    return any(m.start() < end and start < m.end() for m in IDIOMS.finditer(sentence))


_COMPILED = tuple((name, strength, re.compile(pattern)) for name, strength, pattern in EXPRESSIONS)
# Every expression at once: most sentences hold none, and one scan rules them out.
ANY_EXPRESSION = re.compile("|".join(f"(?:{pattern})" for _, _, pattern in EXPRESSIONS))
# The same without the wide net of risk-topic words ("a plan", "a date"): what a reference back may refer to.
RISK_MENTION = re.compile("|".join(f"(?:{p})" for name, _, p in EXPRESSIONS if name != WIDE_NET))


def find_hits(sentence: str, *, previous: str = "", following: str = "") -> list[Hit]:
    """The risk expressions of one sentence (already normalised), each with its clause's cues; an
    expression inside a longer one found first is left out. `previous` is the sentence before (the
    patient's, or the assistant's question), for answers and references back; `following` the next one
    of the same turn, which may say that what this one tells is over."""
    hits: list[Hit] = []
    taken: list[tuple[int, int]] = []

    def add(name: str, strength: str, start: int, end: int, drop: frozenset[str] = frozenset()) -> None:
        taken.append((start, end))
        hits.append(Hit(name, strength, start, end, _cues(sentence, start, end, strength, following) - drop))

    def free(start: int, end: int) -> bool:
        return not any(start < e and s < end for s, e in taken)

    selected = ANY_EXPRESSION.search(sentence) is not None
    if selected:
        for name, strength, pattern in _COMPILED:
            if strength != "topic":
                for m in pattern.finditer(sentence):
                    if free(m.start(), m.end()):
                        add(name, strength, m.start(), m.end())
    denied = False  # a "no" to the question before: what follows it refers back to nothing of the patient's
    if previous.rstrip().endswith("?") and RISK_QUESTION.search(previous):
        denied = ANSWER_NO.match(sentence) is not None
        answer = None if denied else ANSWER_YES.match(sentence)
        if answer and free(answer.start(), answer.end()):
            # the yes is the answer: a "not" later in it ("I'd be lying if I said no") does not undo it
            drop = frozenset({"other_person", "topic_question", "negated"})
            add(ANSWER_HIT, "anaphora", answer.start(), answer.end(), drop)
    risky = any(h.strength != "topic" for h in hits) or _mentions_risk(sentence)
    if (
        not denied
        and ANAPHORA.search(sentence)
        and (risky or ATTEMPT_TOPIC.search(sentence) or _mentions_risk(previous))
    ):
        for m in ANAPHORA.finditer(sentence):
            if free(m.start(), m.end()):
                add(
                    "refers back to a risk mention",
                    "anaphora",
                    m.start(),
                    m.end(),
                    frozenset({"other_person"}),
                )
    if selected:  # topic words last: an expression or a reference back over the same words wins
        for name, strength, pattern in _COMPILED:
            if strength == "topic":
                for m in pattern.finditer(sentence):
                    if free(m.start(), m.end()):
                        add(name, strength, m.start(), m.end())
    return hits


def asked_about_risk(turn_text: str) -> str:
    """The question of an assistant turn that asks the patient about their own risk (the last such
    question, with the sentence before it), or "" when it asks none: what a "yes" in the patient's next
    turn answers."""
    sentences = [turn_text[a:b] for a, b in split_sentences(turn_text)]
    # "Some people feel they'd be better off dead. Has anything like that been on your mind?": the question
    # is read with the sentence before it.
    asking = [
        f"{sentences[k - 1]} {s}" if k else s
        for k, s in enumerate(sentences)
        if s.rstrip().endswith("?") and RISK_QUESTION.search(normalise(f"{sentences[k - 1]} {s}" if k else s))
    ]
    return asking[-1] if asking else ""


def _mentions_risk(sentence: str) -> bool:
    return bool(sentence) and (
        ATTEMPT_TOPIC.search(sentence) is not None or bool(RISK_MENTION.search(sentence))
    )
