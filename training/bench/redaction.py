"""How well `training.redaction.redact` removes identifiers, and how much clinical meaning it keeps.

A planted-identifier set: chat-like lines written for this benchmark (no dataset text), each with
identifiers in the formats of several countries (names with accents, hyphens and no capitals;
relatives and therapists without titles; e-mails, phone numbers, URLs, handles; UK, US, French,
Spanish, Italian, Canadian and Indian national ids; IBANs; NHS and record numbers; dates of birth;
street addresses and postcodes; hospitals and employers; self-introductions in six languages) and
the clinically meaningful words of the line (symptoms, feelings, times).

An identifier counts as removed when none of its identifying tokens is left in the output; a
clinical word counts as kept when it is still there. The patterns and this set were written by the
same people, so these figures are an upper bound: text from elsewhere will hold forms neither
foresaw. Run: `python -m training.bench.redaction [--lines N] [--seed S]`.
"""

from __future__ import annotations

import argparse
import random
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from training.redaction import redact

FIRST = [
    "Sarah",
    "James",
    "Aisha",
    "Mohammed",
    "Zoë",
    "Siobhán",
    "Jürgen",
    "François",
    "María",
    "Giulia",
    "Priya",
    "Wei",
    "Oluwaseun",
    "Kasia",
    "Dmitri",
    "Noor",
    "Liam",
    "Chloé",
    "Mateo",
    "Freya",
    "Ananya",
    "Tomás",
    "Ingrid",
    "Kwame",
    "Hannah",
    "Yusuf",
    "Léa",
    "Niamh",
    "Arjun",
    "Sofía",
]
LAST = [
    "Thompson",
    "O'Brien",
    "Müller",
    "Dubois",
    "García",
    "Rossi",
    "Patel",
    "Nguyen",
    "Okafor",
    "Kowalski",
    "Ivanova",
    "Haddad",
    "Murphy",
    "van der Berg",
    "Fernández",
    "Bianchi",
    "Sharma",
    "Zhang",
    "Mensah",
    "Smith-Jones",
    "Ní Bhriain",
    "Lefèvre",
    "Schäfer",
    "Jensen",
    "Novak",
]
RELATIONS = [
    "sister",
    "brother",
    "mum",
    "dad",
    "husband",
    "wife",
    "partner",
    "boyfriend",
    "friend",
    "therapist",
    "counsellor",
    "boss",
    "flatmate",
    "son",
    "daughter",
    "gp",
    "psychiatrist",
]
STREETS = [
    "Elm Grove",
    "Station Road",
    "Victoria Street",
    "Maple Avenue",
    "Church Lane",
    "Park Drive",
    "Oak Close",
    "Mill Way",
]
HOSPITALS = [
    "St Mary's Hospital",
    "Royal Victoria Infirmary",
    "Addenbrooke's Hospital",
    "Hôpital Saint-Louis",
    "Klinikum Schwabing",
    "Riverside Medical Centre",
    "Ospedale San Raffaele",
]
EMPLOYERS = ["Tesco", "Amazon", "Deloitte", "Sainsbury's", "Siemens", "Carrefour", "Vodafone", "Accenture"]
GENERIC = {
    "street",
    "road",
    "avenue",
    "lane",
    "drive",
    "close",
    "way",
    "grove",
    "hospital",
    "infirmary",
    "medical",
    "centre",
    "royal",
    "saint",
    "st",
    "klinikum",
    "ospedale",
    "san",
    "rue",
    "calle",
    "de",
    "la",
    "van",
    "der",
    "and",
    "the",
    "com",
    "org",
    "www",
    "https",
    "http",
    "co",
    "uk",
    "nhs",
}


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _groups(rng: random.Random, *sizes: int) -> str:
    return " ".join(_digits(rng, n) for n in sizes)


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "name": _name,
    "first_name": lambda r: r.choice(FIRST),
    "lower_name": lambda r: r.choice(FIRST).lower(),
    "double_name": lambda r: (
        f"{r.choice(FIRST)} {r.choice(['Jane', 'Louise', 'Marie', 'Anne'])} {r.choice(LAST)}"
    ),
    "email": lambda r: (
        f"{r.choice(FIRST).lower()}.{r.choice(['k', 'm', 'o'])}{_digits(r, 2)}@"
        f"{r.choice(['gmail.com', 'outlook.com', 'web.de', 'orange.fr', 'yahoo.co.uk'])}"
    ),
    "phone": lambda r: r.choice(
        [
            f"07{_digits(r, 3)} {_digits(r, 6)}",  # UK mobile
            f"020 7{_digits(r, 3)} {_digits(r, 4)}",  # London
            f"+44 7{_digits(r, 3)} {_digits(r, 6)}",
            f"({_digits(r, 3)}) {_digits(r, 3)}-{_digits(r, 4)}",  # US
            f"+1 415 {_digits(r, 3)} {_digits(r, 4)}",
            f"+49 30 {_digits(r, 7)}",  # Berlin
            f"06 {_digits(r, 2)} {_digits(r, 2)} {_digits(r, 2)} {_digits(r, 2)}",  # French mobile
            f"+33 6 {_digits(r, 2)} {_digits(r, 2)} {_digits(r, 2)} {_digits(r, 2)}",
            f"+34 6{_digits(r, 2)} {_digits(r, 3)} {_digits(r, 3)}",
            f"+91 98{_digits(r, 3)} {_digits(r, 5)}",
            f"{_digits(r, 3)} {_digits(r, 4)}",  # 7-digit local
            f"{_digits(r, 3)}-{_digits(r, 4)}",
        ]
    ),
    "url": lambda r: r.choice(
        [
            f"https://www.facebook.com/{r.choice(FIRST).lower()}{_digits(r, 3)}",
            f"www.{r.choice(LAST).lower().replace(' ', '').replace(chr(39), '')}-family.co.uk",
            f"instagram.com/{r.choice(FIRST).lower()}_{_digits(r, 2)}",
            f"https://linkedin.com/in/{r.choice(FIRST).lower()}-{_digits(r, 4)}",
        ]
    ),
    "handle": lambda r: f"@{r.choice(FIRST).lower()}{_digits(r, 3)}",
    "national_id": lambda r: r.choice(
        [
            f"{r.choice(['AB', 'JK', 'NZ', 'CE'])} {_groups(r, 2, 2, 2)} {r.choice('ABCD')}",  # UK NINO
            f"{_digits(r, 3)}-{_digits(r, 2)}-{_digits(r, 4)}",  # US SSN
            f"{r.choice('12')} {_groups(r, 2, 2, 2, 3, 3, 2)}",  # French NIR
            f"{_digits(r, 8)}{r.choice('TRWAGMYFPDXBNJZSQVHLCKE')}",  # Spanish DNI
            f"X{_digits(r, 7)}{r.choice('TRWAGM')}",  # Spanish NIE
            f"RSSMRA{_digits(r, 2)}A{_digits(r, 2)}H{_digits(r, 3)}X",  # Italian codice fiscale
            f"{_digits(r, 3)} {_digits(r, 3)} {_digits(r, 3)}",  # Canadian SIN
            f"{_digits(r, 4)} {_digits(r, 4)} {_digits(r, 4)}",  # Aadhaar
        ]
    ),
    "iban": lambda r: r.choice(
        [
            f"GB{_digits(r, 2)} WEST {_digits(r, 4)} {_digits(r, 4)} {_digits(r, 4)} {_digits(r, 2)}",
            f"DE{_digits(r, 2)} {_groups(r, 4, 4, 4, 4, 2)}",
            f"FR{_digits(r, 2)}{_digits(r, 23)}",
            f"NL{_digits(r, 2)}INGB{_digits(r, 10)}",
        ]
    ),
    "record": lambda r: r.choice(
        [f"{_digits(r, 3)} {_digits(r, 3)} {_digits(r, 4)}", f"RX{_digits(r, 6)}", f"{_digits(r, 7)}"]
    ),
    "dob": lambda r: r.choice(
        [
            f"{r.randint(1, 28)}/{r.randint(1, 12):02d}/{r.randint(1950, 2005)}",
            f"{r.randint(1, 28)} {r.choice(['March', 'July', 'janvier', 'Mai'])} {r.randint(1950, 2005)}",
            f"{r.choice(['April', 'June', 'December'])} {r.randint(1, 28)}, {r.randint(1950, 2005)}",
            f"{r.randint(1950, 2005)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
        ]
    ),
    "address": lambda r: r.choice(
        [
            f"{r.randint(1, 220)} {r.choice(STREETS)}",
            f"Hauptstraße {r.randint(1, 99)}",
            f"{r.randint(1, 99)} rue de la {r.choice(['Paix', 'Gare', 'République'])}",
            f"Calle de {r.choice(['Alcalá', 'Serrano', 'Toledo'])} {r.randint(1, 99)}",
            f"Via {r.choice(['Roma', 'Garibaldi', 'Verdi'])} {r.randint(1, 99)}",
            f"Keizersgracht {r.randint(1, 400)}",
        ]
    ),
    "postcode": lambda r: r.choice(
        [
            f"{r.choice(['SW1A', 'M14', 'LS6', 'EH3'])} {r.randint(1, 9)}{r.choice(['AA', 'HD', 'NP'])}",
            f"D0{r.randint(1, 9)} {r.choice(['X2Y4', 'K7P9', 'F5H2'])}",  # Eircode
            f"K1A 0B{r.randint(1, 9)}",  # Canada
            f"{r.randint(1000, 9999)} {r.choice(['AB', 'KL', 'ZX'])}",  # Netherlands
            f"{r.randint(10000, 99999)}",  # German / French / US ZIP
        ]
    ),
    "hospital": lambda r: r.choice(HOSPITALS),
    "employer": lambda r: r.choice(EMPLOYERS),
}

# (template, clinical words). Slots: {kind} or {kind2} for a second of the same kind.
TEMPLATES: list[tuple[str, list[str]]] = [
    ("hi, my name is {name} and I have felt hopeless for weeks", ["hopeless", "weeks"]),
    ("I'm {first_name}, I can't sleep and I wake at 4am every night", ["sleep", "wake", "4am", "night"]),
    ("hi my name is {lower_name}, i feel so low and tired all the time", ["low", "tired", "time"]),
    ("{double_name} here. Honestly I have no energy and I cry most days", ["energy", "cry", "days"]),
    (
        "my {relation} {first_name} says I should talk to someone about feeling worthless",
        ["talk", "feeling", "worthless"],
    ),
    ("my {relation} {lower_name} keeps telling me I'm lazy but I just feel empty", ["lazy", "feel", "empty"]),
    (
        "Saw my therapist {first_name} on Tuesday, we talked about my panic attacks",
        ["therapist", "Tuesday", "panic", "attacks"],
    ),
    ("you can email me at {email} if the app crashes, I am anxious all day", ["anxious", "day"]),
    ("my number is {phone}, please call, I haven't eaten properly in days", ["eaten", "days"]),
    (
        "text me on {phone} tonight, the nights are the worst and I feel like a failure",
        ["tonight", "nights", "worst", "failure"],
    ),
    (
        "I posted about it on {url} last week, nobody answered, I feel invisible",
        ["week", "feel", "invisible"],
    ),
    (
        "follow me {handle} lol. Still struggling to concentrate at work",
        ["struggling", "concentrate", "work"],
    ),
    (
        "the benefits form wants my NI number {national_id} and I can't focus on anything",
        ["focus", "anything"],
    ),
    ("my ID is {national_id}, the forms make me so stressed and irritable", ["stressed", "irritable"]),
    (
        "rent goes out of {iban} and I'm scared I'll run out of money, I can't stop worrying",
        ["scared", "money", "worrying"],
    ),
    (
        "my NHS number is {record}, they lost my referral again and I feel hopeless",
        ["referral", "feel", "hopeless"],
    ),
    (
        "hospital number {record}: discharged after the overdose last month",
        ["discharged", "overdose", "month"],
    ),
    ("I was born on {dob} and every birthday makes me feel worse", ["birthday", "feel", "worse"]),
    ("DOB {dob}. Appetite has been poor for two weeks", ["Appetite", "poor", "two", "weeks"]),
    (
        "I live at {address}, {postcode} and I haven't left the flat in ten days",
        ["left", "flat", "ten", "days"],
    ),
    (
        "moved to {address} in January, since then I sleep 12 hours and still feel exhausted",
        ["January", "sleep", "12", "hours", "exhausted"],
    ),
    (
        "postcode {postcode} if the crisis team needs it, I had thoughts of hurting myself",
        ["crisis", "thoughts", "hurting", "myself"],
    ),
    ("I was admitted to {hospital} in March after a panic attack", ["admitted", "March", "panic", "attack"]),
    ("the nurse at {hospital} said my mood is low and I should rest", ["nurse", "mood", "low", "rest"]),
    (
        "I work at {employer} on night shifts and feel numb most mornings",
        ["night", "shifts", "numb", "mornings"],
    ),
    ("my boss at {employer} noticed I'm slow and forgetful lately", ["slow", "forgetful", "lately"]),
    ("je m'appelle {first_name} {last_name}, je suis épuisée et triste", ["épuisée", "triste"]),
    (
        "ich heiße {first_name} {last_name} und ich schlafe seit Wochen schlecht",
        ["schlafe", "Wochen", "schlecht"],
    ),
    ("me llamo {first_name} y me siento muy cansada", ["siento", "cansada"]),
    ("mi chiamo {first_name}, non dormo da giorni", ["dormo", "giorni"]),
    ("mijn naam is {lower_name} en ik voel me somber", ["voel", "somber"]),
    ("{first_name} from group said to message {email} or call {phone} when it gets bad", ["group", "bad"]),
    ("Dr {last_name} changed my sertraline dose and I feel restless", ["sertraline", "dose", "restless"]),
    ("I told {name} at {employer} about the depression, felt ashamed after", ["depression", "ashamed"]),
    ("my {relation} {first_name} {last_name} drove me to {hospital} at 2am", ["drove", "2am"]),
]


@dataclass
class Line:
    text: str
    planted: list[tuple[str, str]]  # (kind, value)
    clinical: list[str]


@dataclass
class RedactionReport:
    lines: int = 0
    planted: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    caught: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    clinical: int = 0
    clinical_kept: int = 0
    misses: list[tuple[str, str]] = field(default_factory=list)  # (kind, value): planted values, not text

    @property
    def recall(self) -> float:
        return sum(self.caught.values()) / max(1, sum(self.planted.values()))

    @property
    def clinical_retention(self) -> float:
        return self.clinical_kept / max(1, self.clinical)

    def recall_of(self, kind: str) -> float:
        return self.caught[kind] / max(1, self.planted[kind])


# Kinds that must never leak at all (the bar): e-mail, phone, URL and national ids.
NO_MISS_KINDS = ("email", "phone", "url", "national_id")


def planted_set(n: int = 240, seed: int = 7) -> list[Line]:
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        template, clinical = TEMPLATES[i % len(TEMPLATES)]
        planted: list[tuple[str, str]] = []

        def fill(match: re.Match[str], planted: list[tuple[str, str]] = planted) -> str:
            kind = match.group(1).rstrip("2")
            if kind == "relation":
                return rng.choice(RELATIONS)
            if kind == "last_name":
                value = rng.choice(LAST)
                planted.append(("name", value))
                return value
            value = GENERATORS[kind](rng)
            group = "name" if kind in ("first_name", "lower_name", "double_name") else kind
            planted.append((group, value))
            return value

        text = re.sub(r"\{(\w+)\}", fill, template)
        lines.append(Line(text, planted, clinical))
    return lines


def _identifying_tokens(value: str) -> list[str]:
    tokens = re.findall(r"[^\W_]+", value)
    return [t for t in tokens if t.lower() not in GENERIC and (len(t) >= 3 or t.isdigit() and len(t) >= 2)]


def _present(token: str, text: str) -> bool:
    return re.search(rf"(?<![^\W_]){re.escape(token)}(?![^\W_])", text, flags=re.I) is not None


def redaction_bench(lines: list[Line]) -> RedactionReport:
    report = RedactionReport(lines=len(lines))
    for line in lines:
        out = redact(line.text)
        for kind, value in line.planted:
            report.planted[kind] += 1
            if any(_present(t, out) for t in _identifying_tokens(value)):
                report.misses.append((kind, value))
            else:
                report.caught[kind] += 1
        report.clinical += len(line.clinical)
        report.clinical_kept += sum(_present(w, out) for w in line.clinical)
    return report


def format_report(report: RedactionReport) -> str:
    rows = [f"{report.lines} lines, {sum(report.planted.values())} planted identifiers (synthetic set)"]
    for kind in sorted(report.planted):
        rows.append(
            f"  {kind:<12} {report.caught[kind]:>4}/{report.planted[kind]:<4} {report.recall_of(kind):.3f}"
        )
    rows.append(f"recall {report.recall:.3f}   clinical words kept {report.clinical_retention:.3f}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.bench.redaction", description=__doc__)
    parser.add_argument("--lines", type=int, default=240, help="planted lines (at least 200)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show-misses", action="store_true", help="print the planted values missed")
    args = parser.parse_args(argv)
    report = redaction_bench(planted_set(args.lines, args.seed))
    print(format_report(report))
    if args.show_misses:
        for kind, value in report.misses:
            print(f"  missed {kind}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
