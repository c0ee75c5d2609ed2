"""Generate the news-classification samples for the Comprehend custom classification workflow.

Writes four Comprehend CSV files (`label,text`, no header, quoted where needed) next to this
script, from templates and vocabularies written for these samples:

* `initial.csv`: the first training upload, covering only part of each class's topics;
* `improving.csv`: a second batch, mostly from the topics `initial.csv` lacks, which merged with
  it improves macro F1 on the holdout;
* `degrading.csv`: a batch of the same size and topics whose labels are mostly wrong (a
  systematic mix-up of classes plus random noise), which merged with `initial.csv` lowers it;
* `holdout.csv`: a fixed test set drawn from every topic, never trained on.

Each class has "core" topics (in every file) and "extended" topics (absent from
`initial.csv`), plus bridge templates that use another class's vocabulary (a chipmaker's
earnings are Business, a stadium's AI cameras SciTech), so the classes overlap and no model
separates them perfectly. Running the script again rewrites the files identically:

    python samples/comprehend_model_lifecycle/generate.py [--seed 2024]
"""

from __future__ import annotations

import argparse
import csv
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = ("World", "Sports", "Business", "SciTech")
DEFAULT_SEED = 2024

INITIAL_PER_CLASS = 80
BATCH_PER_CLASS = 60  # improving.csv and degrading.csv
HOLDOUT_PER_CLASS = 50
EXTENDED_SHARE_OF_BATCH = 0.75
BRIDGE_SHARE = 0.25
BORROW_SHARE = 0.5  # bridge documents whose second sentence comes from another class
NEUTRAL_SHARE = 0.3  # documents ending with a sentence that fits any class
# degrading.csv: most labels follow one systematic mix-up, some are random, few are right.
ROTATED_SHARE = 0.8
RANDOM_WRONG_SHARE = 0.1
MIX_UP = {"World": "Sports", "Sports": "Business", "Business": "SciTech", "SciTech": "World"}

# --- Vocabularies -----------------------------------------------------------------------------

WORDS: dict[str, Sequence[str]] = {
    "country": (
        "Brazil",
        "Canada",
        "Kenya",
        "Japan",
        "Germany",
        "India",
        "Mexico",
        "Australia",
        "Egypt",
        "Norway",
        "Chile",
        "Vietnam",
        "Poland",
        "Nigeria",
        "Spain",
        "Indonesia",
        "Turkey",
        "Peru",
        "Ghana",
        "Sweden",
    ),
    "city": (
        "Geneva",
        "Nairobi",
        "Lisbon",
        "Seoul",
        "Toronto",
        "Lagos",
        "Madrid",
        "Jakarta",
        "Vienna",
        "Lima",
        "Oslo",
        "Cairo",
        "Manila",
        "Warsaw",
        "Denver",
        "Osaka",
    ),
    "weekday": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "election": ("presidential", "parliamentary", "regional", "runoff", "mayoral"),
    "issue": (
        "the border dispute",
        "water rights",
        "fishing quotas",
        "refugee returns",
        "the nuclear programme",
        "a prisoner exchange",
        "grain shipments",
    ),
    "treaty": ("a border accord", "a security pact", "a visa agreement", "a peace framework"),
    "club": (
        "Riverside United",
        "Northgate City",
        "Atletico Sur",
        "Harbour Rovers",
        "FC Alpenrose",
        "Eastfield Athletic",
        "Real Montera",
        "Sporting Vale",
    ),
    "player": (
        "Elena Marsh",
        "Kofi Mensah",
        "Yuki Tanaka",
        "Lucia Ferraz",
        "Anton Weiss",
        "Priya Nair",
        "Mateo Ruiz",
    ),
    "tournament": ("the Seaside Open", "the Capital Masters", "the Clay Court Classic"),
    "athlete": ("Amara Obi", "Jonas Berg", "Carla Duarte", "Ravi Menon", "Ines Kovac"),
    "distance": ("1,500 metres", "5,000 metres", "half-marathon", "400 metres hurdles"),
    "team": (
        "the Harbor Hawks",
        "the Mountain Lions",
        "the Bay Comets",
        "the Desert Foxes",
        "the River Kings",
    ),
    "bank": ("the central bank", "the Federal Reserve", "the European Central Bank"),
    "currency": ("The yen", "The euro", "The rupee", "The peso", "The pound"),
    "company": (
        "Norland Foods",
        "Castell Airlines",
        "Meridian Steel",
        "Brightway Retail",
        "Oakridge Insurance",
        "Pacific Freight",
        "Silvergate Bank",
        "Hollis Motors",
    ),
    "segment": ("online", "overseas", "premium", "wholesale"),
    "org": ("OPEC", "the producers' group", "Gulf exporters"),
    "tech": ("Quantix", "Nebula Labs", "Orbitron", "Lumen Systems", "Cobalt AI", "Vertex Micro"),
    "agency": ("NASA", "The European Space Agency", "JAXA", "India's space agency"),
    "body": ("Jupiter's moons", "a near-Earth asteroid", "the Sun's corona", "Mars' ice caps"),
    "object": ("an Earth-sized planet", "a rare brown dwarf", "a ring of dust"),
    "site": ("French Guiana", "Cape Canaveral", "Tanegashima", "Sriharikota"),
    "software": ("web browser", "password manager", "video-call app", "email client"),
    "disease": ("Alzheimer's", "diabetes", "heart disease", "asthma"),
    "organ": ("liver", "kidney", "heart", "lung"),
    "journal": ("Nature", "Science", "Cell", "The Lancet"),
    "device": ("smartwatch", "tablet", "laptop", "VR headset", "smartphone"),
}


def _number(rng: random.Random, low: int, high: int) -> str:
    return str(rng.randint(low, high))


NUMBERS: dict[str, Callable[[random.Random], str]] = {
    "n": lambda rng: _number(rng, 2, 40),
    "amount": lambda rng: _number(rng, 2, 60),
    "score": lambda rng: f"{rng.randint(1, 4)}-{rng.randint(0, 1)}",
    "gap": lambda rng: _number(rng, 1, 12),
    "pct": lambda rng: f"{rng.randint(0, 3)}.{rng.randint(1, 9)}",
    "mag": lambda rng: f"{rng.randint(5, 7)}.{rng.randint(0, 9)}",
    "time": lambda rng: f"3:{rng.randint(40, 59)}.{rng.randint(10, 99)}",
}


@dataclass(frozen=True)
class Topic:
    """Templates of one topic: a headline and a following sentence are drawn from them."""

    name: str
    label: str
    extended: bool  # absent from initial.csv
    headlines: Sequence[str]
    sentences: Sequence[str]


TOPICS: tuple[Topic, ...] = (
    # World
    Topic(
        "elections",
        "World",
        False,
        (
            "{country} votes in tight {election} race",
            "Opposition claims victory in {country} {election} election",
            "Turnout rises as {country} holds {election} vote",
            "{country} president concedes defeat after {election} count",
        ),
        (
            "Polls closed in {city} as voters chose between {n} candidates, officials said.",
            "The electoral commission said final results would be announced on {weekday}.",
            "Observers reported long queues at polling stations across the capital.",
        ),
    ),
    Topic(
        "diplomacy",
        "World",
        False,
        (
            "Foreign ministers meet in {city} over {issue}",
            "{country} and {country2} sign {treaty}",
            "{country} recalls ambassador in row over {issue}",
            "Envoys hold talks in {city} to ease tension over {issue}",
        ),
        (
            "Diplomats said the talks ended without a joint statement.",
            "The foreign ministry called the meeting frank and constructive.",
            "Both governments promised to resume negotiations within {n} days.",
        ),
    ),
    Topic(
        "conflict",
        "World",
        True,
        (
            "Ceasefire holds in northern {country} after {n} days of fighting",
            "Rebels seize town near {city}",
            "UN calls for truce as clashes spread in {country}",
            "Troops withdraw from disputed region of {country}",
        ),
        (
            "Aid groups said thousands of civilians had fled toward {city}.",
            "The army said it had retaken two villages overnight.",
            "Peacekeepers reported sporadic shelling near the frontier.",
        ),
    ),
    Topic(
        "disasters",
        "World",
        True,
        (
            "Floods displace {n},000 people in {country}",
            "Earthquake of magnitude {mag} strikes off {country} coast",
            "Cyclone nears {city} as residents evacuate",
            "Wildfires force evacuations in southern {country}",
        ),
        (
            "Rescue teams searched collapsed buildings, the interior ministry said.",
            "The Red Cross appealed for emergency shelter and clean water.",
            "Schools were closed and roads blocked across the region.",
        ),
    ),
    # Sports
    Topic(
        "football",
        "Sports",
        False,
        (
            "{club} beat {club2} {score} to reach cup semi-final",
            "Late goal gives {club} win over {club2}",
            "{club} sack coach after {n} straight defeats",
            "{club} held to goalless draw by {club2}",
        ),
        (
            "The striker scored twice in the second half in front of a sold-out crowd.",
            "The result leaves {club} {gap} points clear at the top of the table.",
            "The goalkeeper made three fine saves to keep the visitors in the game.",
        ),
    ),
    Topic(
        "tennis",
        "Sports",
        False,
        (
            "{player} wins {tournament} title in straight sets",
            "Top seed {player} knocked out in {tournament} second round",
            "{player} saves match point to reach {tournament} final",
        ),
        (
            "She saved three break points in the final set before serving out the match.",
            "The defending champion blamed a wrist injury for the defeat.",
            "The crowd rose to applaud after a rally of more than {n} shots.",
        ),
    ),
    Topic(
        "athletics",
        "Sports",
        True,
        (
            "{athlete} breaks {distance} world record in {city}",
            "{athlete} takes yellow jersey on mountain stage",
            "Marathon in {city} won in course-record time",
            "{athlete} strikes gold at world championships",
        ),
        (
            "The winner crossed the line in {time}, a second inside the old mark.",
            "The peloton finished more than four minutes behind the breakaway.",
            "The champion said the home crowd carried her over the final lap.",
        ),
    ),
    Topic(
        "basketball-cricket",
        "Sports",
        True,
        (
            "{team} rally to beat {team2} in overtime",
            "{country} bowled out for {n} on day three of test",
            "Rookie scores {n} points as {team} clinch playoff spot",
            "{country} spinner takes five wickets to level series",
        ),
        (
            "The captain said the batting must improve before the next series.",
            "The guard hit a three-pointer at the buzzer to force overtime.",
            "Rain delayed the start of play until after lunch.",
        ),
    ),
    # Business
    Topic(
        "markets",
        "Business",
        False,
        (
            "Stocks slide as {bank} signals higher rates",
            "{currency} falls to {n}-month low against the dollar",
            "Bond yields climb after inflation data",
            "Shares rally as {bank} holds rates steady",
        ),
        (
            "Analysts expect the central bank to raise its benchmark rate by a quarter point.",
            "The benchmark index closed {pct} percent lower, led by bank shares.",
            "Traders said investors were waiting for the jobs report on {weekday}.",
        ),
    ),
    Topic(
        "earnings",
        "Business",
        False,
        (
            "{company} profit beats forecasts on strong {segment} sales",
            "{company} cuts {n},000 jobs as quarterly revenue falls",
            "{company} shares jump after raising full-year outlook",
            "{company} warns of lower margins on rising costs",
        ),
        (
            "Revenue rose {n} percent to {amount} billion dollars in the quarter.",
            "The chief financial officer said costs would remain under pressure.",
            "The board proposed a higher dividend for shareholders.",
        ),
    ),
    Topic(
        "mergers",
        "Business",
        True,
        (
            "{company} agrees to buy {company2} for {amount} billion dollars",
            "Regulators clear {company} takeover of {company2}",
            "Shareholders reject {company} merger offer",
            "{company} and {company2} call off merger talks",
        ),
        (
            "The deal values the target at a premium of {n} percent to its closing price.",
            "The companies expect the acquisition to close next year pending approvals.",
            "Bankers said the combined group would be the largest in its market.",
        ),
    ),
    Topic(
        "energy-retail",
        "Business",
        True,
        (
            "Oil prices rise as {org} extends output cuts",
            "Retail sales slow in {country} as shoppers cut spending",
            "{company} raises prices on higher fuel costs",
            "Natural gas prices fall on mild winter forecast",
        ),
        (
            "Brent crude traded near {n} dollars a barrel in {city}.",
            "Consumer confidence fell for a third month, a survey showed.",
            "Economists said higher energy bills were squeezing household budgets.",
        ),
    ),
    # SciTech
    Topic(
        "space",
        "SciTech",
        False,
        (
            "{agency} launches probe to study {body}",
            "Astronomers spot {object} orbiting distant star",
            "Rocket carrying {n} satellites lifts off from {site}",
            "Telescope captures sharpest image yet of {body}",
        ),
        (
            "The spacecraft will take {n} years to reach its target, the agency said.",
            "Scientists said the observations could reveal how planets form.",
            "Mission controllers confirmed the solar panels had deployed.",
        ),
    ),
    Topic(
        "software",
        "SciTech",
        False,
        (
            "{tech} releases open-source language model",
            "New AI system writes code from plain descriptions",
            "Security flaw found in popular {software}",
            "{tech} researchers teach robots to sort recycling",
        ),
        (
            "Researchers said the model was trained on billions of lines of text.",
            "Users were urged to install the patch as soon as possible.",
            "The code and the training data will be published online.",
        ),
    ),
    Topic(
        "biology",
        "SciTech",
        True,
        (
            "Study finds gene linked to {disease} risk",
            "Researchers grow {organ} tissue in the lab",
            "New antibiotic kills drug-resistant bacteria in mice",
            "Blood test spots {disease} years before symptoms",
        ),
        (
            "The findings were published in the journal {journal} on {weekday}.",
            "The team plans human trials within two years.",
            "Independent experts called the results promising but preliminary.",
        ),
    ),
    Topic(
        "gadgets",
        "SciTech",
        True,
        (
            "{tech} unveils foldable {device} with longer battery life",
            "Review: the new {device} is faster but pricier",
            "Chipmaker shows {n}-nanometre processor prototype",
            "Battery breakthrough could double {device} run time",
        ),
        (
            "The device ships next month with a brighter screen and a faster chip.",
            "Engineers said the design cuts power use by {n} percent.",
            "Early testers praised the camera but criticised the weight.",
        ),
    ),
)

# Bridge headlines: (label, the class whose vocabulary the headline borrows, template). Those
# listed under both classes of a pair fit either honestly, so some documents are wrong for any
# model, as in real news data.
_OWN_BRIDGES: tuple[tuple[str, str, str], ...] = (
    ("World", "SciTech", "{country} bans {tech} app citing national security"),
    ("World", "Business", "{country} imposes sanctions on {country2} over {issue}"),
    ("Sports", "Business", "{club} announces record shirt sponsorship with {company}"),
    ("Sports", "SciTech", "{club} players wear heart monitors in training trial"),
    ("Business", "SciTech", "{tech} shares fall after weak {device} sales"),
    ("Business", "World", "Insurers face {amount} billion dollar bill after floods in {country}"),
    ("SciTech", "Business", "{company} tests self-driving trucks on {country} highways"),
    ("SciTech", "Sports", "Smart stadium uses AI cameras to track {club} players"),
)
_CONTESTED: tuple[tuple[str, str, str], ...] = (
    ("World", "Sports", "{country} threatens to boycott games in {city}"),
    ("World", "Sports", "Olympic host {city} faces protests over evictions"),
    ("World", "Business", "{country} and {country2} agree trade deal to cut tariffs"),
    ("World", "Business", "Sanctions on {country} hit exporters' profits"),
    ("World", "SciTech", "Climate summit in {city} hears warning from scientists"),
    ("World", "SciTech", "{country} launches its first weather satellite"),
    ("Sports", "Business", "{club} sold to investment fund in {amount} billion dollar deal"),
    ("Sports", "Business", "League sells broadcast rights to streaming service"),
    ("Sports", "SciTech", "Video referee system upgraded with AI after {club} controversy"),
    ("Business", "SciTech", "{tech} unveils AI chip as shares hit record"),
    ("Business", "SciTech", "Chipmaker {tech} posts record quarter on AI demand"),
    ("Business", "SciTech", "{tech} launches {device} to win back market share"),
)
BRIDGES: tuple[tuple[str, str, str], ...] = (
    *_OWN_BRIDGES,
    *((first, second, text) for first, second, text in _CONTESTED),
    *((second, first, text) for first, second, text in _CONTESTED),
)
BRIDGE_SENTENCES: dict[str, tuple[str, ...]] = {
    "World": (
        "The government said the measure would take effect on {weekday}.",
        "Critics said the decision was driven by politics rather than economics.",
    ),
    "Sports": (
        "Supporters welcomed the news at the club's open training session.",
        "The coach said the squad would travel to {city} on {weekday}.",
    ),
    "Business": (
        "Analysts said the figures disappointed investors.",
        "The company expects revenue to recover in the second half.",
    ),
    "SciTech": (
        "The researchers said the system learns from each new observation.",
        "The data will be shared with universities around the world.",
    ),
}


NEUTRAL_SENTENCES = (
    "More details are expected on {weekday}.",
    "A spokesperson declined to comment further.",
    "Officials in {city} said the situation was being watched closely.",
    "The announcement came late on {weekday}.",
)

_SLOT = re.compile(r"\{(\w+)\}")


def _fill(template: str, rng: random.Random) -> str:
    chosen: dict[str, str] = {}

    def value(match: re.Match[str]) -> str:
        slot = match.group(1)
        if slot not in chosen:
            base = slot.rstrip("2")
            if base in NUMBERS:
                chosen[slot] = NUMBERS[base](rng)
            else:
                options = [word for word in WORDS[base] if word not in chosen.values()]
                chosen[slot] = rng.choice(options)
        return chosen[slot]

    return _SLOT.sub(value, template)


def _sentences(label: str) -> list[str]:
    return [sentence for topic in TOPICS if topic.label == label for sentence in topic.sentences]


def _document(headline: str, sentences: Sequence[str], rng: random.Random) -> str:
    text = f"{_fill(headline, rng)}. {_fill(rng.choice(sentences), rng)}"
    if rng.random() < NEUTRAL_SHARE:
        text += " " + _fill(rng.choice(NEUTRAL_SENTENCES), rng)
    return text


def _topic_document(label: str, extended: bool | None, rng: random.Random) -> str:
    topics = [
        topic
        for topic in TOPICS
        if topic.label == label and (extended is None or topic.extended == extended)
    ]
    topic = rng.choice(topics)
    return _document(rng.choice(topic.headlines), topic.sentences, rng)


def _bridge_document(label: str, rng: random.Random) -> str:
    _, lender, headline = rng.choice([bridge for bridge in BRIDGES if bridge[0] == label])
    # Half the time the sentence after the headline speaks the lending class's language too.
    sentences = _sentences(lender) if rng.random() < BORROW_SHARE else BRIDGE_SENTENCES[label]
    return _document(headline, sentences, rng)


class _Sampler:
    """Draws distinct documents; no text appears twice across all files."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seen: set[str] = set()

    def draw(self, label: str, *, extended: bool | None) -> str:
        for _ in range(1000):
            if self.rng.random() < BRIDGE_SHARE:
                text = _bridge_document(label, self.rng)
            else:
                text = _topic_document(label, extended, self.rng)
            if text not in self.seen:
                self.seen.add(text)
                return text
        raise RuntimeError(f"the templates of {label} ran out of distinct documents")


def _rows(sampler: _Sampler, per_class: int, extended_share: float | None) -> list[list[str]]:
    """`per_class` documents per label; `extended_share` of them from extended topics (None:
    any topic, 0: core topics only)."""
    rows = []
    for label in LABELS:
        extended_count = None if extended_share is None else round(per_class * extended_share)
        for index in range(per_class):
            extended = None if extended_count is None else index < extended_count
            rows.append([label, sampler.draw(label, extended=extended)])
    sampler.rng.shuffle(rows)
    return rows


def _mislabel(rows: list[list[str]], rng: random.Random) -> list[list[str]]:
    """Most labels wrong: a systematic mix-up of classes, some random errors, a few right."""
    damaged = []
    for label, text in rows:
        roll = rng.random()
        wrong = label
        if roll < ROTATED_SHARE:
            wrong = MIX_UP[label]
        elif roll < ROTATED_SHARE + RANDOM_WRONG_SHARE:
            wrong = rng.choice([other for other in LABELS if other != label])
        damaged.append([wrong, text])
    return damaged


def generate(seed: int = DEFAULT_SEED) -> dict[str, list[list[str]]]:
    """The rows of each file, deterministic for a seed."""
    sampler = _Sampler(seed)
    holdout = _rows(sampler, HOLDOUT_PER_CLASS, None)
    initial = _rows(sampler, INITIAL_PER_CLASS, 0.0)
    improving = _rows(sampler, BATCH_PER_CLASS, EXTENDED_SHARE_OF_BATCH)
    degrading = _mislabel(_rows(sampler, BATCH_PER_CLASS, EXTENDED_SHARE_OF_BATCH), sampler.rng)
    return {
        "initial.csv": initial,
        "improving.csv": improving,
        "degrading.csv": degrading,
        "holdout.csv": holdout,
    }


def write(rows_by_file: dict[str, list[list[str]]], directory: Path = HERE) -> None:
    for name, rows in rows_by_file.items():
        with (directory / name).open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    write(generate(args.seed), args.out)


if __name__ == "__main__":
    main()
