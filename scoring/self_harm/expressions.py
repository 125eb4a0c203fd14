"""The self-harm detector's risk expressions: what a patient may write when stating thoughts of death,
suicide or self-harm.

Each expression has a name (shown to reviewers as the cue that fired) and a kind whose weight is in
`scoring/data/self_harm_head.json`; `cues.py` then qualifies each match by its clause. Patterns run on
`cues.normalise`d text: lower case, apostrophes removed ("don't" -> "dont", "I'm" -> "im"), so one
pattern covers "don't", "dont" and "don’t".

Kinds:
- "strong": an explicit statement of suicidal thought, intent, plan or attempt, or of self-harm;
- "passive": a passive wish to be dead, death as a way out, reasons for living gone or held onto;
- "topic": words about death or self-harm that are risk only in context (the sentence model reads them);
- "anaphora": "thinking about it too" after a risk mention in the same or the previous sentence.
"""

from __future__ import annotations

import re

_I = r"(?:i|im|ive|id|ill)"
_NOT = r"(?:not|never|dont|didnt|do not|no longer)"

STRONG: dict[str, str] = {
    "kill myself": (
        r"\b(?:kill(?:ing|ed|s)?|off(?:ing)?|end(?:ing|ed)?|top(?:ping|ped)?|do(?:ing)? away with) "
        r"my ?self\b|\bkms\b|\bsewer ?slide\b"
    ),
    # "suicidal" about oneself; "suicidal people", "suicidal thoughts are common" are topic words below
    "suicidal": (
        r"\b(?:im|i am|ive been|i was|i feel|i felt|feel|feeling|felt|get|getting|been|become|became|so|very|"
        r"really|actively|passively|quite|pretty|extremely) suicidal\b|\bsuicidal (?:again|lately|today|"
        r"tonight|right now|these days|every)\b|\bmy suicid\w*\b|\bsuicid\w* (?:thoughts?|urges?|feelings?) "
        r"(?:are|have been|came|come|keep|won|again)\b|\bi (?:have|get|keep having|am having|had) suicid\w*"
    ),
    "suicide, mine": r"\b(?:commit(?:ting)?|attempt(?:ing|ed)?|contemplat\w*|consider\w*|tried) suicide\b",
    "end my life": r"\b(?:end(?:ing|ed)?|tak(?:e|ing)|took) my (?:own )?life\b|\bunaliv\w*",
    "method": (
        r"\b(?:hang(?:ing)? my ?self|slit(?:ting)? my (?:wrists?|throat)|(?:jump(?:ing)?|"
        r"throw(?:ing)? my ?self)"
        r" (?:off|from) (?:a|the|my) (?:bridge|building|roof|cliff|balcony)|(?:jump(?:ing)?|step(?:ping)?|"
        r"throw(?:ing)? my ?self) in front of (?:a|the) (?:train|bus|car|truck|lorry)|"
        r"(?:how many|enough) (?:pills|tablets|paracetamol)|(?:saving|hoarding|stockpiling) (?:up )?(?:my )?"
        r"(?:pills|tablets|meds|medication)|(?:bought|got|have) (?:a|the) (?:rope|noose)|"
        r"crash(?:ing)? (?:my|the) car on purpose|(?:pills|rope|tablets|meds|blade) (?:is |are )?(?:ready|"
        r"saved|"
        r"hidden)|swerv\w* (?:into|in front of|off)|(?:ways|how) to (?:die|"
        r"end it|end my "
        r"life|overdose)|(?:attempted|tried) (?:it )?again|lethal (?:dose|amount)|"
        r"how much (?:of )?(?:my )?\w+ "
        r"(?:would|it would) (?:take|kill|be lethal)|(?:looking up|looked up|researching|researched|googling|"
        r"googled|"
        r"searching) (?:suicide |painless |lethal )?(?:methods|ways to die|how to die|how many|how much)|"
        r"(?:stockpil|hoard)\w* (?:my |up )?(?:\w+ )?(?:prescription|meds|medication|pills|tablets)|"
        r"(?:know|worked out|figured out) (?:exactly )?how (?:id|i would|ill|i will|im going to) (?:do it|"
        r"kill|"
        r"end it))\b"
    ),
    "overdose": (
        r"\b(?:overdos\w*|od(?:d|ed)? on|(?:take|taking|took|swallow\w*) (?:all|a bunch|a handful|"
        r"the whole \w+)"
        r"(?: of)? (?:my |the )?(?:pills|tablets|meds|medication)|took (?:a bunch|a handful|"
        r"all) of (?:my )?(?:pills|tablets))\b"
    ),
    "want to die": (
        r"\b(?:(?:want(?:ed|s|ing)?|wish(?:ed|ing)?|ready|plan(?:ning)?|try(?:ing)?|deserve|do want) (?:to|"
        r"i could|"
        r"i would|id)|wanna) (?:just )?(?:die|be dead|not be alive|not exist|not be here)\b"
    ),
    "wish I were dead": (
        r"\bwish(?:ed|ing)? (?:that )?i (?:was|were|could be|had) (?:dead|gone|never (?:been )?born)\b|"
        r"\bwish id never been born\b"
    ),
    "better off dead": (
        r"\bbetter off (?:dead|gone|without me|if i (?:was|were|wasnt|werent)\b)|"
        r"\b(?:worth more|better) dead\b|\b(?:better|happier|easier|relieved) (?:off )?(?:without me|"
        r"if i (?:was|were) gone|if i (?:just )?(?:wasnt|werent) (?:here|around|alive)|if i died)\b"
    ),
    "no one would care if I died": (
        r"\bno ?(?:one|body) would (?:care|notice|miss me)(?: if i (?:died|was gone|disappeared))?\b|"
        r"\bno ?(?:one|body) would (?:even )?(?:notice|care) if i\b"
    ),
    "hurt myself": (
        r"\b(?:hurt(?:ing|s)?|harm(?:ing|ed|s)?|punish(?:ing|ed)?|injur\w*|burn(?:ing|ed|t)?|cut(?:ting|s)?|"
        r"scratch(?:ing|ed)?|hit(?:ting)?|starv\w*|bang(?:ing|ed)? my head) my ?self\b"
    ),
    "self-harm": (
        r"\b(?:i|ive|im|i am|been|started|start|keep|my|again|to|still) (?:self[- ]?harm\w*|"
        r"self[- ]?injur\w*)|"
        r"\bself[- ]?harm\w* (?:is the only|helps me|makes me feel)|\bself[- ]?harm(?:ed|ing)? (?:again|"
        r"lately|today|last|this|every)\b|\bsh urges?\b|\burges? to "
        r"(?:cut|hurt|harm|burn|self)"
    ),
    "self-harm act": (
        r"\b(?:carv(?:ed|ing|e) (?:\w+ )?(?:into )?my|made my ?self bleed|(?:bit|bite|"
        r"biting) my (?:\w+ )?(?:until|"
        r"till)|"
        r"reopen(?:ed|ing)? (?:my |the )?(?:old )?(?:scars|wounds|cuts)|took a (?:blade|razor|knife) to my|"
        r"slipped up and "
        r"(?:cut|hurt)|(?:want|wanna|need|urge|urges) to cut(?! (?:my (?!arm|wrist|leg|thigh|skin|self)|back|"
        r"down|ties|off|the|it|costs|a|"
        r"out|"
        r"class|school|people|him|her|them))|(?:hit|hitting|punched|punching|slammed|burned|burnt|bit|"
        r"scratched|"
        r"cut|hurt|bruised) (?:my ?self|my \w+)(?: \w+){0,6} on purpose)\b"
    ),
    "cutting": (
        r"\bbang(?:ed|ing)? my head (?:against|on|into)\b|\b(?:hid|hide|hiding|bought|keep|kept) (?:the |my |"
        r"some |a )?"
        r"(?:razor ?blades?|razors|blades?)\b|\b(?:long sleeves|hide (?:my |the )?(?:cuts|scars|arms))\b|"
        r"\bdeserve (?:the )?pain\b|\b(?:cut|cutting|cuts|slashed|burned|burnt|scratched) (?:again|my "
        r"(?:arms?|wrists?|legs?|thighs?|skin|"
        r"stomach|hips?|body))\b|\b(?:started|start|relapsed (?:into|and)|back to|"
        r"went back to) cutting\b|\brelapsed and cut\b|"
        r"\bcutting again\b|\b(?:fresh|new) (?:cuts|scars|wounds)\b|\brazor blades? (?:so|to) (?:i|cut)\b|"
        r"\buntil (?:it|they|my \w+) (?:bled|bleeds?|bruised)\b|\b(?:covered in|full of) (?:fresh |"
        r"new )?(?:cuts|scars|"
        r"burns)\b|\b(?:till|until) (?:they|it|my \w+) (?:bled|bleed|bruised|split)\b|"
        r"\b(?:on purpose|deliberately) (?:hurt|cut|burn|hit|punch)\w* (?:my|the wall)|"
        r"\b(?:hurt|cut|burn|hit|punch)\w* (?:my ?self|my \w+|the wall|a wall|walls)(?: \w+){0,5},? "
        r"(?:on purpose|deliberately)\b"
    ),
}

PASSIVE: dict[str, str] = {
    "dont want to live": (
        rf"\b(?:{_NOT} (?:really |even |actually |honestly )?(?:want|wanna|wish)|not wanting) (?:to )?"
        r"(?:live|be alive|be here|"
        r"exist|wake up|go on|keep going|carry on)\b"
    ),
    "not wake up": (
        r"\b(?:not|never|wont|dont|didnt|wouldnt|couldnt) (?:to )?wake (?:up)?\b|\bsleep (?:forever|"
        r"and never)\b|"
        r"\bnever wake up\b"
    ),
    "not being here": (
        r"\b(?:not being|not be|no longer be|stop being) (?:here|around|alive)\b|\bstop(?:ped)? existing\b|"
        r"\bcease to exist\b|\bdisappear (?:forever|for good|permanently)\b|\bwont be (?:here|around) "
        r"(?:much longer|by|for)\b|\b(?:dont|do not) think (?:ill|i will|i can) (?:be here|be around|make it|"
        r"last|"
        r"survive|hold on)\b|\bnot (?:be|being) alive (?:much )?(?:longer|by)\b"
    ),
    "tired of living": r"\b(?:tired|sick|done|exhausted) (?:of|with) (?:living|life|being alive|existing)\b",
    "no reason to live": (
        r"\b(?:no|nothing|no point|no reason) (?:reason )?(?:for me )?(?:to|in|for) (?:live|living|go on|"
        r"going on|stay "
        r"alive|staying alive|be here|being here|living for|keep living|keep going)\b|\bnothing (?:left )?to "
        r"live for\b|\b(?:had|have) to live for\b|\b(?:isnt|not|never) worth living\b|"
        r"\bworth living anymore\b"
    ),
    "reasons keeping me alive": (
        r"\b(?:only (?:reason|thing)|all thats) (?:i(?:m| am) still (?:here|alive)|keeping me (?:alive|here)|"
        r"stopping me|holding me back|that keeps me (?:alive|here|going)|i havent|i didnt|i dont)\b|"
        r"\bkeeping me alive\b|"
        r"\b(?:couldnt|cant|could not) bring my ?self to (?:kill|end|jump|go through with|actually do it|"
        r"do it)\b"
    ),
    "whats the point of going on": (
        r"\b(?:whats|what is) the point (?:of|in) (?:me )?(?:living|going on|being alive|being here|staying "
        r"alive|carrying on|waking up|existing)\b|\bwhy (?:should|would) i "
        r"(?:keep (?:living|going)|stay alive|go on|carry on)\b"
    ),
    "cant go on": (
        r"\b(?:cant|cannot|dont want to|unable to) (?:go on|keep going|keep living|do this anymore|take it "
        r"anymore|carry on)\b"
    ),
    "end it all": (
        r"\b(?:to|just|gonna|wanna|could|should|will|ill|might|and|i) "
        r"end (?:it|things|everything)(?: all)?\b|"
        r"\bend it all\b|\bending (?:it|things|everything)\b|\bmake it (?:all )?stop (?:for good|forever)\b"
    ),
    "thoughts of death": (
        r"\b(?:think|thinking|thought|thoughts|dream\w*|fantasi[sz]\w*|obsess\w*) (?:about|of) (?:my own )?"
        r"(?:dying|death|being dead|suicide|killing|hurting|harming|ending|not being|my funeral|not existing"
        r"|jumping|overdosing|cutting|funeral)\b|\bmy own funeral\b"
    ),
    "wish to die": (
        r"\b(?:want (?:it|this|everything|life) (?:all )?to be over|welcome death|rather (?:be )?(?:dead|"
        r"die)|(?:could|would|should) just die|want (?:it|this|"
        r"everything) (?:all )?to (?:end|stop) (?:for good|forever|permanently)|death (?:would be|is|sounds) "
        r"(?:a relief|peaceful|the only|my only|the answer|better)|dying sounds|no way out|"
        r"(?:suicide|death|dying|ending it) (?:is|feels like|seems like|seems) (?:the|my) only "
        r"(?:option|way|way out|answer|solution)|"
        r"die with dignity|death wish|(?:not brave enough|too (?:scared|afraid|much of a coward)|(?:dont|"
        r"do not) "
        r"have the (?:guts|courage|balls)) to (?:end it|end my|kill|die|do it|go through)|"
        r"hope (?:i|a \w+) (?:get|gets) hit by|"
        r"(?:wouldnt|would not) mind (?:dying|if (?:i died|a \w+ hit me))|"
        r"(?:dont|do not) see my ?self (?:being )?(?:alive|here|around))\b"
    ),
    "death as a way out": (
        r"\b(?:death|dying|being dead|suicide|not being alive|not existing|killing my ?self|ending it) (?:is|"
        r"would "
        r"be|feels like|seems like|seems|sounds like|looks like) (?:the|my|an?) (?:only |easy |"
        r"best )?(?:escape|way "
        r"out|answer|solution|relief|release|option)|\b(?:death|dying|being dead|killing my ?self|suicide) "
        r"would (?:honestly |just |really )?(?:solve|fix|end|stop|be easier|be better|be a relief)|"
        r"\bsee (?:death|dying|suicide) as\b|"
        r"\bif i (?:were|was) dead,? i (?:wouldnt|would not|wont|could)\b|\b(?:would|"
        r"will) (?:all )?be over if i "
        r"(?:just )?(?:died|was dead|were dead|was gone|were gone)\b|\b(?:rather|prefer to|"
        r"prefer) (?:to )?not (?:to )?(?:exist|be "
        r"alive|be here)\b|\bwant out of (?:this|my) life\b|\bcheck(?:ed|ing)? out for good\b|\bonly way "
        r"(?:this|it) (?:ends|stops)\b|\b(?:permanent|final) (?:way out|escape|sleep)\b|"
        r"\ba way out,? "
        r"(?:permanently|for good|forever)\b|\b(?:dying|death) is the answer\b"
    ),
    "burden": r"\b(?:im|i am) (?:just )?(?:a|such a) burden\b",
    # 1.3: more wordings of death as a way out, of a life given up on and of putting things in order
    "given up on living": (
        r"\b(?:giv(?:e|en|ing)|gave) up on (?:living|life|being alive|staying alive)\b|\bbeing gone would\b|"
        r"\bsleep(?:ing)? forever\b|\b(?:cant|cannot|dont|do not) see my ?self (?:making it|getting|living) "
        r"(?:to|through|past)\b|\bpainless (?:ways?|way) to (?:go|die|end)\b|\bwont be (?:here|around) "
        r"(?:to|for|anymore|any more)\b|\b(?:put(?:ting)?|tid(?:y|ying)|sort(?:ing)?) (?:up )?my affairs\b|"
        r"\bpoint (?:of|in) (?:even )?(?:living|being alive|existing)\b|\bsomething (?:bad )?(?:happens|"
        r"would happen|to happen) to me so\b|\b(?:only|still) here (?:because|for) (?:of )?\w+\b|"
        r"\b(?:car|bus|truck|lorry|train) would (?:just )?hit me\b|\bone way (?:this|it) (?:ends|will end)\b"
    ),
    "goodbye": (
        r"\b(?:goodbye (?:letter|note)s?|(?:wrote|writing|write) (?:a |my )?(?:goodbye|suicide|last) "
        r"(?:letter|note)s?|(?:letters?|notes?) (?:to|for) (?:my |the )?\w+ in case|in case (?:im|i am) not "
        r"(?:here|around)|giv(?:e|ing|en) (?:away )?my (?:things|stuff|belongings) (?:away )?)\b"
    ),
    # 1.4: not existing, having had enough of life, wanting out for good, an accident welcomed
    "not existing": (
        r"\b(?:to|just|could|would|wanna|want to|wish i could|rather|prefer to) (?:just )?(?:not exist|stop "
        r"existing|not be alive|not be here anymore|fade away|go to sleep (?:and|forever)|be gone)\b|"
        r"\b(?:had|have had|ive had) enough of (?:living|life|being alive|existing|it all|everything)\b|"
        r"\b(?:done|finished) with (?:living|life|this life|being alive|existing)\b|"
        r"\bif i (?:just )?(?:disappeared|vanished|was gone|were gone|didnt exist|wasnt here|werent here)\b|"
        r"\b(?:wish|hope|pray|praying) (?:that )?(?:i|id) (?:die|died|would die|get sick and die|dont wake|"
        r"never wake|wont wake|could die|just die|stop breathing|dont make it)\b|"
        r"\b(?:wish|hope) (?:something|someone|a \w+|the \w+) (?:would|will|could)? ?(?:kill|hit|take) me\b|"
        r"\b(?:wouldnt|would not|dont|do not) (?:mind|care) if i (?:died|didnt wake|never woke|got hit|"
        r"crashed|was gone|dropped dead)\b|\b(?:everyone|everybody|they|people|the world|my \w+) "
        r"(?:would|will|could|d) (?:be|get|manage|cope|do|get on) (?:just )?"
        r"(?:better|happier|fine|ok|okay) (?:off )?(?:without me|if i (?:was|were|wasnt|werent|died|left))\b|"
        r"\b(?:out of|off) (?:the|this) (?:picture|world|planet) for good\b|\bnot (?:be )?around to see\b"
    ),
}

WIDE_NET = "risk topic words"
TOPIC: dict[str, str] = {
    "death words": (
        r"\b(?:die|dies|died|dying|dead|death|deaths|kill|killed|killing|suicide|suicides|pills|rope|noose|"
        r"razor|blades?|bridge|(?:train )?tracks|ledge|bleed\w*|blood|wrists?|funeral|grave|gone forever|"
        r"alive|overdoses|scars?|"
        r"harm|hurt|end (?:it|things|everything)|not here|suicidal|self[- ]?harm\w*|self[- ]?injur\w*)\b"
    ),
    # A wide, cheap net of risk-topic words and phrases: nothing here is risk by itself, but a sentence
    # holding one is worth the sentence model's time (death as a way out, plans and means, relapse).
    WIDE_NET: (
        r"\b(?:ending (?:it|things|everything|my)|end (?:this|my)|(?:be|im|was|were|just) gone|"
        r"not (?:be )?(?:here|around) (?:anymore|any more|much longer|for long|tomorrow)|"
        r"disappear\w*|vanish\w*|"
        r"no point|pointless|(?:no|any) reason to|(?:keep|kept|go|going) on|burden\w*|better off|"
        r"overdos\w*|\w*tablets|meds|paracetamol|jump\w*|hang\w*|guns?|firearm|in front of (?:a|the)|"
        r"razors?|cut(?:ting)? (?:my|me|again|deeper)|burn(?:ing|ed|t)? (?:my|me)|scratch\w* (?:my|me)|"
        r"sleep (?:forever|for good|and not)|(?:not|never|dont) wake|goodbye|last (?:letter|note|message)|"
        r"giv(?:e|ing|en) (?:away|my (?:things|stuff))|(?:a|the|my) (?:plan|date|method)|methods?|"
        r"relaps\w*|slipped|urges?|no way out|escape|give up on (?:life|everything|living)|"
        r"(?:the )?(?:edge|roof|cliff|balcony)|(?:stop|stopped) (?:breathing|existing)|cease|"
        r"(?:wont|will not|dont|do not) (?:make it|last|survive)|make it stop|over with|numb|cutting|cuts|"
        r"(?:going to|gonna|how (?:id|i would|i could|to)|"
        r"planning (?:to|how)) do it|(?:would|will) (?:\w+ )?miss (?:me|him|her)|"
        # (waking and sleep words are not here: every depressed patient's sleep talk is full of them)
        r"(?:no|nobody|no one) (?:would )?miss|(?:disappointed|sorry|upset|angry) (?:that )?i woke|"
        r"out of the picture|"
        r"(?:wasnt|werent|wasn't|not) (?:here|around)|letters? (?:to|for)|just in case|bottle of|"
        r"(?:doesnt|dont) scare me|(?:sounds|seems|feels) like (?:rest|peace|relief)|for good|"
        # 1.4: wider: living and existing, the thoughts and urges, means and places, a streak broken
        r"exist\w*|living|live|life|lives|enough|anymore|any more|dark thoughts|intrusive|those thoughts|"
        r"the thoughts|thoughts (?:again|came|are)|(?:the|that) urge|swallow\w*|the lot|knife|knives|"
        r"platform|train|bus|motorway|traffic|cliffs?|bridges?|rope|tie|belt|medicine cabinet|insurance|"
        r"streak|clean (?:for|since)|days clean|my (?:will|funeral)|punish(?:ing|ment)? (?:my ?self|me)|"
        r"deserve (?:to|it|this|pain)|hurt(?:ing)? (?:my ?self|me)|hit(?:ting)? (?:my ?self|me)|bruis\w*|"
        r"starv\w*|burn\w*|scratch\w*|blood|bled|wrist\w*|arms|thighs|leave (?:this|the) world|"
        r"(?:not|never) (?:be|being) (?:here|around)|(?:be|being) gone|disappear|the end|over|stop (?:it|all|"
        r"this|everything)|whats the point|why bother|cant do this|give up|giving up|gave up)\b"
    ),
}

EXPRESSIONS: tuple[tuple[str, str, str], ...] = (
    *((name, "strong", pattern) for name, pattern in STRONG.items()),
    *((name, "passive", pattern) for name, pattern in PASSIVE.items()),
    *((name, "topic", pattern) for name, pattern in TOPIC.items()),
)

# An expression that points back at a risk mention of the same or the previous sentence:
# "my mum tried once and now I'm thinking about it too".
ANAPHORA = re.compile(
    rf"\b{_I} (?:am |have been |been |was |keep |started |start )?(?:thinking|thought|considering|"
    r"consider|tempted|planning|want) (?:about |of |to do )?"
    r"(?:it|that|doing (?:it|that|the "
    r"same)|the same(?: thing)?)(?: too| as well| also| again| my ?self)?\b|\b(?:me too|so have i|so do i|"
    r"i want to too|ive started too|i have too|i started too|i do too|because i do)\b|\b(?:did|done|doing|do|"
    rf"started|start|starting) (?:it|that|doing it) again\b|\b{_I} relaps(?:e|ed|ing)\b|"
    r"\b(?:going to|gonna|planning to|plan to|ready to|want to|about to) (?:do it|go through with it)\b|"
    r"\b(?:planning|plan|decided) (?:how|when|where) (?:id|i would|ill|i will|to) do it\b|\bi (?:have|made|"
    r"got) a plan\b|\bhow easy it would be\b|\b(?:picked|chosen|chose|set) (?:a|the) (?:date|day)\b|\b(?:got|"
    r"have) it (?:all )?planned\b|\bworked out (?:which|where|when)\b|\b(?:written|wrote|writing|"
    r"write) (?:a |"
    r"my )?(?:note|letter)s?\b|\b(?:broke|lost|ended) my (?:clean )?streak\b"
)
ATTEMPT_TOPIC = re.compile(
    r"\b(?:tried|attempt\w*|cuts?|cutting|overdosed|self[- ]?harm\w*|scars?|"
    r"blades?|clean (?:for|since)|(?:\d+|one|two|three|four|five|six|a few|several|many) (?:years?|months?|"
    r"weeks?|days?) clean|clean streak)\b"
)
