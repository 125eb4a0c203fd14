"""Redaction of identifiers before any text leaves the building (e.g. to an external labelling model).

Greedy by design: a false positive costs a word of context, a false negative leaks an identifier. Each
identifier is replaced by a typed placeholder ("[NAME]", "[PHONE]") so the labeller still sees the
sentence's shape. Nothing here logs, prints or keeps the text.

What finds what (all offline):
- phone numbers: Google's libphonenumber (the `phonenumbers` package) for the countries in
  PHONE_REGIONS, plus a pattern floor (international forms, 7-digit local numbers);
- e-mails, URLs, handles, IP addresses, IBANs, national ids (UK National Insurance, US SSN, French
  NIR, Spanish DNI/NIE, Italian codice fiscale, Canadian SIN, Indian Aadhaar, NHS and other long
  numbers), record numbers after a keyword, dates with a year, postcodes (UK, Irish, Canadian, Dutch;
  5-digit ones fall under long numbers), street addresses in English, German, Dutch, French,
  Spanish and Italian forms: patterns;
- names: after self-introductions in seven languages (lower-case too), after a title, after a
  relation ("my sister Anna", "my therapist john"), runs of two or more capitalised words, and then
  every other occurrence of a name found once; plus the names the caller knows (the app's records);
- hospitals, clinics, schools and employers: a capitalised run before or after an institution word,
  and what follows "I work at/for".

Measured on a planted-identifier set by `python -m training.bench.redaction` (README "Redaction").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

PHONE_REGIONS = ("GB", "US", "DE", "FR", "NL", "ES", "IT", "IE", "CA", "AU", "IN")

_L = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"  # Latin letters with accents
_UP = "A-Z\u00c0-\u00d6\u00d8-\u00de"
_LOW = "a-z\u00df-\u00f6\u00f8-\u024f"
# One name token: capitalised, accents, hyphenated or with an apostrophe (O'Brien, Jean-Luc, Zoë).
_CAP = rf"[{_UP}](?:['’][{_UP}])?[{_LOW}]+(?:-[{_UP}][{_LOW}]+)?"
_ANY = rf"[{_L}]+(?:['’-][{_L}]+)?"

MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|"
    "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|"
    "januar|februar|märz|maerz|juni|juli|oktober|dezember|enero|febrero|marzo|abril|mayo|junio|julio|"
    "agosto|septiembre|octubre|noviembre|diciembre|gennaio|febbraio|aprile|maggio|giugno|luglio|"
    "settembre|ottobre|dicembre|januari|februari|maart|mei|augustus"
)


# Capitalised words that begin sentences or name times and feelings, not people.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NOT_NAMES = _words(
    """i im i'm i've i'd i'll a an the my me we he she it they you your our their this that these those
    and but or so if then when while because since after before though although also just still even
    not no yes ok okay hi hello hey thanks thank sorry please well oh yeah today tonight tomorrow
    yesterday monday tuesday wednesday thursday friday saturday sunday morning afternoon evening night
    week weekend month year christmas easter god lord nhs gp ae a&e covid english british french german
    spanish italian dutch irish scottish welsh american canadian indian everything nothing something
    anything everyone someone nobody sometimes always never maybe last next every some most many much
    more less all both each other another what why how where who which whose there here feeling
    feel felt tired sad low anxious happy fine good bad better worse really very so too quite
    january february march april may june july august september october november december
    lol omg tbh idk ptsd adhd ocd
    sertraline fluoxetine citalopram escitalopram paroxetine mirtazapine venlafaxine duloxetine
    amitriptyline bupropion trazodone vortioxetine agomelatine quetiapine olanzapine aripiprazole
    risperidone lithium lamotrigine valproate diazepam lorazepam clonazepam propranolol zopiclone
    melatonin prozac zoloft lexapro cipralex seroxat effexor cymbalta wellbutrin seroquel xanax valium
    naltrexone methadone buprenorphine"""
)

# Lower-case words that follow a relation or a title without being a name ("my sister is ...").
_STOP = _NOT_NAMES | _words(
    """is was are were be been being has have had do does did will would can could should may might must
    says said say tells told tell thinks thought think keeps kept wants wanted gets got goes went comes
    came calls called texted texts rang rings lives lived died dies left leaves took takes made makes
    who whom that which and or but with from to at in on for of about again too as by up out down off over
    home work night nights weekends all least times school college uni first last new old own other
    doesn't didn't isn't wasn't won't can't couldn't hasn't haven't hadn't never always just really
    still also only even mum dad mom sister brother"""
)

RELATIONS = (
    "sister|brother|mum|mom|mother|dad|father|husband|wife|partner|boyfriend|girlfriend|son|daughter|"
    "friend|best friend|boss|manager|colleague|therapist|counsellor|counselor|psychiatrist|psychologist|"
    "doctor|gp|nurse|neighbour|neighbor|flatmate|roommate|cousin|aunt|auntie|uncle|nan|nana|gran|granny|"
    "grandma|grandad|grandpa|grandmother|grandfather|ex|fiancé|fiancée|fiance|fiancee|teacher|tutor|coach|"
    "social worker|key worker|care coordinator|support worker|landlord|stepdad|stepmum|niece|nephew|kid|"
    "baby|carer|caseworker|case worker|sponsor|pastor|priest|vicar|imam|rabbi"
)
TITLES = (
    r"(?:Dr|Doctor|Mr|Mrs|Ms|Mx|Miss|Prof|Professor|Nurse|Sister|Father|Rev|Dame|Sir|Herr|Frau|Mme|Mlle|"
    r"Sr|Sra|Dott)"
)
INSTITUTIONS = (
    "Hospital|Hospitals|Clinic|Surgery|Medical Centre|Medical Center|Health Centre|Health Center|"
    "Infirmary|Hospice|School|Academy|University|College|Trust|Practice|Pharmacy|Ltd|Limited|Inc|GmbH|"
    "plc|Bank|Group|Partnership|Foundation|Krankenhaus|Klinikum|Klinik|Universität|Hôpital|Clinique|"
    "Université|Ospedale|Universidad|Ziekenhuis|Centre|Center"
)

_STREET = (
    "Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Close|Way|Court|Ct|Place|Pl|Boulevard|Blvd|Crescent|"
    "Terrace|Gardens|Grove|Square|Hill|Row|Walk|Mews|Parade|Park|Highway|Hwy"
)

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("EMAIL", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    (
        "URL",
        re.compile(
            r"\b(?:https?://|www\.)[^\s,;)\]]+"
            r"|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|io|info|biz|me|app|co\.uk|org\.uk|ac\.uk|nhs\.uk|uk|de|"
            r"fr|nl|es|it|ie|ca|au|in|eu)(?:/\S*)?\b",
            re.I,
        ),
    ),
    ("HANDLE", re.compile(r"(?<![\w@])@\w{2,}")),
    ("IP", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b", re.I)),
    # National ids. UK National Insurance; US SSN; French NIR; Spanish DNI/NIE; Italian codice fiscale;
    # Canadian SIN; Aadhaar. NHS numbers (3-3-4) and other digit runs are caught below.
    (
        "NATIONAL_ID",
        re.compile(
            r"\b[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b"
            r"|\b\d{3}-\d{2}-\d{4}\b"
            r"|\b[12]\s?\d{2}\s?\d{2}\s?(?:\d{2}|2[AB])\s?\d{3}\s?\d{3}(?:\s?\d{2})?\b"
            r"|\b[XYZ]?\d{7,8}-?[A-Z]\b"
            r"|\b[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]\b"
            r"|\b\d{3}[ -]\d{3}[ -]\d{3}\b"
            r"|\b\d{4}\s\d{4}\s\d{4}\b",
            re.I,
        ),
    ),
    (
        "RECORD",
        re.compile(
            r"\b(?:MRN|NHS|hospital|patient|case|record|reference|ref|member|policy|client|account|"
            r"file|chart|ID|Versicherten|dossier)(?:\s+(?:no|number|num|id|#))?\.?\s*[:#]?\s*"
            r"(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,}\b",
            re.I,
        ),
    ),
    (
        "DATE",
        re.compile(
            r"\b\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)?\d{2}\b|\b(?:19|20)\d{2}-\d{2}-\d{2}\b"
            rf"|\b\d{{1,2}}(?:st|nd|rd|th|er|\.)?\s+(?:of\s+|de\s+)?(?:{MONTHS})\.?,?\s+(?:de\s+)?(?:19|20)\d{{2}}\b"
            rf"|\b(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:19|20)\d{{2}}\b"
            rf"|(?<=\bborn on )\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS})\b"
            rf"|(?<=\bbirthday is )\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS})\b",
            re.I,
        ),
    ),
    (
        "ADDRESS",
        re.compile(
            rf"\b\d{{1,5}}[a-zA-Z]?,?\s+(?:[{_UP}][\w'’.-]*\s+){{0,3}}(?:{_STREET})\b\.?"
            rf"|\b[{_UP}][{_LOW}]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|laan|straat|gracht|plein|kade|dijk)\s*\d{{1,4}}[a-z]?\b"
            r"|\b\d{1,4}(?:\s?bis)?,?\s+(?:rue|avenue|boulevard|bd|chemin|place|impasse|allée|allee|quai|route)\s+"
            rf"(?:(?:de la|de l'|de|du|des|d')\s*)?[{_L}'’-]+(?:\s+[{_UP}][{_L}'’-]+){{0,2}}"
            r"|\b(?:calle|c/|avenida|avda\.?|plaza|paseo|via|viale|piazza|corso|largo)\s+"
            rf"(?:(?:de la|de|del|della|dei|di)\s+)?[{_UP}][{_L}'’-]+(?:\s+[{_UP}][{_L}'’-]+){{0,2}},?\s*"
            r"(?:n\.?\s*|nº\s*)?\d{1,4}\b",
            re.I,
        ),
    ),
    (
        "POSTCODE",
        re.compile(
            r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"  # UK
            r"|\b[AC-FHKNPRTV-Y]\d{2}\s?[AC-FHKNPRTV-Y0-9]{4}\b"  # Irish Eircode
            r"|\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\s?\d[ABCEGHJ-NPRSTV-Z]\d\b"  # Canadian
            r"|\b\d{4}\s?[A-Z]{2}\b"  # Dutch
            r"|\b\d{5}-\d{4}\b",  # US ZIP+4
        ),
    ),
    # A phone number the library did not parse: international forms, 7-digit local numbers.
    ("PHONE", re.compile(r"(?<![\w+])\+?\d[\d\s().-]{7,}\d(?!\w)|\b\d{3}[\s.-]?\d{4}\b")),
    ("ID", re.compile(r"\b(?=[A-Z0-9-]*\d{5})[A-Z0-9][A-Z0-9-]*\d[A-Z0-9-]*\b|\b\d{5,}\b", re.I)),
    (
        "ORG",
        re.compile(
            rf"\b(?:St\.?\s+|Saint\s+)?(?:[{_UP}][\w'’&.-]*\s+){{1,4}}(?:{INSTITUTIONS})\b"
            r"|\b(?:Hôpital|Hospital|Clinique|Klinik|Klinikum|Universität|University of|Université|Ospedale|"
            r"Ziekenhuis)\s+"
            rf"(?:(?:de la|de|du|des|di|del|der|von|of|the)\s+)?[{_UP}][\w'’-]+(?:\s+[{_UP}][\w'’-]+){{0,2}}",
        ),
    ),
)

# The context words match in any case ((?i:...)); a name after them must be capitalised unless the
# context is unambiguous ("my name is sarah", but not "I'm tired").
_INTRO_ANY_CASE = re.compile(
    r"\b(?i:my name is|my name's|my names|call me|people call me|je m'appelle|je m’appelle|ich heiße|"
    r"ich heisse|mein name ist|me llamo|mi nombre es|mi chiamo|il mio nome è|mijn naam is|"
    r"ik heet|meu nome é|eu me chamo|name's|name is)\s+"
    rf"(?P<name>{_ANY}(?:\s+(?!(?i:and|but|i|im|i'm)\b){_ANY}){{0,2}})",
)
_INTRO_CAPITALISED = re.compile(
    r"\b(?i:i'm|i’m|i am|im|this is|it's|it’s|je suis|ich bin|soy|sono|ik ben|eu sou)\s+"
    rf"(?P<name>{_CAP}(?:\s+{_CAP}){{0,2}})",
)
_RELATION = re.compile(
    r"\b(?i:(?:my|our|his|her|their|your)\s+(?:(?:older|younger|little|big|new|old|ex|late|former|step)[\s-])?"
    rf"(?:{RELATIONS})(?:'s)?,?\s+(?:(?:called|named|is called)\s+)?)(?P<name>{_ANY}(?:\s+{_CAP}){{0,2}})",
)
_TITLED = re.compile(rf"\b{TITLES}\.?\s+(?P<name>{_CAP}(?:\s+{_CAP}){{0,2}})")
_NAME_RUN = re.compile(rf"(?P<name>\b{_CAP}(?:\s+{_CAP}){{1,3}})\b")
# One capitalised word inside a sentence (not after . ! ? or a line break) is a proper noun: a person,
# a place, a brand. Also at a line's start when a verb of speech or "from" follows ("Liam said").
_MID_SENTENCE = re.compile(rf"(?<=[{_L},;:)] )(?P<name>{_CAP})\b")
_SPEAKER = re.compile(
    rf"(?:^|(?<=[.!?\n] ))(?P<name>{_CAP})(?=\s+(?i:from|said|says|told|texted|called|rang|asked|thinks|"
    r"thought|keeps|wants|came|messaged|and i|and me|is my|was my)\b)",
    re.M,
)
_AT_PLACE = re.compile(rf"\b(?i:at|for|with|from|to)\s+(?P<name>{_CAP}(?:\s+{_CAP}){{0,3}})")
_EMPLOYER = re.compile(
    r"\b(?i:(?:work|working|worked|works|job|shift|shifts|employed|placement|internship|volunteer|"
    r"volunteering)\s+(?:at|for|in|with)\s+(?:the\s+)?)"
    rf"(?P<name>{_ANY}(?:\s+{_CAP}){{0,3}})",
)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str


def _name_spans(text: str, pattern: re.Pattern[str], kind: str = "NAME") -> list[Span]:
    spans = []
    for match in pattern.finditer(text):
        start, end = match.span("name")
        tokens = match.group("name").split()
        # Drop trailing words that are not names ("my sister Anna and", "I'm Sarah Monday").
        while tokens and tokens[-1].lower().strip("'’") in _STOP:
            end -= len(tokens.pop()) + 1
        while tokens and tokens[0].lower().strip("'’") in _STOP:
            start += len(tokens.pop(0)) + 1
        if tokens:
            spans.append(Span(start, max(start, end), kind))
    return spans


PHONE_MIN_DIGITS = 7  # shorter "possible" numbers are doses, hours and ages ("50mg", "12 hours")


def _phone_spans(text: str) -> list[Span]:
    spans = []
    for region in PHONE_REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE):
            if sum(ch.isdigit() for ch in match.raw_string) >= PHONE_MIN_DIGITS:
                spans.append(Span(match.start, match.end, "PHONE"))
    return spans


def find_identifiers(text: str, *, names: tuple[str, ...] = ()) -> list[Span]:
    """Every identifier found in `text`, as non-overlapping spans (earlier and longer ones win)."""
    spans = _phone_spans(text)
    for kind, pattern in _PATTERNS:
        spans.extend(Span(m.start(), m.end(), kind) for m in pattern.finditer(text))
    spans += _name_spans(text, _INTRO_ANY_CASE) + _name_spans(text, _INTRO_CAPITALISED)
    spans += _name_spans(text, _RELATION) + _name_spans(text, _TITLED) + _name_spans(text, _EMPLOYER, "ORG")
    spans += [
        s
        for pattern, kind in (
            (_NAME_RUN, "NAME"),
            (_MID_SENTENCE, "NAME"),
            (_SPEAKER, "NAME"),
            (_AT_PLACE, "ORG"),
        )
        for s in _name_spans(text, pattern, kind)
        if text[s.start : s.end].split()[0].lower() not in _NOT_NAMES
    ]
    # A name found once is removed everywhere, in any case; so are the names the caller knows.
    tokens = {t for s in spans if s.kind == "NAME" for t in text[s.start : s.end].split() if len(t) > 2}
    tokens |= {n.strip() for n in names if n.strip()} | {t for n in names for t in n.split() if len(t) > 2}
    for token in sorted(tokens, key=len, reverse=True):
        for match in re.finditer(rf"(?<![\w@.]){re.escape(token)}(?![\w@])", text, flags=re.I):
            spans.append(Span(match.start(), match.end(), "NAME"))
    return _merge(spans)


def _merge(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans: overlapping ones merge into one (the kind of the longest)."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        if span.end <= span.start:
            continue
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            if span.end > last.end:
                longer = span if span.end - span.start > last.end - last.start else last
                merged[-1] = Span(last.start, span.end, longer.kind)
            continue
        merged.append(span)
    return merged


def redact(text: str, *, names: tuple[str, ...] = ()) -> str:
    """`text` with every identifier found replaced by its typed placeholder ("[PHONE]").

    `names`: identifiers the caller knows (the app's records for this patient), removed wherever they
    appear, whole or word by word.
    """
    out = []
    position = 0
    for span in find_identifiers(text, names=names):
        out.append(text[position : span.start])
        out.append(f"[{span.kind}]")
        position = span.end
    out.append(text[position:])
    return "".join(out)
