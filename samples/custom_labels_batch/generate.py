"""Write the Custom Labels sample set: labelled training images, unlabelled incoming images, a
Ground Truth manifest and images the service must reject.

Run `python samples/custom_labels_batch/generate.py` from the repository root; the output is the
same on every run (fixed seeds). The three classes are drawn objects on cluttered backgrounds:

* `mug`: a squat body with a ring handle on either side, in warm colours;
* `bottle`: a tall body with a shoulder, neck and cap, in cool colours (greens included);
* `plant`: a terracotta or dark pot with green leaves above it.

Colour alone does not separate them (bottles and leaves share greens, backgrounds take any
hue), and position, size, lighting and distractor blobs vary from image to image.

`manifest.jsonl` references the training images under
`s3://custom-labels-batch-samples/custom_labels_batch/`;
`manifest_for(bucket, prefix)` gives the same manifest for another upload location.
"""

from __future__ import annotations

import colorsys
import io
import json
import math
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
SEED = 20240506
SIZE = 96
CLASSES = ("mug", "bottle", "plant")
TRAIN_PER_CLASS = 24
SAMPLE_BUCKET = "custom-labels-batch-samples"
SAMPLE_PREFIX = "custom_labels_batch"
LABEL_ATTRIBUTE = "product"
CREATION_DATE = "2024-05-06T09:30:00.000"
# Incoming images: (class, file name); mixed-case extensions on purpose.
INCOMING = (
    ("mug", "mug-01.JPG"),
    ("bottle", "bottle-01.jpeg"),
    ("plant", "plant-01.png"),
    ("mug", "mug-02.png"),
    ("bottle", "bottle-02.JPG"),
    ("plant", "plant-02.jpeg"),
    ("mug", "mug-03.jpeg"),
    ("bottle", "bottle-03.PNG"),
    ("plant", "plant-03.JPG"),
    ("mug", "mug-04.jpg"),
    ("bottle", "bottle-04.png"),
    ("plant", "plant-04.Jpeg"),
)

RGB = tuple[int, int, int]


def _rgb(hue: float, saturation: float, value: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return round(r * 255), round(g * 255), round(b * 255)


def _background(rng: random.Random) -> Image.Image:
    top = _rgb(rng.random(), rng.uniform(0.05, 0.45), rng.uniform(0.55, 0.95))
    bottom = _rgb(rng.random(), rng.uniform(0.05, 0.45), rng.uniform(0.35, 0.85))
    ramp = np.linspace(0.0, 1.0, SIZE)[:, None, None]
    pixels = (1 - ramp) * np.array(top) + ramp * np.array(bottom)
    pixels = np.broadcast_to(pixels, (SIZE, SIZE, 3)).copy()
    table = rng.randint(SIZE * 2 // 3, SIZE - 6)  # a surface the object stands on
    pixels[table:] *= rng.uniform(0.7, 0.9)
    image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(1, 4)):  # distractor blobs in any colour
        x, y, r = rng.randint(0, SIZE), rng.randint(0, SIZE), rng.randint(3, 9)
        colour = _rgb(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.3, 1.0))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return image


def _draw_mug(draw: ImageDraw.ImageDraw, rng: random.Random, cx: int, base: int, h: int) -> None:
    colour = _rgb(rng.choice((0.0, 0.04, 0.08, 0.12, 0.9, 0.95)), rng.uniform(0.55, 0.95), 0.85)
    w = int(h * rng.uniform(0.75, 0.95))
    left, top = cx - w // 2, base - h
    side = rng.choice((-1, 1))
    handle_x = left + w if side > 0 else left
    ring = int(h * 0.32)
    box = (handle_x - ring, top + h // 5, handle_x + ring, top + h // 5 + 2 * ring)
    draw.ellipse(box, outline=colour, width=max(3, h // 9))
    draw.rounded_rectangle((left, top, left + w, base), radius=max(2, w // 8), fill=colour)
    draw.ellipse((left, top - h // 10, left + w, top + h // 10), fill=_shade(colour, 0.65))


def _draw_bottle(draw: ImageDraw.ImageDraw, rng: random.Random, cx: int, base: int, h: int) -> None:
    colour = _rgb(rng.uniform(0.3, 0.66), rng.uniform(0.5, 0.95), rng.uniform(0.55, 0.9))
    w = int(h * rng.uniform(0.3, 0.4))
    shoulder = base - int(h * 0.62)
    draw.rounded_rectangle((cx - w // 2, shoulder, cx + w // 2, base), radius=w // 4, fill=colour)
    neck_w = max(4, w // 3)
    neck_top = base - h + h // 8
    draw.polygon(
        [
            (cx - w // 2, shoulder + 2),
            (cx - neck_w // 2, shoulder - h // 8),
            (cx + neck_w // 2, shoulder - h // 8),
            (cx + w // 2, shoulder + 2),
        ],
        fill=colour,
    )
    draw.rectangle((cx - neck_w // 2, neck_top, cx + neck_w // 2, shoulder - h // 8), fill=colour)
    cap = _rgb(rng.random(), 0.3, rng.uniform(0.15, 0.95))
    draw.rectangle((cx - neck_w // 2 - 1, base - h, cx + neck_w // 2 + 1, neck_top), fill=cap)
    label_top = shoulder + h // 6
    draw.rectangle((cx - w // 2, label_top, cx + w // 2, label_top + h // 6), fill=(235, 235, 225))


def _draw_plant(draw: ImageDraw.ImageDraw, rng: random.Random, cx: int, base: int, h: int) -> None:
    pot = rng.choice(((184, 98, 60), (150, 80, 50), (90, 70, 60), (200, 120, 80)))
    pot_h = int(h * 0.42)
    top_w, bottom_w = int(h * 0.6), int(h * 0.42)
    draw.polygon(
        [
            (cx - top_w // 2, base - pot_h),
            (cx + top_w // 2, base - pot_h),
            (cx + bottom_w // 2, base),
            (cx - bottom_w // 2, base),
        ],
        fill=pot,
    )
    stem_top = base - h
    for _ in range(rng.randint(4, 7)):
        angle = rng.uniform(-1.1, 1.1)
        length = rng.uniform(0.35, 0.6) * h
        tip_x = cx + int(math.sin(angle) * length)
        tip_y = base - pot_h - int(math.cos(angle) * length)
        leaf = _rgb(rng.uniform(0.22, 0.38), rng.uniform(0.5, 0.9), rng.uniform(0.35, 0.75))
        r = max(3, int(h * rng.uniform(0.1, 0.16)))
        draw.line((cx, base - pot_h, tip_x, tip_y), fill=_shade(leaf, 0.7), width=2)
        draw.ellipse((tip_x - r, tip_y - r // 2, tip_x + r, tip_y + r // 2), fill=leaf)
    draw.line((cx, base - pot_h, cx, max(stem_top, 0)), fill=(60, 110, 40), width=2)


def _shade(colour: RGB, factor: float) -> RGB:
    r, g, b = colour
    return round(r * factor), round(g * factor), round(b * factor)


_DRAWERS = {"mug": _draw_mug, "bottle": _draw_bottle, "plant": _draw_plant}


def draw_image(label: str, seed: int) -> Image.Image:
    """One 96x96 image of `label`, fully determined by `seed`."""
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    image = _background(rng)
    draw = ImageDraw.Draw(image)
    h = int(SIZE * rng.uniform(0.45, 0.75))
    cx = rng.randint(SIZE // 3, SIZE * 2 // 3)
    base = rng.randint(SIZE - 14, SIZE - 3)
    _DRAWERS[label](draw, rng, cx, base, h)
    if rng.random() < 0.5:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    pixels = np.asarray(image, dtype=np.float64)
    pixels = pixels * rng.uniform(0.8, 1.15) + noise.normal(0.0, 7.0, pixels.shape)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def _encode(image: Image.Image, suffix: str) -> bytes:
    buffer = io.BytesIO()
    if suffix.lower() == ".png":
        image.save(buffer, format="PNG", optimize=True)
    else:
        image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def training_images() -> Iterator[tuple[str, str]]:
    """(class, path relative to this folder) of every training image, in manifest order."""
    for label in CLASSES:
        for index in range(1, TRAIN_PER_CLASS + 1):
            yield label, f"train/{label}/{label}-{index:02d}.jpg"


def manifest_line(label: str, source_ref: str) -> str:
    """One Ground Truth image-classification JSON line labelling `source_ref` as `label`."""
    line = {
        "source-ref": source_ref,
        LABEL_ATTRIBUTE: CLASSES.index(label),
        f"{LABEL_ATTRIBUTE}-metadata": {
            "confidence": 1,
            "job-name": f"labeling-job/{LABEL_ATTRIBUTE}",
            "class-name": label,
            "human-annotated": "yes",
            "creation-date": CREATION_DATE,
            "type": "groundtruth/image-classification",
        },
    }
    return json.dumps(line, separators=(",", ":"))


def manifest_for(bucket: str, prefix: str) -> str:
    """The Ground Truth manifest for this folder uploaded to `s3://<bucket>/<prefix>/`.

    The training images must be uploaded with their paths relative to this folder, e.g.
    `train/mug/mug-01.jpg` as `s3://<bucket>/<prefix>/train/mug/mug-01.jpg`.
    """
    base = f"s3://{bucket}/{prefix.strip('/')}/" if prefix.strip("/") else f"s3://{bucket}/"
    return "".join(
        manifest_line(label, base + relative) + "\n" for label, relative in training_images()
    )


def incoming_truth() -> dict[str, str]:
    """File name -> true class of every image in `incoming/` (also readable from the name)."""
    return {name: label for label, name in INCOMING}


def _poison() -> dict[str, bytes]:
    good = _encode(draw_image("mug", SEED + 999), ".jpg")
    gif = io.BytesIO()
    draw_image("bottle", SEED + 998).convert("P").save(gif, format="GIF")
    wide = io.BytesIO()
    # 4200 px wide: over the 4096-pixel maximum dimension but within the 20:1 aspect ratio.
    Image.new("L", (4200, 240), 128).save(wide, format="PNG", optimize=True)
    tiny = io.BytesIO()
    draw_image("plant", SEED + 997).resize((32, 32)).save(tiny, format="PNG")
    return {
        "truncated.jpg": good[: len(good) // 2],
        "gif-named.png": gif.getvalue(),
        "too-wide.png": wide.getvalue(),
        "tiny.png": tiny.getvalue(),
    }


def generate(root: Path = HERE) -> None:
    """Write every sample file under `root`."""
    for index, (label, relative) in enumerate(training_images()):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_encode(draw_image(label, SEED + index), path.suffix))
    incoming = root / "incoming"
    incoming.mkdir(exist_ok=True)
    for index, (label, name) in enumerate(INCOMING):
        image = draw_image(label, SEED + 10_000 + index)
        (incoming / name).write_bytes(_encode(image, Path(name).suffix))
    poison = root / "poison"
    poison.mkdir(exist_ok=True)
    for name, data in _poison().items():
        (poison / name).write_bytes(data)
    (root / "manifest.jsonl").write_text(manifest_for(SAMPLE_BUCKET, SAMPLE_PREFIX))


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
