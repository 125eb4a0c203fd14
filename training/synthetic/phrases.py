"""Phrase banks for the synthetic demo clinic (training/synthetic/clinic.py).

Every phrase, template and slot value here was written for this project; nothing is copied from any
dataset, website or real conversation, and there are no names, e-mail addresses, phone numbers or URLs.
Templates hold {slots} filled from SLOTS; SYMPTOMS[item][direction][intensity] are what a user says
about PHQ-9 item `item` (1..9) at intensity 1..3; POSITIVE[item] are intensity-0 remarks.
"""

from __future__ import annotations


def options(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


SLOTS: dict[str, tuple[str, ...]] = {
    "time": options("2am|3am|half past three|four in the morning|1am|5am|half past two"),
    "hours": options("four hours|three hours|five hours|a few hours|about four hours"),
    "late": options("midday|eleven|one in the afternoon|noon|half eleven"),
    "long": options("ten hours|eleven hours|twelve hours|half the day|over ten hours"),
    "hobby": options(
        "painting|reading|gardening|cooking|running|baking|swimming|photography|knitting|cycling|"
        "drawing|chess|yoga|playing guitar|my puzzles"
    ),
    "person": options(
        "my sister|my brother|my partner|my mum|my dad|a friend|my flatmate|my neighbour|"
        "my cousin|an old friend|my best friend|a colleague|my aunt"
    ),
    "food": options("toast|a bowl of cereal|some soup|a sandwich|a few crackers|a banana|some rice"),
    "snack": options("crisps|biscuits|sweets|chocolate|cookies"),
    "task": options(
        "the report|my emails|the laundry|the budget spreadsheet|the forms|my tax return|"
        "the presentation|the assignment|the rota|the invoices"
    ),
    "chore": options(
        "the washing up|a shower|getting dressed|the shopping|hoovering|walking to the shop|making the bed"
    ),
    "show": options(
        "a cooking show|a crime drama|a nature documentary|a quiz show|an old sitcom|the football|"
        "a baking competition|a detective series"
    ),
    "place": options("the park|the market|the garden centre|the seaside|the cinema|a cafe"),
    "weather": options("grey|rainy|sunny|windy|cold|muggy|bright"),
    "pet": options("the dog|the cat|my cat|my dog"),
    "dish": options("a curry|lentil soup|banana bread|a stir fry|flapjacks|a pasta bake"),
}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# item -> variant -> intensity -> templates. Items 3, 5 and 8 have two directions; the others one ("").
SYMPTOMS: dict[int, dict[str, dict[int, tuple[str, ...]]]] = {
    1: {
        "": {
            1: (
                "A couple of times this week I couldn't be bothered with {hobby}.",
                "Some days nothing really grabs me, not even {hobby}.",
                "Now and then I just don't feel like doing anything fun.",
                "I skipped {hobby} once or twice because it felt like a chore.",
                "There were a few evenings when {show} didn't hold my interest at all.",
                "Once or twice I cancelled on {person} because I wasn't in the mood.",
            ),
            2: (
                "Most days I can't find any enjoyment in {hobby} anymore.",
                "More often than not I'd rather just sit there than do anything.",
                "I haven't really enjoyed much this week, most of it felt flat.",
                "{person} asked me to do something and I said no again, that's most weeks now.",
                "Most evenings I just scroll on my phone without enjoying any of it.",
                "I used to look forward to {hobby}, now most days I don't care.",
            ),
            3: (
                "Nothing interests me anymore, not even {hobby}.",
                "Every single day feels flat, I can't enjoy anything.",
                "I've stopped {hobby} completely, I just don't care about it.",
                "I don't get pleasure from anything at all lately.",
                "Even seeing {person} feels like nothing now, every time.",
                "I can't remember the last time I enjoyed something.",
            ),
        },
    },
    2: {
        "": {
            1: (
                "I had a couple of low days this week.",
                "Now and then I get this heavy sad feeling out of nowhere.",
                "Some days I feel a bit down, but it passes.",
                "I felt flat on {day} but it lifted later.",
                "Once or twice I wondered if things will ever get better.",
                "I had a teary moment or two this week.",
            ),
            2: (
                "I've felt down most days this week.",
                "More often than not I feel pretty hopeless about things.",
                "Most mornings I wake up already feeling low.",
                "The sadness sticks around for most of the day now.",
                "Most of the week it's felt like there's a grey cloud over me.",
                "I keep thinking things won't improve, more days than not.",
            ),
            3: (
                "I feel hopeless pretty much all the time.",
                "Every day feels heavy and dark.",
                "I can't shake this low feeling, it's there constantly.",
                "I don't see things ever getting better.",
                "I've felt empty every single day this week.",
                "I cry most nights and feel miserable all day long.",
            ),
        },
    },
    3: {
        "less": {
            1: (
                "A couple of nights I was awake until {time}.",
                "I had trouble dropping off once or twice this week.",
                "Some nights I wake up at {time} and lie there for a while.",
                "My sleep was a bit broken a few nights.",
                "Now and then I can't switch my head off at bedtime.",
                "I slept badly on {day} but otherwise it was okay.",
            ),
            2: (
                "Most nights I'm still awake at {time}.",
                "I've only been getting {hours} of sleep most nights.",
                "More often than not I wake at {time} and can't get back to sleep.",
                "Sleep has been bad for most of the week.",
                "Most nights I'm tossing and turning for ages.",
                "I've been lying awake more nights than not.",
            ),
            3: (
                "I barely sleep at all anymore, every night is the same.",
                "I'm up at {time} every single night.",
                "I haven't had a proper night's sleep in weeks.",
                "Every night I lie awake until {time}, then wake again an hour later.",
                "I'm lucky to get {hours} of sleep, and that's every night.",
                "I can't sleep, it's constant, night after night.",
            ),
        },
        "more": {
            1: (
                "A couple of days I slept until {late} without meaning to.",
                "Now and then I nap for hours in the afternoon.",
                "Some days I just want to stay in bed longer than usual.",
                "Once or twice I slept {long} and still felt groggy.",
                "I overslept a few times this week.",
                "On {day} I went back to bed after breakfast and slept till the afternoon.",
            ),
            2: (
                "Most days I'm sleeping {long} and still feel like I need more.",
                "More often than not I end up back in bed in the afternoon.",
                "Most mornings I can't get up before {late}.",
                "I've been napping most days, sometimes for hours.",
                "I've slept far too much on most days this week.",
                "Most days I sleep through my alarm.",
            ),
            3: (
                "I'm sleeping {long} every day and it's never enough.",
                "I basically spend all day in bed now.",
                "Every day I sleep through the morning and nap again later.",
                "I can't stop sleeping, it's every single day.",
                "I'm in bed for most of every day, just sleeping.",
                "I sleep until {late} every day and I'm still shattered.",
            ),
        },
    },
    4: {
        "": {
            1: (
                "A few days this week I felt really drained.",
                "Some afternoons I just run out of steam.",
                "Once or twice I had to sit down halfway through {chore}.",
                "I've been a bit more tired than usual now and then.",
                "On {day} I had no energy at all, but other days were fine.",
                "A couple of times I needed a lie down after work.",
            ),
            2: (
                "I'm tired most days, even after a full night.",
                "More often than not I'm exhausted by lunchtime.",
                "Most days even {chore} wears me out.",
                "I've had low energy for most of the week.",
                "Most evenings I'm too worn out to cook.",
                "My battery feels flat more days than not.",
            ),
            3: (
                "I'm exhausted all the time.",
                "Every single day I feel completely drained.",
                "I have no energy at all, even {chore} feels impossible.",
                "I'm worn out constantly, from the moment I wake up.",
                "I feel like I'm running on empty every day.",
                "I'm so tired every day that I can barely get off the sofa.",
            ),
        },
    },
    5: {
        "less": {
            1: (
                "A couple of days I forgot to eat lunch.",
                "Now and then I'm just not hungry.",
                "Some days I only manage {food} before the evening.",
                "I skipped breakfast a few times this week.",
                "My appetite was off on {day}.",
                "Once or twice I left most of my dinner.",
            ),
            2: (
                "Most days I'm not really hungry at all.",
                "More often than not I just have {food} and call it a meal.",
                "I've been skipping meals most days.",
                "Food doesn't appeal to me most of the time.",
                "Most evenings I can't face cooking, so I barely eat.",
                "I've been picking at my food more days than not.",
            ),
            3: (
                "I barely eat anything these days.",
                "I have to force myself to eat every day.",
                "My clothes are getting loose, I've hardly eaten in weeks.",
                "Every day I only manage a bit of {food}.",
                "I've no appetite at all, I keep missing meals completely.",
                "I haven't felt hungry once in weeks.",
            ),
        },
        "more": {
            1: (
                "A couple of nights I ate a whole bag of {snack}.",
                "Now and then I snack when I'm not even hungry.",
                "Some evenings I comfort eat in front of the telly.",
                "I ordered a takeaway a few times this week without really wanting it.",
                "Once or twice I ate way more than I meant to.",
                "On {day} I kept going back to the fridge all evening.",
            ),
            2: (
                "Most days I'm eating much more than usual.",
                "More often than not I end up raiding the cupboards at night.",
                "I've been comfort eating most days.",
                "Most evenings I get through a whole packet of {snack}.",
                "I keep eating even when I'm full, most days this week.",
                "More days than not I'm grazing from morning to night.",
            ),
            3: (
                "I'm eating constantly, every day.",
                "I can't stop eating, it's every single day.",
                "I've put on weight because I'm snacking all day long.",
                "Every night I binge on {snack} and feel awful after.",
                "I eat all day without even being hungry.",
                "Every day I eat until I feel sick.",
            ),
        },
    },
    6: {
        "": {
            1: (
                "Now and then I feel like I'm letting people down.",
                "A couple of times I called myself useless.",
                "Some days I feel like a bit of a failure.",
                "I was hard on myself after messing up {task}.",
                "Once or twice this week I felt like I'm not good enough.",
                "On {day} I felt like I'd disappointed {person}.",
            ),
            2: (
                "Most days I feel like I'm a disappointment to {person}.",
                "More often than not I think I'm just useless.",
                "I keep going over my mistakes most days.",
                "Most of the week I've felt like a failure.",
                "I feel guilty most days about how little I get done.",
                "More days than not I feel like I'm not worth much.",
            ),
            3: (
                "I feel like a complete failure every day.",
                "I hate myself, constantly.",
                "I feel like a burden to everyone, all the time.",
                "Every day I think I've ruined everything.",
                "I can't stop thinking about how worthless I am.",
                "I let everyone down, every single day.",
            ),
        },
    },
    7: {
        "": {
            1: (
                "A couple of times I read the same page three times.",
                "Now and then I lose track of what people are saying.",
                "Some days I struggle to focus on {task}.",
                "I zoned out in a meeting once or twice.",
                "On {day} I couldn't concentrate on {show} at all.",
                "A few times I walked into a room and forgot why.",
            ),
            2: (
                "Most days I can't concentrate on {task}.",
                "More often than not my mind wanders off mid-sentence.",
                "I can't follow {show} most evenings, my head's all over the place.",
                "Most of the week I've been staring at {task} without getting anywhere.",
                "I keep losing my train of thought most days.",
                "More days than not I can't get through a page of my book.",
            ),
            3: (
                "I can't concentrate on anything anymore.",
                "Every day I try to do {task} and my brain just won't focus.",
                "I can't even follow a conversation, it happens all the time.",
                "My head is foggy constantly, I can't read or watch anything.",
                "I haven't been able to focus on a single thing all week.",
                "Every day my mind goes blank when I try to think.",
            ),
        },
    },
    8: {
        "slow": {
            1: (
                "A couple of times {person} said I seemed slow.",
                "Some days I feel like I'm moving through treacle.",
                "Now and then it takes me ages to get going.",
                "Once or twice I noticed I was talking really slowly.",
                "On {day} everything I did felt slowed down.",
                "A few times this week my body felt heavy and slow.",
            ),
            2: (
                "Most days I'm moving really slowly.",
                "More often than not {person} has to wait for me to answer.",
                "I feel sluggish most of the time, like my body is heavy.",
                "Most days it takes me an hour just to get dressed.",
                "My speech feels slow and flat most days.",
                "More days than not I'm dragging myself around.",
            ),
            3: (
                "I'm so slowed down, every little thing takes forever.",
                "{person} keeps saying I talk really slowly now, it's every day.",
                "I move like I'm underwater all the time.",
                "Every day I just sit still for hours, too slow to do anything.",
                "My body feels like lead constantly.",
                "Every single day I'm moving in slow motion.",
            ),
        },
        "restless": {
            1: (
                "A couple of times I couldn't sit still.",
                "Now and then I get fidgety and pace around.",
                "Some evenings I'm restless and can't settle.",
                "Once or twice I was tapping my leg through a whole meeting.",
                "On {day} I felt jittery and on edge.",
                "A few times this week I couldn't stay in my chair.",
            ),
            2: (
                "Most days I'm fidgety and can't sit down for long.",
                "More often than not I'm pacing the flat.",
                "I've been restless most of the week.",
                "Most evenings I can't settle, I keep getting up.",
                "{person} says I've been really fidgety most days.",
                "More days than not my legs just won't keep still.",
            ),
            3: (
                "I'm restless all the time, I can't keep still.",
                "Every day I'm pacing up and down for hours.",
                "I can't sit through anything, even {show}, I'm constantly fidgeting.",
                "I feel wired and jittery every single day.",
                "I'm so restless it's constant, I can't settle at all.",
                "Every day I'm up and down out of my seat nonstop.",
            ),
        },
    },
    9: {
        "": {
            1: (
                "Sometimes I think everyone would be better off without me.",
                "Once or twice I've wondered if it would matter if I wasn't here.",
                "Now and then I get a passing thought that I'd rather not wake up.",
                "A couple of times I thought people would manage fine without me.",
                "Some nights I wish I could just disappear.",
                "On {day} I had the thought that nobody would notice if I was gone.",
            ),
            2: (
                "Most days I get thoughts that everyone would be better off without me.",
                "More often than not I wish I could just not wake up.",
                "The thought that I'd be better off gone keeps coming back most days.",
                "Most nights I think about not being here anymore.",
                "I've had dark thoughts about not being around, more days than not.",
                "Most days there's a voice saying the world would be fine without me.",
            ),
            3: (
                "Every day I think everyone would be better off if I wasn't here.",
                "Thoughts of not wanting to be alive are there nearly all the time.",
                "I think about not being here every single day.",
                "I keep having thoughts of hurting myself, they're there all the time.",
                "I wish I was gone, I think it every day.",
                "Every day I feel like I don't want to be alive.",
            ),
        },
    },
}

# Intensity 0: positive or neutral remarks, said now and then on days an item is at 0 (never item 9).
POSITIVE: dict[int, tuple[str, ...]] = {
    1: (
        "I actually enjoyed {hobby} this week, which was nice.",
        "Had a good time with {person} at the weekend.",
        "I've been looking forward to {hobby} again.",
        "Got back into {hobby} and it felt good.",
        "I laughed a lot watching {show} with {person}.",
    ),
    2: (
        "My mood has been pretty steady this week.",
        "I've felt quite hopeful lately.",
        "Honestly I'm in a good place today.",
        "Things feel more manageable than they did.",
        "I woke up feeling fairly cheerful.",
    ),
    3: (
        "I slept well last night.",
        "Got a solid eight hours, which helped.",
        "Sleep has been pretty normal lately.",
        "I've been going to bed at a sensible time and sleeping through.",
        "Woke up feeling rested for once.",
    ),
    4: (
        "I've had decent energy this week.",
        "Felt quite lively today actually.",
        "I managed a long walk and still had energy after.",
        "Energy's been good, I got loads done.",
        "Not tired at all today, which makes a change.",
    ),
    5: (
        "I've been eating normally.",
        "Had a proper meal with {person} last night.",
        "My appetite is back to normal.",
        "Cooked myself {dish} and enjoyed it.",
        "I'm eating regular meals again this week.",
    ),
    6: (
        "I'm actually a bit proud of myself for finishing {task}.",
        "I handled {task} well and felt good about it.",
        "I think I'm being kinder to myself lately.",
        "{person} said I did a good job and I believed it.",
        "I felt fairly confident at work today.",
    ),
    7: (
        "I could focus properly at work today.",
        "Read a few chapters of my book without drifting off.",
        "My head feels clearer this week.",
        "I got through {task} without getting distracted.",
        "Concentration's been fine, no complaints.",
    ),
    8: (
        "I feel more like my normal self physically.",
        "I've been getting around at my usual pace.",
        "Went for a brisk walk and felt good.",
        "Felt settled and calm today.",
        "I wasn't restless at all today.",
    ),
}

OPENERS = options("Hi.|Hey.|Hello again.|Good {part}.|Hi, it's me again.|Hey, quick check-in.|Hello.")
SMALL_TALK = (
    "It's been {weather} all week here.",
    "The weather's been so {weather} today.",
    "Work was busy, lots of meetings.",
    "Had a long shift today.",
    "My manager moved a deadline again.",
    "I watched {show} last night.",
    "Tried a new recipe, {dish}, and it turned out alright.",
    "{person} and I went to {place} at the weekend.",
    "{person} came round for tea.",
    "{person} called me this morning.",
    "It's {person}'s birthday next week, I need to get a card.",
    "Started watching {show}, it's not bad.",
    "{pet} has been extra cuddly this week.",
    "The bus was late again this morning.",
    "I finally sorted out the cupboard under the stairs.",
    "There are roadworks right outside my window.",
    "I need to get my hair cut soon.",
    "We had a fire drill at work today.",
    "I've been trying to keep the plants on my windowsill alive.",
    "Popped to {place} for an hour.",
    "The neighbours are redecorating, so it's been noisy.",
    "I've got a dentist appointment later in the week.",
    "{person} sent me photos from their holiday.",
    "There was a long queue at the post office.",
    "Did a big food shop this morning.",
)
USER_REPLIES = (
    "Not really, no.",
    "Maybe, I'm not sure.",
    "I guess I could try.",
    "A walk usually helps a bit.",
    "Talking to {person} helps sometimes.",
    "I honestly don't know.",
    "Yeah, that might work.",
    "I'll think about it.",
    "Music helps a little, I suppose.",
    "Probably, I just need to actually do it.",
    "It's hard to say.",
    "Writing things down helped before.",
)
ELABORATIONS = (
    "I'm not sure why.",
    "It's been like that for a while.",
    "Anyway, that's where I'm at.",
    "I thought I should mention it.",
    "It's hard to explain.",
    "I'm trying not to dwell on it.",
    "I didn't really want to say it out loud.",
    "It's just how things are at the moment.",
)
USER_ANSWERS = (
    "Up and down, I suppose.",
    "Hard to say, to be honest.",
    "Much the same as usual.",
    "I'm not sure, really.",
    "About the same as last time.",
    "So-so, I think.",
)
USER_CLOSINGS = (
    "Thanks, that helps a bit.",
    "Okay, I'll give it a go.",
    "I need to head off now, thanks.",
    "Thanks for listening.",
    "Alright, I'll try that tomorrow.",
    "Okay, talk soon.",
)

# The assistant's replies are the same whatever the patient said (a symptom, good news, small talk):
# replies chosen by the symptom just mentioned made the assistant's text alone carry the label, so a
# model could score the demo from it. A real companion app's replies do react to what is said; the demo
# keeps them neutral so that only the patient's words carry the signal.
NEUTRAL_REPLIES = (
    "Thanks for telling me. What else is on your mind?",
    "I'm listening. How has the rest of your week been?",
    "Thank you for sharing that. What would you like to talk about next?",
    "Okay. How are you feeling right now?",
    "I hear you. Would you like to say more?",
    "Thanks. What's been the main thing for you this week?",
    "Got it. Is there anything you'd like to focus on today?",
    "Thanks for checking in. What's coming up for you in the next few days?",
    "Okay, noted. Anything else you want to mention?",
    "Thank you. How did the rest of the day go?",
    "I see. What do you make of that?",
    "Thanks for letting me know. Where would you like to go from here?",
)
CLOSINGS = (
    "Take care of yourself tonight, and check in any time.",
    "I'm here whenever you want to talk.",
    "Let's catch up again in a few days.",
    "Be gentle with yourself this week.",
    "Talk again soon.",
)

PROFILES: dict[str, tuple[int, ...]] = {
    "balanced": (),
    "sleep-dominant": (3, 4),
    "anhedonia-dominant": (1, 2),
    "somatic": (4, 5, 8),
    "cognitive": (6, 7),
    "mood-dominant": (2, 6),
}
VARIANTS: dict[int, tuple[str, str]] = {3: ("less", "more"), 5: ("less", "more"), 8: ("slow", "restless")}
VARIANT_WORDS = {
    (3, "less"): "insomnia",
    (3, "more"): "oversleeping",
    (5, "less"): "poor appetite",
    (5, "more"): "overeating",
    (8, "slow"): "slowed",
    (8, "restless"): "restless",
}

FIELDS: dict[str, tuple[str, ...]] = {}
