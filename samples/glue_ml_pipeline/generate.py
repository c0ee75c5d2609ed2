"""Generate a DBpedia-ontology-style classification dataset: `class,title,abstract` CSV rows,
no header, the class a number from 1 to 14 as in the DBpedia ontology dataset.

The abstracts are made from vocabularies written for these samples: each class has its own
words, every class shares a common pool, and a share of the words comes from another class,
so the classes overlap and no model separates them perfectly. `--label-noise` relabels a
fraction of the rows at random (a dataset that trains a worse model). Running the script again
with the same arguments writes the same file:

    python samples/glue_ml_pipeline/generate.py    # writes samples/glue_ml_pipeline/dbpedia.csv
    python samples/glue_ml_pipeline/generate.py --rows 100000 --out /tmp/dbpedia-100k.csv
"""

from __future__ import annotations

import argparse
import csv
import io
import random
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_ROWS = 1400
DEFAULT_SEED = 7

CLASSES = {
    1: ("Company", "founded headquarters company subsidiary revenue employees brand products "
        "corporation shareholders manufacturer retailer software services acquired"),
    2: ("EducationalInstitution", "university college school students campus faculty "
        "academic founded degrees research library enrolled undergraduate graduate"),
    3: ("Artist", "singer songwriter painter musician recorded albums guitarist exhibition "
        "vocalist band composer performed gallery studio"),
    4: ("Athlete", "footballer played league season goals club team championship olympic "
        "medal striker defender coach tournament"),
    5: ("OfficeHolder", "politician elected served minister parliament senator governor "
        "party cabinet council mayor representative legislature appointed"),
    6: ("MeanOfTransportation", "ship locomotive aircraft launched engine vessel navy "
        "built class fleet cruiser railway tonnage hull"),
    7: ("Building", "building church tower constructed architect historic hotel storey "
        "castle mansion built listed cathedral facade"),
    8: ("NaturalPlace", "mountain river lake glacier peak valley summit elevation "
        "tributary range flows basin island creek"),
    9: ("Village", "village population census district municipality rural county "
        "inhabitants parish commune province gmina township"),
    10: ("Animal", "species genus family moth snail beetle described endemic habitat "
         "wingspan larvae marine insect spider"),
    11: ("Plant", "plant flowering shrub leaves native genus orchid herb tree grows "
         "flowers perennial botanical cultivated"),
    12: ("Album", "album released studio record label tracks debut single chart produced "
         "recorded compilation billboard songs"),
    13: ("Film", "film directed starring drama comedy screenplay premiered cinema "
         "produced actors documentary thriller box"),
    14: ("WrittenWork", "novel book published author magazine journal fiction series "
         "edition story volume poetry newspaper chapters"),
}  # fmt: skip
SHARED_WORDS = (
    "the of and in is a was it its by for with as on from at which that also known an "
    "first new national american british early modern north south east west located "
    "since during after before between several many major small large old century year "
    "area part called name based local public general original second main well high"
)
SHARED = SHARED_WORDS.split()
NAME_WORDS = (
    "alder brook cedar dover elm fairview glen harlow iris juniper kestrel linden "
    "maple norwood oakley perry quill rowan sterling thorne upton vale willow york"
)
NAMES = NAME_WORDS.split()


def rows(count: int, seed: int = DEFAULT_SEED, label_noise: float = 0.0) -> Iterator[list[str]]:
    """`count` rows spread evenly over the 14 classes, in a shuffled order."""
    rng = random.Random(seed)
    vocab = {number: words.split() for number, (_, words) in CLASSES.items()}
    numbers = [1 + i % len(CLASSES) for i in range(count)]
    rng.shuffle(numbers)
    for number in numbers:
        words: list[str] = []
        for _ in range(rng.randint(12, 32)):
            draw = rng.random()
            if draw < 0.40:
                words.append(rng.choice(vocab[number]))
            elif draw < 0.46:
                words.append(rng.choice(vocab[rng.randint(1, len(CLASSES))]))
            else:
                words.append(rng.choice(SHARED))
        title = " ".join(rng.choice(NAMES).title() for _ in range(rng.randint(1, 3)))
        abstract = f"{title} ({rng.randint(1800, 2020)}) " + " ".join(words) + "."
        label = number
        if label_noise and rng.random() < label_noise:
            label = rng.randint(1, len(CLASSES))
        yield [str(label), title, abstract[:1].upper() + abstract[1:]]


def to_csv(count: int, seed: int = DEFAULT_SEED, label_noise: float = 0.0) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows(count, seed, label_noise):
        writer.writerow(row)
    return buffer.getvalue().encode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--label-noise", type=float, default=0.0)
    parser.add_argument("--out", type=Path, default=HERE / "dbpedia.csv")
    args = parser.parse_args()
    args.out.write_bytes(to_csv(args.rows, args.seed, args.label_noise))
    print(f"wrote {args.rows} rows to {args.out}")


if __name__ == "__main__":
    main()
