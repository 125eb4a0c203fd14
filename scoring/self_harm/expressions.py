"""The self-harm detector's risk expressions: what a patient may write when stating thoughts of death,
suicide or self-harm. Each expression has a name (shown to reviewers as the cue that fired) and a kind,
whose weight is in `scoring/data/self_harm_head.json`; `scoring/self_harm/cues.py` qualifies each match.
"""

from __future__ import annotations

import re

# ---- risk expressions: (name, strength, pattern) ---------------------------------------------------
# "strong": an explicit statement of suicidal thought, intent or self-harm in the first person or with no
# subject; "passive": passive death wishes and death as a way out; "topic": words about death or
# self-harm that are risk only in context (the sentence model reads these).
_I = r"(?:i|i'm|im|i've|ive|i'd|id|i'll)"
_BE = r"(?:be|being|been|was|were|am|is|are|feel|feeling|felt)"
EXPRESSIONS: tuple[tuple[str, str, str], ...] = (
    # suicide, stated
    ("kill myself", "strong", r"\b(?:kill(?:ing|ed|s)?|off(?:ing)?|end(?:ing)?) my ?self\b"),
    ("kms", "strong", r"\bkms\b"),
    ("suicidal", "strong", r"\bsuicidal\b"),
    (
        "suicide, mine",
        "strong",
        r"\b(?:commit(?:ting)?|attempt(?:ing|ed)?|contemplat\w*|consider\w*) suicide\b",
    ),
    ("suicide thoughts", "strong", r"\bsuicid\w* (?:thoughts?|ideation|urges?|feelings?|plans?|notes?)\b"),
    ("end my life", "strong", r"\b(?:end(?:ing|ed)?|tak(?:e|ing)|took) my (?:own )?life\b"),
    ("unalive", "strong", r"\bunaliv\w*\b"),
    (
        "method",
        "strong",
        r"\b(?:hang(?:ing)? my ?self|slit(?:ting)? my (?:wrists?|throat)|jump(?:ing)? off (?:a|the) "
        r"(?:bridge|building|roof|cliff)|jump(?:ing)? in front of (?:a|the) (?:train|bus|car|truck))\b",
    ),
    ("overdose", "strong", r"\b(?:overdos\w*|od(?:'d|ed)? on)\b"),
    (
        "want to die",
        "strong",
        r"\b(?:want(?:ed|s|ing)?|wanna|wish(?:ed|ing)?|ready|going|plan(?:ning)?|try(?:ing)?)"
        r" (?:to|i could|i would|i'd) (?:just )?(?:die|be dead|not be alive|not exist)\b",
    ),
    (
        "wish I were dead",
        "strong",
        r"\bwish(?:ed|ing)? (?:that )?i (?:was|were|could be) (?:dead|gone|never born)\b",
    ),
    (
        "better off dead",
        "strong",
        r"\bbetter off (?:dead|gone|without me|if i (?:was|were|wasn't|weren't)\b)",
    ),
    (
        "better without me",
        "strong",
        r"\b(?:better|happier|easier) (?:off )?(?:without me|if i (?:was|were) gone|"
        r"if i (?:wasn't|weren't) (?:here|around|alive)|if i died)\b",
    ),
    (
        "no one would care if I died",
        "strong",
        r"\bno ?(?:one|body) would (?:care|notice|miss me)(?: if i (?:died|"
        r"was gone|disappeared))?\b",
    ),
    # self-harm, stated
    (
        "hurt myself",
        "strong",
        r"\b(?:hurt(?:ing|s)?|harm(?:ing|ed|s)?|punish(?:ing|ed)?|injur\w*|burn(?:ing|ed|t)?|"
        r"cut(?:ting|s)?|scratch(?:ing|ed)?|hit(?:ting)?|starv\w*) my ?self\b",
    ),
    ("self-harm", "strong", r"\bself[- ]?harm\w*|\bself[- ]?injur\w*|\bsh urges?\b"),
    (
        "cutting",
        "strong",
        r"\b(?:cut|cutting|cuts|scars?|slashed) (?:again|my (?:arms?|wrists?|legs?|thighs?|skin|"
        r"stomach|hips?))\b|\b(?:started|start|relapsed (?:into|and)|back to) cutting\b|\bcutting again\b",
    ),
    ("relapse", "passive", r"\brelaps(?:e|ed|ing)\b"),
    # passive wishes and death as a way out
    (
        "don't want to live",
        "passive",
        r"\b(?:don'?t|do not|didn'?t|no longer) (?:want|wanna|wish) (?:to )?(?:live|be "
        r"alive|be here|exist|wake up|go on|keep going|carry on)\b",
    ),
    (
        "not wake up",
        "passive",
        r"\b(?:not|never|didn'?t|don'?t) (?:to )?wake (?:up)?\b|\bsleep (?:forever|and never)\b",
    ),
    (
        "not being here",
        "passive",
        r"\b(?:not being|not be|no longer be|stop being) (?:here|around|alive)\b|"
        r"\bstop(?:ped)? existing\b|\bcease to exist\b|\bdisappear (?:forever|for good|permanently)\b",
    ),
    (
        "tired of living",
        "passive",
        r"\b(?:tired|sick|done) (?:of|with) (?:living|life|being alive|existing)\b",
    ),
    (
        "no reason to live",
        "passive",
        r"\b(?:no|nothing|no point|no reason) (?:reason )?(?:to|in|for) "
        r"(?:live|living|go on|going on|stay alive|staying alive|be here|being here|living for)\b|"
        r"\bnothing (?:left )?to live for\b",
    ),
    (
        "what's the point of going on",
        "passive",
        r"\b(?:what'?s|what is|whats) the point (?:of|in) (?:living|going on|"
        r"being alive|being here|staying alive|carrying on|waking up|existing|life|it all|"
        r"anything anymore)\b",
    ),
    (
        "can't go on",
        "passive",
        r"\b(?:can'?t|cannot|don'?t want to|unable to) (?:go on|keep going|keep living|"
        r"do this anymore|take it anymore|carry on)\b",
    ),
    ("end it all", "passive", r"\bend(?:ing)? it(?: all)?\b|\bend everything\b|\bmake it (?:all )?stop\b"),
    (
        "thoughts of death",
        "passive",
        r"\b(?:think|thinking|thought|thoughts|dream\w*|fantasi[sz]\w*) (?:about|of) "
        r"(?:dying|death|being dead|suicide|killing|hurting|harming|ending|not being|"
        r"my funeral|not existing)\b",
    ),
    (
        "wish to die",
        "passive",
        r"\b(?:welcome death|rather (?:be )?(?:dead|die)|(?:could|would|should) just die|"
        r"want (?:it|this|everything) (?:all )?to (?:end|stop)(?: for good| forever| permanently)?)\b",
    ),
    ("burden", "passive", r"\b(?:i'm|i am|im) (?:just )?(?:a|such a) burden\b"),
    (
        "goodbye",
        "passive",
        r"\b(?:goodbye (?:letter|note)s?|(?:wrote|writing|write) (?:a |my )?(?:goodbye|suicide|"
        r"last) (?:letter|note)s?|giv(?:e|ing) away my (?:things|stuff))\b",
    ),
    # topic words: risk only in context; the sentence model decides
    (
        "death words",
        "topic",
        r"\b(?:die|dies|died|dying|dead|death|deaths|kill|killed|killing|suicide|suicides|"
        r"pills|rope|noose|razor|blades?|bridge|bleed\w*|blood|wrists?|funeral|grave|"
        r"gone forever|alive|overdoses)\b",
    ),
)

# An expression that points back at a risk mention of the same or the previous sentence:
# "my mum tried once and now I'm thinking about it too".
ANAPHORA = re.compile(
    rf"\b{_I} (?:am |have been |been |was |keep |started |start )?(?:thinking|thought|considering|"
    r"tempted|planning|doing|done) (?:about |of )?(?:it|that|doing (?:it|that|the same)|the same(?: thing)?)"
    r"(?: too| as well| also)?\b|\b(?:me too|so have i|so do i|i want to too|i've started too|i have too)\b"
)
ATTEMPT_TOPIC = re.compile(r"\b(?:tried|attempt\w*)\b")
