"""Local Amazon Rekognition Custom Labels: the real API in front of a small real image classifier.

What it emulates, through real boto3 clients (see `localcloud.core.protocol`):

* Projects and model versions: `CreateProject`, `DescribeProjects`, `DeleteProject`,
  `CreateProjectVersion`, `DescribeProjectVersions` (paginated), `DeleteProjectVersion`,
  `StartProjectVersion`, `StopProjectVersion` and `DetectCustomLabels`, with Rekognition's
  error codes; any other operation is `UnknownOperationException`. ARNs follow the documented
  forms, the trailing number being the creation time in epoch milliseconds:
  `arn:aws:rekognition:<region>:<account>:project/<name>/<ms>` and
  `.../project/<name>/version/<version>/<ms>`.
* Training from SageMaker Ground Truth image-classification manifests (JSON lines with
  `source-ref` and label attributes whose `<attribute>-metadata` carries `class-name` and
  `type: groundtruth/image-classification`; several labels per image are allowed). Manifests
  and images are read, and results written, with the caller's own S3 permissions, as the
  current service does. Manifest file errors (missing or unreadable manifest, empty file, too
  large, too many rows) and content errors (more than 20% invalid lines, images in several
  buckets, fewer than 2 or more than 250 labels, too few images per label to auto-split, less
  than 50% label overlap with the test manifest) end the version in TRAINING_FAILED with the
  documented message; invalid lines within the 20% rule are left out. `TestingData.AutoCreate`
  holds out 20% of each label's images (stratified, seeded by the version ARN).
* A real model: logistic regression (scikit-learn) over colour histograms, gradient orientation
  histograms and the shape of the salient region of each image, downsampled to 48x48 (Pillow); a
  label's confidence is its probability times 100. Each label's assumed threshold is the one
  with the best F1 on the test set; `EvaluationResult.F1Score` is the mean of the labels' F1
  scores at those thresholds. The manifest summary and
  `EvaluationSummary-<project>-<version>.json` (both in the documented formats) and the training
  and testing validation manifests (the manifest lines, with an `errors` list on failed lines)
  go to `<S3KeyPrefix>/<project>/<version>/` in the output bucket.
* Status on the local clock: TRAINING_IN_PROGRESS for `training_base_seconds` plus
  `training_seconds_per_image` per image (the guide says training typically takes 30 minutes
  to 24 hours; failures surface after `failure_seconds`), STARTING for `start_seconds`
  (default 10 minutes), RUNNING, STOPPING for `stop_seconds` (default 2 minutes), STOPPED. The
  guide says starting takes "a few minutes" and a stop and restart means 10-20 minutes of
  downtime; the defaults add up to 12. Starting is allowed from TRAINING_COMPLETED, STOPPED and
  FAILED; a version that is training, starting, running or stopping answers
  `ResourceInUseException`, one that failed training `InvalidParameterException` (as does
  stopping a model that is neither starting nor running, an undocumented case).
* `DetectCustomLabels` only while RUNNING (`ResourceNotReadyException` otherwise), for JPEG and
  PNG images (recognised by content, not name) of 64 to 4096 pixels a side with an aspect
  ratio of at most 20:1, at most 4 MB as bytes (the model's 5 MB maximum is a validation
  error) and 15 MB in S3. Which error a wrong size gets is not documented: this engine answers
  `ImageTooLargeException` above the maximum size or dimension, `InvalidParameterException`
  below the minimum dimension or beyond the aspect ratio. Labels come sorted by confidence
  (0-100); without `MinConfidence` each label is held to its assumed threshold, and
  `MinConfidence` 0 returns every label. S3 images are read with the caller's permissions; a
  missing or unreadable object is `InvalidS3ObjectException`.
* Throughput: 5 transactions per second per inference unit (the figure an earlier revision of
  the StartProjectVersion API reference gave; the guide now gives none) over a sliding
  one-second window of the local clock, `ProvisionedThroughputExceededException` beyond it.
  With `MaxInferenceUnits`, rejections in `sustained_pressure_seconds` distinct seconds within
  a minute add one unit, in service `scale_out_seconds` later, up to the maximum; a unit is
  removed once `scale_in_seconds` pass without the load needing it, down to the minimum.
* Billing (`usage`): inference-unit-seconds while RUNNING (starting and stopping are not
  billed), per version and run, with billed minutes (each run rounded up to a whole minute,
  since the guide bills running time in minutes), billable training seconds of successful
  trainings, and DetectCustomLabels calls (admitted, and rejected for throughput).

What it does not do:

* No object detection: object-detection JSON lines are ignored, so a detection manifest fails
  with too few labels, and `CustomLabels` never carry `Geometry`. No datasets API, model copy,
  project policies, tags API or KMS; `CONTENT_MODERATION` projects (adapters) are rejected.
* Model quality is that of a small classifier on tiny images, meant for the project's samples
  and demos, not of the service's deep models.
* Autoscaling is a plain emulation: AWS documents neither its triggers nor its timing.
* Service errors during training (`InternalServerError` on AWS) are not emulated. Faults are
  injected on purpose: `fail_next_start`, `fail_next_training` (TRAINING_FAILED with a given
  message) and `throttle_next` (`ThrottlingException`, HTTP 500 as documented).
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import math
import random
import re
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
from botocore.exceptions import ClientError
from PIL import Image, UnidentifiedImageError
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from localcloud.core.clock import LocalClock
from localcloud.core.protocol import CallContext, LocalEngine, ServiceError, existing

FEATURE: Final = "CUSTOM_LABELS"
CLASSIFICATION_TYPE: Final = "groundtruth/image-classification"
# Image bytes over the model's 5 MB maximum are a validation error; over 4 MB, too large.
MAX_BYTES_IMAGE: Final = 4 * 1024 * 1024
MAX_S3_IMAGE: Final = 15 * 1024 * 1024
MIN_DIMENSION: Final = 64
MAX_DIMENSION: Final = 4096
MAX_ASPECT_RATIO: Final = 20.0
TPS_PER_INFERENCE_UNIT: Final = 5.0
MAX_MANIFEST_BYTES: Final = 1024**3
MAX_MANIFEST_LINES: Final = 250_000
MIN_LABELS: Final = 2
MAX_LABELS: Final = 250
MAX_INVALID_FRACTION: Final = 0.2
MIN_LABEL_OVERLAP: Final = 0.5
AUTOSPLIT_FRACTION: Final = 0.2
DEFAULT_THRESHOLD: Final = 0.5
PAGE_SIZE: Final = 100
_JPEG_MAGIC: Final = b"\xff\xd8\xff"
_PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
_S3_URI = re.compile(r"^s3://([^/]+)/(.+)$")

# Messages of the documented training errors, by error code.
TRAINING_ERRORS: Final[Mapping[str, str]] = {
    "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT": (
        "The manifest file extension or contents are invalid."
    ),
    "ERROR_EMPTY_MANIFEST": "The manifest file is empty.",
    "ERROR_MANIFEST_SIZE_TOO_LARGE": "The manifest file size exceeds the maximum supported size.",
    "ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET": "Unable to write to output S3 bucket.",
    "ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET": "The S3 bucket permissions are incorrect.",
    "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM": "The manifest file has too many rows.",
    "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST": "The manifest file contains too many invalid rows.",
    "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS": (
        "The manifest file contains images from multiple S3 buckets."
    ),
    "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT": (
        "The manifest file contains insufficient labeled images per label to perform auto-split."
    ),
    "ERROR_MANIFEST_TOO_FEW_LABELS": "The manifest file has too few labels.",
    "ERROR_MANIFEST_TOO_MANY_LABELS": "The manifest file has too many labels.",
    "ERROR_INSUFFICIENT_LABEL_OVERLAP": (
        "Less than 50% label overlap between the training and testing manifest files."
    ),
}
# Non-terminal JSON line errors (the offending line is left out of training).
LINE_ERRORS: Final[Mapping[str, str]] = {
    "ERROR_MISSING_SOURCE_REF": "The source-ref key is missing.",
    "ERROR_INVALID_SOURCE_REF_FORMAT": "The format of the source-ref value is invalid.",
    "ERROR_NO_LABEL_ATTRIBUTES": "No label attributes found.",
    "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT": "The format of the label attribute {} is invalid.",
    "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT": (
        "The format of the label attributemetadata is invalid."
    ),
    "ERROR_INVALID_JSON_LINE": "The JSON Line has an invalid format.",
    "ERROR_INVALID_IMAGE": "The image is invalid. Check S3 path and/or image properties.",
}
_METADATA_FIELDS: Final = ("confidence", "class-name", "human-annotated", "creation-date", "type")

STATUS_MESSAGES: Final[Mapping[str, str]] = {
    "TRAINING_IN_PROGRESS": "The model is being trained.",
    "TRAINING_COMPLETED": "The model is ready to run.",
    "STARTING": "The model is being started.",
    "RUNNING": "The model is running.",
    "STOPPING": "The model is being stopped.",
    "STOPPED": "The model is stopped.",
}


# --- Configuration and metering ---------------------------------------------------------------


@dataclass(frozen=True)
class CustomLabelsTimings:
    """How long things take, in virtual seconds of the local clock."""

    training_base_seconds: float = 1800.0
    training_seconds_per_image: float = 1.0
    failure_seconds: float = 300.0
    start_seconds: float = 600.0
    stop_seconds: float = 120.0
    scale_out_seconds: float = 300.0
    scale_in_seconds: float = 900.0
    sustained_pressure_seconds: int = 3


@dataclass(frozen=True)
class BilledSegment:
    """A stretch of RUNNING time at a constant number of inference units."""

    version_arn: str
    run: int  # 1 for the first StartProjectVersion of the version, 2 for the next, ...
    start: float
    end: float
    units: int

    @property
    def inference_unit_seconds(self) -> float:
        return (self.end - self.start) * self.units


class CustomLabelsUsage:
    """What Custom Labels bills: inference units while a model runs, and training time.

    Queries first bring every version up to date with the clock (`refresh`), so a running
    model's current stretch counts up to now.
    """

    def __init__(self, clock: LocalClock, refresh: Callable[[], None]) -> None:
        self._clock = clock
        self._refresh = refresh
        self._lock = threading.Lock()
        self._segments: list[BilledSegment] = []
        self._open: dict[str, tuple[int, float, int]] = {}  # arn -> (run, start, units)
        self.training_seconds: Counter[str] = Counter()
        self.detect_calls: Counter[str] = Counter()
        self.rejected_calls: Counter[str] = Counter()

    def open_segment(self, arn: str, run: int, start: float, units: int) -> None:
        """The engine's record: `arn` runs `units` inference units from `start` on."""
        with self._lock:
            self._open[arn] = (run, start, units)

    def close_segment(self, arn: str, end: float) -> None:
        """The engine's record: the units `arn` ran stop counting at `end`."""
        with self._lock:
            opened = self._open.pop(arn, None)
            if opened is not None and end > opened[1]:
                run, start, units = opened
                self._segments.append(BilledSegment(arn, run, start, end, units))

    def segments(self, version_arn: str | None = None) -> list[BilledSegment]:
        """Every billed stretch so far, the running ones ending now."""
        self._refresh()
        now = self._clock.time()
        with self._lock:
            found = list(self._segments)
            found += [
                BilledSegment(arn, run, start, now, units)
                for arn, (run, start, units) in self._open.items()
                if now > start
            ]
        return [s for s in found if version_arn is None or s.version_arn == version_arn]

    def inference_unit_seconds(self, version_arn: str | None = None) -> float:
        return sum(segment.inference_unit_seconds for segment in self.segments(version_arn))

    def billed_inference_minutes(self, version_arn: str | None = None) -> int:
        """Inference-unit minutes billed: each run's inference-unit time rounded up."""
        per_run: dict[tuple[str, int], float] = {}
        for segment in self.segments(version_arn):
            key = (segment.version_arn, segment.run)
            per_run[key] = per_run.get(key, 0.0) + segment.inference_unit_seconds
        # Timestamps are kept to the millisecond, like the service's.
        return sum(math.ceil(round(seconds, 3) / 60) for seconds in per_run.values())

    def inference_hours(self, version_arn: str | None = None) -> float:
        return self.billed_inference_minutes(version_arn) / 60


# --- Images and the model ---------------------------------------------------------------------


class _ImageError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _image_kind(data: bytes) -> str | None:
    if data.startswith(_JPEG_MAGIC):
        return "JPEG"
    if data.startswith(_PNG_MAGIC):
        return "PNG"
    return None


def open_image(data: bytes) -> Image.Image:
    """Decode a JPEG or PNG within Custom Labels' dimension limits; raises `_ImageError`."""
    kind = _image_kind(data)
    if kind is None:
        raise _ImageError(
            "InvalidImageFormatException", "The image must be a PNG or JPEG formatted file."
        )
    try:
        image = Image.open(io.BytesIO(data), formats=[kind])
        width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _ImageError("InvalidImageFormatException", f"The {kind} image is corrupt.") from exc
    if width > MAX_DIMENSION or height > MAX_DIMENSION:
        raise _ImageError(
            "ImageTooLargeException",
            f"The image is {width}x{height} pixels; the maximum is {MAX_DIMENSION} pixels a side.",
        )
    if width < MIN_DIMENSION or height < MIN_DIMENSION:
        raise _ImageError(
            "InvalidParameterException",
            f"The image is {width}x{height} pixels; the minimum is {MIN_DIMENSION} pixels a side.",
        )
    if max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise _ImageError(
            "InvalidParameterException",
            f"The image's aspect ratio exceeds {MAX_ASPECT_RATIO:g}:1.",
        )
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise _ImageError(
            "InvalidImageFormatException", f"The {kind} image cannot be decoded: {exc}."
        ) from exc
    return image.convert("RGB")


def _orientation_histogram(gray: np.ndarray, cells: int, bins: int = 9) -> np.ndarray:
    gy, gx = np.gradient(gray)
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    index = np.minimum((angle / np.pi * bins).astype(int), bins - 1)
    step = gray.shape[0] // cells
    histograms = []
    for row in range(cells):
        for col in range(cells):
            cell = (slice(row * step, (row + 1) * step), slice(col * step, (col + 1) * step))
            histograms.append(
                np.bincount(index[cell].ravel(), weights=magnitude[cell].ravel(), minlength=bins)
            )
    joined = np.concatenate(histograms)
    return joined / max(float(np.linalg.norm(joined)), 1e-9)


def _profile(mask: np.ndarray, axis: int, points: int = 8) -> tuple[np.ndarray, float]:
    """The mask's mass along one axis, resampled over its extent, and that extent's fraction."""
    mass = mask.mean(axis=axis)
    occupied = np.nonzero(mass > 0.05)[0]
    if occupied.size == 0:
        return np.zeros(points), 0.0
    span = mass[occupied[0] : occupied[-1] + 1]
    resampled = np.interp(np.linspace(0, span.size - 1, points), np.arange(span.size), span)
    return resampled, span.size / mask.shape[1 - axis]


def image_features(image: Image.Image) -> np.ndarray:
    """The feature vector the classifier sees: colour, gradients and the salient region's shape."""
    small = image.convert("RGB").resize((48, 48), Image.Resampling.BILINEAR)
    rgb = np.asarray(small, dtype=np.float64)
    hsv = np.asarray(small.convert("HSV"), dtype=np.float64) / 255.0
    hue, saturation, value = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    colour = np.histogram2d(
        hue.ravel(), saturation.ravel(), bins=(18, 3), range=((0, 1), (0, 1)), weights=value.ravel()
    )[0].ravel()
    colour /= max(float(colour.sum()), 1e-9)
    brightness = np.histogram(value, bins=6, range=(0, 1))[0] / value.size
    gray = rgb.mean(axis=-1) / 255.0
    # Backgrounds vary mostly from top to bottom, so a pixel far from its row's median colour
    # is likely part of the subject.
    row_median = np.median(rgb, axis=1, keepdims=True)
    mask = (np.linalg.norm(rgb - row_median, axis=-1) > 45).astype(np.float64)
    subject_hue = np.histogram(hue[mask > 0], bins=12, range=(0, 1))[0].astype(np.float64)
    subject_hue /= max(float(subject_hue.sum()), 1.0)
    rows, height = _profile(mask, 1)
    cols, width = _profile(mask, 0)
    shape = np.array([mask.mean(), height, width, height / max(width, 1e-3)])
    return np.concatenate(
        [
            colour,
            brightness,
            _orientation_histogram(gray, 1),
            _orientation_histogram(gray, 4),
            subject_hue,
            rows,
            cols,
            shape,
        ]
    )


@dataclass
class LabelMetrics:
    label: str
    threshold: float
    precision: float
    recall: float
    f1: float
    test_images: int


@dataclass
class ClassifierModel:
    """A trained model: one score in [0, 1] per label, and each label's assumed threshold.

    Logistic regression over standardised features: a softmax across the labels when every
    training image has exactly one label (the scores of an image sum to 1), one binary model
    per label when images may carry several.
    """

    labels: tuple[str, ...]
    estimator: Any
    exclusive: bool
    thresholds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, features: np.ndarray, label_sets: list[frozenset[str]]) -> ClassifierModel:
        labels = tuple(sorted(set().union(*label_sets)))
        exclusive = all(len(owned) == 1 for owned in label_sets)
        regression = LogisticRegression(C=1.0, max_iter=5000)
        if exclusive:
            estimator = make_pipeline(StandardScaler(), regression)
            estimator.fit(features, [next(iter(owned)) for owned in label_sets])
        else:
            targets = np.array([[label in owned for label in labels] for owned in label_sets])
            estimator = make_pipeline(StandardScaler(), OneVsRestClassifier(regression))
            estimator.fit(features, targets.astype(int))
        return cls(labels, estimator, exclusive)

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Per image and label, the model's probability that the label applies."""
        probabilities = self.estimator.predict_proba(features)
        if not self.exclusive:
            return np.asarray(probabilities)
        order = list(self.estimator.classes_)
        return np.stack([probabilities[:, order.index(label)] for label in self.labels], axis=1)


def _best_threshold(scores: np.ndarray, truth: np.ndarray) -> tuple[float, float, float, float]:
    """(threshold, precision, recall, F1) with the best F1; ties go to the widest margin."""
    values = np.unique(np.concatenate([[0.0, 1.0], scores]))
    best = (DEFAULT_THRESHOLD, 0.0, 0.0, 0.0)
    best_key = (-1.0, -1.0)
    for low, high in itertools.pairwise(values):
        threshold = float(low + high) / 2
        predicted = scores >= threshold
        true_positives = int(np.sum(predicted & truth))
        precision = true_positives / max(int(predicted.sum()), 1)
        recall = true_positives / max(int(truth.sum()), 1)
        f1 = 2 * precision * recall / (precision + recall) if true_positives else 0.0
        key = (round(f1, 12), float(high - low))
        if key > best_key:
            best_key, best = key, (threshold, precision, recall, f1)
    return best


# --- Manifests and training -------------------------------------------------------------------


@dataclass
class _Line:
    index: int  # 1-based line number in the manifest
    raw: dict[str, Any] | None
    location: tuple[str, str] | None = None  # (bucket, key) of source-ref
    labels: frozenset[str] = frozenset()
    errors: list[tuple[str, str]] = field(default_factory=list)
    ignored: bool = False
    features: np.ndarray | None = None

    @property
    def usable(self) -> bool:
        return not self.errors and not self.ignored and self.features is not None


class _TrainingError(Exception):
    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.message = message or TRAINING_ERRORS[code]
        super().__init__(self.message)


def _split_s3_uri(uri: str) -> tuple[str, str] | None:
    match = _S3_URI.match(uri)
    return (match.group(1), match.group(2)) if match else None


def _client_error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "ClientError")


def _parse_line(index: int, text: str) -> _Line:
    try:
        raw = json.loads(text)
    except ValueError:
        raw = None
    if not isinstance(raw, dict):
        line = _Line(index, None)
        line.errors.append(("ERROR_INVALID_JSON_LINE", LINE_ERRORS["ERROR_INVALID_JSON_LINE"]))
        return line
    line = _Line(index, raw)
    source_ref = raw.get("source-ref")
    if source_ref is None:
        line.errors.append(("ERROR_MISSING_SOURCE_REF", LINE_ERRORS["ERROR_MISSING_SOURCE_REF"]))
        return line
    location = _split_s3_uri(source_ref) if isinstance(source_ref, str) else None
    if location is None:
        code = "ERROR_INVALID_SOURCE_REF_FORMAT"
        line.errors.append((code, LINE_ERRORS[code]))
        return line
    line.location = location
    attributes = [key for key in raw if key != "source-ref" and f"{key}-metadata" in raw]
    if not attributes:
        line.errors.append(("ERROR_NO_LABEL_ATTRIBUTES", LINE_ERRORS["ERROR_NO_LABEL_ATTRIBUTES"]))
        return line
    labels: set[str] = set()
    for attribute in attributes:
        metadata = raw[f"{attribute}-metadata"]
        if not isinstance(metadata, dict) or metadata.get("type") != CLASSIFICATION_TYPE:
            continue  # bounding boxes and other label types: not an image-level label
        value = raw[attribute]
        if isinstance(value, bool) or not isinstance(value, int):
            code = "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"
            line.errors.append((code, LINE_ERRORS[code].format(attribute)))
            continue
        class_name = metadata.get("class-name")
        confidence = metadata.get("confidence")
        if (
            any(name not in metadata for name in _METADATA_FIELDS)
            or not isinstance(class_name, str)
            or not class_name
            or not isinstance(confidence, int | float)
            or not 0 <= confidence <= 1
        ):
            code = "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"
            line.errors.append((code, LINE_ERRORS[code]))
            continue
        labels.add(class_name)
    line.labels = frozenset(labels)
    line.ignored = not line.errors and not labels
    return line


def _feature_matrix(lines: list[_Line]) -> np.ndarray:
    return np.stack([line.features for line in lines if line.features is not None])


@dataclass
class _Dataset:
    lines: list[_Line]

    @property
    def usable(self) -> list[_Line]:
        return [line for line in self.lines if line.usable]

    @property
    def labels(self) -> set[str]:
        return set().union(*(line.labels for line in self.usable))

    @property
    def invalid(self) -> list[_Line]:
        return [line for line in self.lines if line.errors]

    def statistics(self, errors: list[tuple[str, str]]) -> dict[str, Any]:
        return {
            "use_case": "IMAGE_LEVEL_LABELS" if self.usable else "NOT_DETERMINED",
            "total_json_lines": len(self.lines),
            "valid_json_lines": len(self.usable),
            "invalid_json_lines": len(self.invalid),
            "ignored_json_lines": sum(1 for line in self.lines if line.ignored),
            "error_json_line_indices": [line.index for line in self.invalid],
            "errors": [{"code": code, "message": message} for code, message in errors],
        }

    def validation_manifest(self) -> bytes:
        rows = []
        for line in self.lines:
            row = dict(line.raw) if line.raw is not None else {}
            if line.errors:
                row["errors"] = [{"code": c, "message": m} for c, m in line.errors]
            rows.append(json.dumps(row, separators=(",", ":")))
        return ("\n".join(rows) + "\n").encode("utf-8")


@dataclass
class _TrainingResult:
    model: ClassifierModel | None = None
    metrics: list[LabelMetrics] = field(default_factory=list)
    f1: float = 0.0
    confusion: list[dict[str, Any]] = field(default_factory=list)
    training_images: int = 0
    testing_images: int = 0
    failure: _TrainingError | None = None
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> GroundTruthManifest

    @property
    def image_count(self) -> int:
        return self.training_images + self.testing_images


# --- Engine state -----------------------------------------------------------------------------


@dataclass(eq=False)
class _Version:
    arn: str
    name: str
    project: _Project
    created_at: float
    request: dict[str, Any]
    status: str = "TRAINING_IN_PROGRESS"
    status_message: str | None = None
    training_end_at: float = 0.0
    outcome: _TrainingResult = field(default_factory=_TrainingResult)
    billable_training_seconds: int | None = None
    min_units: int | None = None
    max_units: int | None = None
    units: int = 0
    units_since: float = 0.0
    run: int = 0
    transition_at: float = 0.0  # end of STARTING or STOPPING
    start_failure: str | None = None
    pending_unit_at: float | None = None
    last_busy_at: float = 0.0
    recent_calls: deque[float] = field(default_factory=deque)
    pressure_seconds: deque[int] = field(default_factory=deque)


@dataclass(eq=False)
class _Project:
    name: str
    arn: str
    created_at: float
    versions: dict[str, _Version] = field(default_factory=dict)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _page(items: list[Any], token: str | None, limit: int) -> tuple[list[Any], str | None]:
    """One page of `items` (already ordered); the token is the offset of the next page."""
    offset = 0
    if token:
        try:
            offset = int(json.loads(base64.urlsafe_b64decode(token.encode("ascii")))["offset"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ServiceError(
                "InvalidPaginationTokenException", "The pagination token is not valid."
            ) from exc
        if not 0 <= offset <= len(items):
            raise ServiceError(
                "InvalidPaginationTokenException", "The pagination token is not valid."
            )
    page = items[offset : offset + limit]
    following = offset + limit
    next_token = None
    if following < len(items):
        next_token = base64.urlsafe_b64encode(
            json.dumps({"offset": following}).encode("utf-8")
        ).decode("ascii")
    return page, next_token


# --- The engine -------------------------------------------------------------------------------


class RekognitionEngine(LocalEngine):
    """Amazon Rekognition Custom Labels on the local cloud; see the module docstring."""

    service_name = "rekognition"

    def __init__(
        self,
        clock: LocalClock,
        s3_for_role: Callable[[str], Any],
        *,
        s3_for_principal: Callable[[str | None], Any] | None = None,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        timings: CustomLabelsTimings | None = None,
        tps_per_inference_unit: float = TPS_PER_INFERENCE_UNIT,
    ) -> None:
        """`s3_for_role(arn)` is an S3 client signing as an IAM principal. Custom Labels reads
        manifests and images and writes training results with the caller's own permissions:
        the engine uses `s3_for_principal(ctx.principal)` when given, otherwise
        `s3_for_role(ctx.principal)` (the account root for a caller it cannot name)."""
        super().__init__(clock, account_id, region)
        self.timings = timings or CustomLabelsTimings()
        self.tps_per_inference_unit = tps_per_inference_unit
        self.usage = CustomLabelsUsage(clock, self.poll)
        self._s3_for_role = s3_for_role
        self._s3_for_principal = s3_for_principal
        self._projects: dict[str, _Project] = {}  # by ARN
        self._versions: dict[str, _Version] = {}  # by ARN
        self._throttle_remaining = 0
        self._throttled_operation: str | None = None
        self._start_failures: deque[str] = deque()
        self._training_failures: deque[str] = deque()
        self._operations: dict[str, Callable[[dict[str, Any], CallContext], dict[str, Any]]] = {
            "CreateProject": self._create_project,
            "DescribeProjects": self._describe_projects,
            "DeleteProject": self._delete_project,
            "CreateProjectVersion": self._create_project_version,
            "DescribeProjectVersions": self._describe_project_versions,
            "DeleteProjectVersion": self._delete_project_version,
            "StartProjectVersion": self._start_project_version,
            "StopProjectVersion": self._stop_project_version,
            "DetectCustomLabels": self._detect_custom_labels,
        }

    # -- dispatch and faults ----------------------------------------------------------------

    def handle(self, operation: str, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        handler = self._handler(self._operations, operation)
        with self._lock:
            if self._throttle_remaining > 0 and self._throttled_operation in (None, operation):
                self._throttle_remaining -= 1
                raise ServiceError(
                    "ThrottlingException",
                    "Amazon Rekognition is temporarily unable to process the request.",
                    500,
                )
            if operation != "DetectCustomLabels":
                return handler(params, ctx)
        # Inference reads and scores the image outside the lock: it may run for many callers.
        return handler(params, ctx)

    def throttle_next(self, calls: int, operation: str | None = None) -> None:
        """Answer the next `calls` calls (to `operation`, or any) with `ThrottlingException`."""
        with self._lock:
            self._throttle_remaining = calls
            self._throttled_operation = operation

    def fail_next_start(self, message: str = "The model failed to start.") -> None:
        """Make the next `StartProjectVersion` end FAILED with `message` as StatusMessage."""
        with self._lock:
            self._start_failures.append(message)

    def fail_next_training(self, message: str = "The model could not be trained.") -> None:
        """Make the next training that would succeed end TRAINING_FAILED with `message`."""
        with self._lock:
            self._training_failures.append(message)

    def _caller_s3(self, principal: str | None) -> Any:
        if self._s3_for_principal is not None:
            return self._s3_for_principal(principal)
        return self._s3_for_role(principal or f"arn:aws:iam::{self.account_id}:root")

    # -- lookups and the clock --------------------------------------------------------------

    def _project(self, arn: str) -> _Project:
        missing = ServiceError("ResourceNotFoundException", f"The project {arn} does not exist.")
        return existing(self._projects, arn, missing)

    def _version(self, arn: str) -> _Version:
        missing = ServiceError(
            "ResourceNotFoundException", f"The model version {arn} does not exist."
        )
        version = existing(self._versions, arn, missing)
        self._advance(version, self.clock.time())
        return version

    def poll(self) -> None:
        """Bring every version up to date with the clock (status, autoscaling, billing)."""
        with self._lock:
            now = self.clock.time()
            for version in self._versions.values():
                self._advance(version, now)

    def status_of(self, version_arn: str) -> str:
        with self._lock:
            return self._version(version_arn).status

    def inference_units(self, version_arn: str) -> int:
        """The inference units in service now (0 unless RUNNING)."""
        with self._lock:
            version = self._version(version_arn)
            return version.units if version.status == "RUNNING" else 0

    def _advance(self, version: _Version, now: float) -> None:
        """Apply every transition due by `now`, in time order."""
        while self._step(version, now):
            pass

    def _step(self, version: _Version, now: float) -> bool:
        """Apply the next transition due by `now`; False when there is none."""
        status = version.status
        if status == "TRAINING_IN_PROGRESS":
            if now < version.training_end_at:
                return False
            self._finish_training(version)
            return True
        if status in ("STARTING", "STOPPING") and now < version.transition_at:
            return False
        if status == "STARTING":
            if version.start_failure is not None:
                version.status, version.status_message = "FAILED", version.start_failure
                return True
            version.status, version.status_message = "RUNNING", STATUS_MESSAGES["RUNNING"]
            version.units = version.min_units or 1
            version.units_since = version.last_busy_at = version.transition_at
            self.usage.open_segment(version.arn, version.run, version.transition_at, version.units)
            return True
        if status == "STOPPING":
            version.status, version.status_message = "STOPPED", STATUS_MESSAGES["STOPPED"]
            return True
        if status == "RUNNING":
            return self._scale(version, now)
        return False

    def _scale(self, version: _Version, now: float) -> bool:
        """Apply the next autoscaling change due by `now`; False when there is none."""
        scale_in_at = None
        if version.min_units is not None and version.units > version.min_units:
            scale_in_at = (
                max(version.last_busy_at, version.units_since) + self.timings.scale_in_seconds
            )
        events = [
            (at, step)
            for at, step in ((version.pending_unit_at, +1), (scale_in_at, -1))
            if at is not None and at <= now
        ]
        if not events:
            return False
        at, step = min(events)
        self.usage.close_segment(version.arn, at)
        version.units += step
        version.units_since = at
        if step > 0:
            version.pending_unit_at = None
        else:
            version.last_busy_at = at
        self.usage.open_segment(version.arn, version.run, at, version.units)
        return True

    # -- projects ---------------------------------------------------------------------------

    def _new_project(self, name: str, created_at: float) -> _Project:
        if any(project.name == name for project in self._projects.values()):
            raise ServiceError("ResourceInUseException", f"The project {name} already exists.")
        arn = (
            f"arn:aws:rekognition:{self.region}:{self.account_id}:project/{name}/"
            f"{int(created_at * 1000)}"
        )
        project = _Project(name, arn, created_at)
        self._projects[arn] = project
        return project

    def _create_project(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        if params.get("Feature", FEATURE) != FEATURE:
            raise ServiceError(
                "InvalidParameterException",
                "The local Rekognition engine emulates Custom Labels projects only.",
            )
        project = self._new_project(params["ProjectName"], self.clock.time())
        return {"ProjectArn": project.arn}

    def _describe_projects(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        if FEATURE not in params.get("Features", [FEATURE]):
            return {"ProjectDescriptions": []}
        names = params.get("ProjectNames")
        projects = sorted(
            (p for p in self._projects.values() if names is None or p.name in names),
            key=lambda project: (-project.created_at, project.name),
        )
        page, token = _page(projects, params.get("NextToken"), params.get("MaxResults", PAGE_SIZE))
        result: dict[str, Any] = {
            "ProjectDescriptions": [
                {
                    "ProjectArn": project.arn,
                    "CreationTimestamp": _when(project.created_at),
                    "Status": "CREATED",
                    "Datasets": [],
                    "Feature": FEATURE,
                }
                for project in page
            ]
        }
        if token:
            result["NextToken"] = token
        return result

    def _delete_project(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        project = self._project(params["ProjectArn"])
        if project.versions:
            raise ServiceError(
                "ResourceInUseException",
                f"The project {project.name} has model versions; delete them first.",
            )
        del self._projects[project.arn]
        return {"Status": "DELETING"}

    # -- training ---------------------------------------------------------------------------

    def _create_project_version(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        project = self._project(params["ProjectArn"])
        version = self._new_version(project, params, self.clock.time(), ctx.principal)
        return {"ProjectVersionArn": version.arn}

    def _check_training_request(self, project: _Project, params: Mapping[str, Any]) -> None:
        name = params["VersionName"]
        if name in project.versions:
            raise ServiceError(
                "ResourceInUseException", f"The version name {name} is already in use."
            )
        if params.get("FeatureConfig"):
            raise ServiceError(
                "InvalidParameterException",
                "FeatureConfig does not apply to a Custom Labels project.",
            )
        if not params["OutputConfig"].get("S3Bucket"):
            raise ServiceError("InvalidParameterException", "OutputConfig needs an S3Bucket.")
        training, testing = params.get("TrainingData"), params.get("TestingData")
        if training is None or testing is None:
            raise ServiceError(
                "InvalidParameterException",
                "The project has no datasets: specify both TrainingData and TestingData.",
            )
        assets = training.get("Assets") or []
        if len(assets) != 1 or "S3Object" not in assets[0].get("GroundTruthManifest", {}):
            raise ServiceError(
                "InvalidParameterException",
                "TrainingData needs exactly one asset with a GroundTruthManifest S3Object.",
            )
        test_assets = testing.get("Assets") or []
        if bool(testing.get("AutoCreate")) == bool(test_assets):
            raise ServiceError(
                "InvalidParameterException",
                "TestingData needs either AutoCreate or one asset, not both and not neither.",
            )
        if test_assets and (
            len(test_assets) != 1 or "S3Object" not in test_assets[0].get("GroundTruthManifest", {})
        ):
            raise ServiceError(
                "InvalidParameterException",
                "TestingData needs exactly one asset with a GroundTruthManifest S3Object.",
            )

    def _new_version(
        self,
        project: _Project,
        params: dict[str, Any],
        created_at: float,
        principal: str | None,
    ) -> _Version:
        self._check_training_request(project, params)
        name = params["VersionName"]
        arn = f"{project.arn.rsplit('/', 1)[0]}/version/{name}/{int(created_at * 1000)}"
        version = _Version(arn, name, project, created_at, dict(params))
        version.outcome = self._train(version, self._caller_s3(principal))
        if self._training_failures and version.outcome.failure is None:
            message = self._training_failures.popleft()
            version.outcome = _TrainingResult(failure=_TrainingError("SERVICE_ERROR", message))
        if version.outcome.failure is None:
            duration = (
                self.timings.training_base_seconds
                + self.timings.training_seconds_per_image * version.outcome.image_count
            )
        else:
            duration = self.timings.failure_seconds
        version.training_end_at = created_at + duration
        version.status_message = STATUS_MESSAGES["TRAINING_IN_PROGRESS"]
        project.versions[name] = version
        self._versions[arn] = version
        return version

    def _finish_training(self, version: _Version) -> None:
        failure = version.outcome.failure
        if failure is not None:
            version.status, version.status_message = "TRAINING_FAILED", failure.message
            return
        version.status = "TRAINING_COMPLETED"
        version.status_message = STATUS_MESSAGES["TRAINING_COMPLETED"]
        version.billable_training_seconds = round(version.training_end_at - version.created_at)
        self.usage.training_seconds[version.arn] += version.billable_training_seconds

    def _train(self, version: _Version, s3: Any) -> _TrainingResult:
        """Validate the manifests, train and evaluate; failures are returned, not raised."""
        result = _TrainingResult()
        request = version.request
        output = request["OutputConfig"]
        prefix = (output.get("S3KeyPrefix") or "").strip("/")
        base = f"{prefix}/" if prefix else ""
        base += f"{version.project.name}/{version.name}/"
        try:
            training = self._read_dataset(s3, request["TrainingData"]["Assets"][0])
            test_assets = request["TestingData"].get("Assets")
            testing = self._read_dataset(s3, test_assets[0]) if test_assets else None
        except _TrainingError as failure:
            result.failure = failure
            return result
        training_errors: list[tuple[str, str]] = []
        testing_errors: list[tuple[str, str]] = []
        for dataset, errors in ((training, training_errors), (testing, testing_errors)):
            if dataset is not None:
                self._load_images(s3, dataset, errors)
        if testing is None:
            testing = self._auto_split(training, version.arn, training_errors)
        shared_errors = self._check_labels(training, testing, training_errors, testing_errors)
        result.training_images, result.testing_images = len(training.usable), len(testing.usable)
        content_errors = training_errors + testing_errors + shared_errors
        summary = {
            "statistics": {
                "training": training.statistics(training_errors),
                "testing": testing.statistics(testing_errors),
            },
            "errors": [{"code": code, "message": message} for code, message in shared_errors],
        }
        bucket = output["S3Bucket"]
        try:
            self._write(s3, bucket, base + "manifest_summary.json", summary)
            self._write(s3, bucket, base + "training_manifest_with_validation.json", training)
            self._write(s3, bucket, base + "testing_manifest_with_validation.json", testing)
        except _TrainingError as failure:
            result.failure = failure
            return result
        result.outputs = {
            name: {"S3Object": {"Bucket": bucket, "Name": base + file}}
            for name, file in (
                ("summary", "manifest_summary.json"),
                ("training", "training_manifest_with_validation.json"),
                ("testing", "testing_manifest_with_validation.json"),
            )
        }
        if content_errors:
            result.failure = _TrainingError(content_errors[0][0])
            return result
        self._fit(version, training, testing, result)
        evaluation_key = f"{base}EvaluationSummary-{version.project.name}-{version.name}.json"
        try:
            self._write(s3, bucket, evaluation_key, self._evaluation_summary(version, result))
        except _TrainingError as failure:
            result.failure = failure
            return result
        result.outputs["evaluation"] = {"S3Object": {"Bucket": bucket, "Name": evaluation_key}}
        return result

    def _read_dataset(self, s3: Any, asset: Mapping[str, Any]) -> _Dataset:
        location = asset["GroundTruthManifest"]["S3Object"]
        request: dict[str, Any] = {"Bucket": location["Bucket"], "Key": location["Name"]}
        if location.get("Version"):
            request["VersionId"] = location["Version"]
        try:
            response = s3.get_object(**request)
            if int(response.get("ContentLength", 0)) > MAX_MANIFEST_BYTES:
                raise _TrainingError("ERROR_MANIFEST_SIZE_TOO_LARGE")
            text = response["Body"].read().decode("utf-8")
        except ClientError as exc:
            code = _client_error_code(exc)
            if code in ("AccessDenied", "403", "AllAccessDisabled"):
                raise _TrainingError("ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET") from exc
            raise _TrainingError("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT") from exc
        except UnicodeDecodeError as exc:
            raise _TrainingError("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT") from exc
        if not text.strip():
            raise _TrainingError("ERROR_EMPTY_MANIFEST")
        rows = text.splitlines()
        if len(rows) > MAX_MANIFEST_LINES:
            raise _TrainingError("ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM")
        return _Dataset([_parse_line(index, row) for index, row in enumerate(rows, start=1)])

    def _load_images(self, s3: Any, dataset: _Dataset, errors: list[tuple[str, str]]) -> None:
        buckets = {
            line.location[0]
            for line in dataset.lines
            if line.location is not None and not line.errors
        }
        if len(buckets) > 1:
            errors.append(self._content_error("ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS"))
            return
        for line in dataset.lines:
            if line.errors or line.ignored or line.location is None:
                continue
            bucket, key = line.location
            try:
                response = s3.get_object(Bucket=bucket, Key=key)
                if int(response.get("ContentLength", 0)) > MAX_S3_IMAGE:
                    raise _ImageError("ImageTooLargeException", "over 15 MB")
                image = open_image(response["Body"].read())
            except (ClientError, _ImageError):
                line.errors.append(("ERROR_INVALID_IMAGE", LINE_ERRORS["ERROR_INVALID_IMAGE"]))
                continue
            line.features = image_features(image)
        if len(dataset.invalid) > MAX_INVALID_FRACTION * len(dataset.lines):
            errors.append(self._content_error("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"))

    @staticmethod
    def _content_error(code: str) -> tuple[str, str]:
        return code, TRAINING_ERRORS[code]

    def _auto_split(self, training: _Dataset, seed: str, errors: list[tuple[str, str]]) -> _Dataset:
        """Move 20% of each label group's usable images into a test set (the rest train)."""
        rng = random.Random(hashlib.sha256(seed.encode("utf-8")).hexdigest())
        groups: dict[tuple[str, ...], list[_Line]] = {}
        for line in training.usable:
            groups.setdefault(tuple(sorted(line.labels)), []).append(line)
        held_out: list[_Line] = []
        for key in sorted(groups):
            members = groups[key]
            count = max(1, round(AUTOSPLIT_FRACTION * len(members))) if len(members) > 1 else 0
            held_out += rng.sample(members, count)
        held_ids = {id(line) for line in held_out}
        training.lines = [line for line in training.lines if id(line) not in held_ids]
        testing = _Dataset(sorted(held_out, key=lambda line: line.index))
        if not training.labels or training.labels - testing.labels:
            errors.append(self._content_error("ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT"))
        return testing

    def _check_labels(
        self,
        training: _Dataset,
        testing: _Dataset,
        training_errors: list[tuple[str, str]],
        testing_errors: list[tuple[str, str]],
    ) -> list[tuple[str, str]]:
        for dataset, errors in ((training, training_errors), (testing, testing_errors)):
            if len(dataset.labels) < MIN_LABELS:
                errors.append(self._content_error("ERROR_MANIFEST_TOO_FEW_LABELS"))
            elif len(dataset.labels) > MAX_LABELS:
                errors.append(self._content_error("ERROR_MANIFEST_TOO_MANY_LABELS"))
        shared: list[tuple[str, str]] = []
        train_labels = training.labels
        if train_labels and len(train_labels & testing.labels) < MIN_LABEL_OVERLAP * len(
            train_labels
        ):
            shared.append(self._content_error("ERROR_INSUFFICIENT_LABEL_OVERLAP"))
        return shared

    def _write(self, s3: Any, bucket: str, key: str, content: Any) -> None:
        body = (
            content.validation_manifest()
            if isinstance(content, _Dataset)
            else json.dumps(content, indent=2).encode("utf-8")
        )
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        except ClientError as exc:
            raise _TrainingError("ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET") from exc

    def _fit(
        self, version: _Version, training: _Dataset, testing: _Dataset, result: _TrainingResult
    ) -> None:
        train_lines, test_lines = training.usable, testing.usable
        model = ClassifierModel.fit(
            _feature_matrix(train_lines),
            [line.labels for line in train_lines],
        )
        scores = model.scores(_feature_matrix(test_lines))
        metrics: list[LabelMetrics] = []
        for column, label in enumerate(model.labels):
            truth = np.array([label in line.labels for line in test_lines])
            if not truth.any():
                model.thresholds[label] = DEFAULT_THRESHOLD
                continue
            threshold, precision, recall, f1 = _best_threshold(scores[:, column], truth)
            model.thresholds[label] = threshold
            metrics.append(LabelMetrics(label, threshold, precision, recall, f1, int(truth.sum())))
        result.model = model
        result.metrics = sorted(metrics, key=lambda m: (-m.f1, m.label))
        result.f1 = float(np.mean([m.f1 for m in metrics])) if metrics else 0.0
        result.confusion = self._confusion(model, scores, test_lines)

    @staticmethod
    def _confusion(
        model: ClassifierModel, scores: np.ndarray, lines: list[_Line]
    ) -> list[dict[str, Any]]:
        """For single-label test images: how often each true label is predicted as each label."""
        pairs: Counter[tuple[str, str]] = Counter()
        totals: Counter[str] = Counter()
        for row, line in zip(scores, lines, strict=True):
            if len(line.labels) != 1:
                continue
            (truth,) = line.labels
            pairs[(truth, model.labels[int(np.argmax(row))])] += 1
            totals[truth] += 1
        return [
            {"GroundTruthLabel": truth, "PredictedLabel": predicted, "Value": count / totals[truth]}
            for (truth, predicted), count in sorted(pairs.items())
        ]

    def _evaluation_summary(self, version: _Version, result: _TrainingResult) -> dict[str, Any]:
        metrics = result.metrics
        return {
            "Version": 1,
            "EvaluationDetails": {
                "ProjectVersionArn": version.arn,
                "EvaluationEndTimestamp": _iso(version.created_at),
                "Labels": list(result.model.labels) if result.model else [],
                "NumberOfTrainingImages": result.training_images,
                "NumberOfTestingImages": result.testing_images,
            },
            "AggregatedEvaluationResults": {
                "Metrics": {
                    "Precision": float(np.mean([m.precision for m in metrics])) if metrics else 0.0,
                    "Recall": float(np.mean([m.recall for m in metrics])) if metrics else 0.0,
                    "F1Score": result.f1,
                    "ConfusionMatrix": result.confusion,
                }
            },
            "LabelEvaluationResults": [
                {
                    "Label": m.label,
                    "NumberOfTestingImages": m.test_images,
                    "Metrics": {
                        "Threshold": m.threshold,
                        "Precision": m.precision,
                        "Recall": m.recall,
                        "F1Score": m.f1,
                    },
                }
                for m in metrics
            ],
        }

    # -- describing and deleting versions -------------------------------------------------------

    def _describe_project_versions(
        self, params: dict[str, Any], ctx: CallContext
    ) -> dict[str, Any]:
        project = self._project(params["ProjectArn"])
        names = params.get("VersionNames")
        now = self.clock.time()
        versions = sorted(
            (v for v in project.versions.values() if names is None or v.name in names),
            key=lambda version: (-version.created_at, version.name),
        )
        for version in versions:
            self._advance(version, now)
        page, token = _page(versions, params.get("NextToken"), params.get("MaxResults", PAGE_SIZE))
        result: dict[str, Any] = {
            "ProjectVersionDescriptions": [self._description(version) for version in page]
        }
        if token:
            result["NextToken"] = token
        return result

    def _description(self, version: _Version) -> dict[str, Any]:
        request = version.request
        description: dict[str, Any] = {
            "ProjectVersionArn": version.arn,
            "CreationTimestamp": _when(version.created_at),
            "Status": version.status,
            "StatusMessage": version.status_message,
            "OutputConfig": dict(request["OutputConfig"]),
            "TrainingDataResult": {"Input": request["TrainingData"]},
            "TestingDataResult": {"Input": request["TestingData"]},
            "Feature": FEATURE,
        }
        for member in ("KmsKeyId", "VersionDescription"):
            if request.get(member):
                description[member] = request[member]
        if version.min_units is not None:
            description["MinInferenceUnits"] = version.min_units
        if version.max_units is not None:
            description["MaxInferenceUnits"] = version.max_units
        if version.status == "TRAINING_IN_PROGRESS":
            return description
        description["TrainingEndTimestamp"] = _when(version.training_end_at)
        outcome, outputs = version.outcome, version.outcome.outputs
        if "summary" in outputs:
            description["ManifestSummary"] = outputs["summary"]
            description["TrainingDataResult"] = {
                "Input": request["TrainingData"],
                "Output": request["TrainingData"],
                "Validation": {"Assets": [{"GroundTruthManifest": outputs["training"]}]},
            }
            testing = {"Assets": [{"GroundTruthManifest": outputs["testing"]}]}
            description["TestingDataResult"] = {
                "Input": request["TestingData"],
                "Output": (
                    {**testing, "AutoCreate": True}
                    if request["TestingData"].get("AutoCreate")
                    else request["TestingData"]
                ),
                "Validation": testing,
            }
        if outcome.failure is None:
            description["BillableTrainingTimeInSeconds"] = version.billable_training_seconds
            evaluation: dict[str, Any] = {"F1Score": outcome.f1}
            if "evaluation" in outputs:
                evaluation["Summary"] = outputs["evaluation"]
            description["EvaluationResult"] = evaluation
        return description

    def _delete_project_version(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        version = self._version(params["ProjectVersionArn"])
        if version.status in ("TRAINING_IN_PROGRESS", "STARTING", "RUNNING", "STOPPING"):
            raise ServiceError(
                "ResourceInUseException",
                f"The model version is {version.status}; it cannot be deleted now.",
            )
        del version.project.versions[version.name]
        del self._versions[version.arn]
        return {"Status": "DELETING"}

    # -- running models -----------------------------------------------------------------------

    def _start_project_version(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        version = self._version(params["ProjectVersionArn"])
        minimum, maximum = params["MinInferenceUnits"], params.get("MaxInferenceUnits")
        if maximum is not None and maximum < minimum:
            raise ServiceError(
                "InvalidParameterException",
                "MaxInferenceUnits must be greater than or equal to MinInferenceUnits.",
            )
        if version.status in ("TRAINING_IN_PROGRESS", "STARTING", "RUNNING", "STOPPING"):
            raise ServiceError(
                "ResourceInUseException",
                f"The model version is {version.status}; it can be started once it is "
                "TRAINING_COMPLETED, STOPPED or FAILED.",
            )
        if version.status == "TRAINING_FAILED":
            raise ServiceError(
                "InvalidParameterException", "The model version failed training; it cannot run."
            )
        now = self.clock.time()
        version.min_units, version.max_units = minimum, maximum
        version.run += 1
        version.status, version.status_message = "STARTING", STATUS_MESSAGES["STARTING"]
        version.transition_at = now + self.timings.start_seconds
        version.start_failure = self._start_failures.popleft() if self._start_failures else None
        version.pending_unit_at = None
        version.recent_calls.clear()
        version.pressure_seconds.clear()
        return {"Status": version.status}

    def _stop_project_version(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        version = self._version(params["ProjectVersionArn"])
        if version.status == "STOPPING":
            return {"Status": version.status}
        if version.status not in ("STARTING", "RUNNING"):
            raise ServiceError(
                "InvalidParameterException",
                f"The model version is {version.status}; only a starting or running model can "
                "be stopped.",
            )
        now = self.clock.time()
        if version.status == "RUNNING":
            self.usage.close_segment(version.arn, now)
        version.status, version.status_message = "STOPPING", STATUS_MESSAGES["STOPPING"]
        version.transition_at = now + self.timings.stop_seconds
        version.units, version.pending_unit_at = 0, None
        return {"Status": version.status}

    # -- inference ------------------------------------------------------------------------------

    def _detect_custom_labels(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        with self._lock:
            version = self._version(params["ProjectVersionArn"])
            model = version.outcome.model
            if version.status != "RUNNING" or model is None:
                raise ServiceError(
                    "ResourceNotReadyException",
                    f"The model version is {version.status}; start it and wait until it is "
                    "RUNNING.",
                )
            self._admit(version, self.clock.time())
        image = self._input_image(params["Image"], ctx)
        scores = model.scores(image_features(image)[None, :])[0]
        minimum = params.get("MinConfidence")
        labels: list[dict[str, Any]] = []
        for label, score in zip(model.labels, scores, strict=True):
            confidence = round(float(score) * 100, 3)
            floor = minimum if minimum is not None else model.thresholds[label] * 100
            if confidence >= floor:
                labels.append({"Name": label, "Confidence": confidence})
        labels.sort(key=lambda item: (-item["Confidence"], item["Name"]))
        if params.get("MaxResults") is not None:
            labels = labels[: params["MaxResults"]]
        return {"CustomLabels": labels}

    def _admit(self, version: _Version, now: float) -> None:
        """Count the call against the model's throughput; raise when it is over."""
        calls = version.recent_calls
        while calls and calls[0] <= now - 1.0:
            calls.popleft()
        capacity = int(version.units * self.tps_per_inference_unit)
        if len(calls) >= capacity:
            self.usage.rejected_calls[version.arn] += 1
            version.last_busy_at = now
            self._note_pressure(version, now)
            raise ServiceError(
                "ProvisionedThroughputExceededException",
                f"The model's {version.units} inference unit(s) support "
                f"{capacity} transactions per second.",
            )
        calls.append(now)
        if len(calls) > (version.units - 1) * self.tps_per_inference_unit:
            version.last_busy_at = now
        self.usage.detect_calls[version.arn] += 1

    def _note_pressure(self, version: _Version, now: float) -> None:
        """Rejections in enough distinct seconds of the last minute ask for one more unit."""
        if (
            version.max_units is None
            or version.units >= version.max_units
            or version.pending_unit_at is not None
        ):
            return
        seconds = version.pressure_seconds
        second = math.floor(now)
        if not seconds or seconds[-1] != second:
            seconds.append(second)
        while seconds and seconds[0] <= now - 60:
            seconds.popleft()
        if len(seconds) >= self.timings.sustained_pressure_seconds:
            version.pending_unit_at = now + self.timings.scale_out_seconds
            seconds.clear()

    def _input_image(self, image: Mapping[str, Any], ctx: CallContext) -> Image.Image:
        if ("Bytes" in image) == ("S3Object" in image):
            raise ServiceError(
                "InvalidParameterException", "Image needs exactly one of Bytes and S3Object."
            )
        if "Bytes" in image:
            data = image["Bytes"]
            if len(data) > MAX_BYTES_IMAGE:
                raise ServiceError(
                    "ImageTooLargeException",
                    f"The image is {len(data)} bytes; images passed as bytes are limited to "
                    f"{MAX_BYTES_IMAGE} bytes.",
                )
        else:
            data = self._s3_image(image["S3Object"], ctx)
        try:
            return open_image(data)
        except _ImageError as error:
            raise ServiceError(error.code, error.message) from error

    def _s3_image(self, location: Mapping[str, Any], ctx: CallContext) -> bytes:
        request: dict[str, Any] = {"Bucket": location.get("Bucket"), "Key": location.get("Name")}
        if not request["Bucket"] or not request["Key"]:
            raise ServiceError("InvalidS3ObjectException", "S3Object needs a Bucket and a Name.")
        if location.get("Version"):
            request["VersionId"] = location["Version"]
        try:
            response = self._caller_s3(ctx.principal).get_object(**request)
            if int(response.get("ContentLength", 0)) > MAX_S3_IMAGE:
                raise ServiceError(
                    "ImageTooLargeException",
                    f"The S3 object is {response['ContentLength']} bytes; images in S3 are "
                    f"limited to {MAX_S3_IMAGE} bytes.",
                )
            data: bytes = response["Body"].read()
        except ClientError as exc:
            raise ServiceError(
                "InvalidS3ObjectException",
                f"Amazon Rekognition could not read s3://{request['Bucket']}/{request['Key']} "
                f"with the caller's permissions ({_client_error_code(exc)}).",
            ) from exc
        return data

    # -- helpers for tests and demos ------------------------------------------------------------

    def create_trained_version(
        self,
        project_name: str,
        version_name: str,
        manifest_s3: str,
        *,
        created_at: datetime,
        principal: str | None = None,
        output_bucket: str | None = None,
        output_prefix: str = "custom-labels-batch-output",
        testing_manifest_s3: str | None = None,
    ) -> tuple[str, str]:
        """Create (or reuse) a project and train a version created at `created_at`, which is
        TRAINING_COMPLETED at once whatever the clock says; returns (project ARN, version ARN).

        The manifests are `s3://bucket/key` URIs read with `principal`'s S3 client; the test set
        is auto-created unless `testing_manifest_s3` is given. Raises ValueError with the
        StatusMessage if training fails (the version is kept, TRAINING_FAILED).
        """
        location = _split_s3_uri(manifest_s3)
        if location is None:
            raise ValueError(f"not an s3://bucket/key URI: {manifest_s3}")
        created = created_at.timestamp()

        def asset(uri: str) -> dict[str, Any]:
            parts = _split_s3_uri(uri)
            if parts is None:
                raise ValueError(f"not an s3://bucket/key URI: {uri}")
            return {"GroundTruthManifest": {"S3Object": {"Bucket": parts[0], "Name": parts[1]}}}

        params: dict[str, Any] = {
            "VersionName": version_name,
            "OutputConfig": {
                "S3Bucket": output_bucket or location[0],
                "S3KeyPrefix": output_prefix,
            },
            "TrainingData": {"Assets": [asset(manifest_s3)]},
            "TestingData": (
                {"Assets": [asset(testing_manifest_s3)]}
                if testing_manifest_s3
                else {"AutoCreate": True}
            ),
        }
        with self._lock:
            project = next((p for p in self._projects.values() if p.name == project_name), None)
            if project is None:
                project = self._new_project(project_name, created)
            params["ProjectArn"] = project.arn
            try:
                version = self._new_version(project, params, created, principal)
            except ServiceError as error:
                raise ValueError(error.message) from error
            self._finish_training(version)
            if version.status == "TRAINING_FAILED":
                raise ValueError(version.status_message)
            return project.arn, version.arn
