"""Local Amazon Comprehend custom classification: the real API in front of scikit-learn models.

What it emulates, through real boto3 clients (see `localcloud.core.protocol`):

* Classifiers: `CreateDocumentClassifier`, `DescribeDocumentClassifier`,
  `ListDocumentClassifiers` (filter by status, name or submission time, one kind at a time),
  `StopTrainingDocumentClassifier` and `DeleteDocumentClassifier`, in `MULTI_CLASS` and
  `MULTI_LABEL` mode. ARNs are `arn:aws:comprehend:<region>:<account>:document-classifier/<name>`,
  plus `/version/<version>` with a `VersionName`; a second classifier with the same name and
  version is `ResourceInUseException`. Training reads `COMPREHEND_CSV` data (`label,text`, no
  header, UTF-8, `S3Uri` a file or a prefix of files; multi-label labels joined by
  `LabelDelimiter`, default `|`) only through `s3_for_role(DataAccessRoleArn)` and checks the
  documented requirements: two columns per row, at least two labels, at least 50 documents per
  class in multi-class mode and 10 per label in multi-label mode, at most 1,000 classes
  (multi-class) or 100 labels (multi-label), class names of at most 5,000 characters, and a
  test set (`TestS3Uri`) with an example of every training label and no other label. Data that
  breaks them ends `IN_ERROR` with a `Message` naming the file and line. Only finished
  classifiers can be deleted (else `ResourceUnavailableException`), and none that an endpoint
  or a running job uses (`ResourceInUseException`); they are DELETING for a while, then gone.
* Real training: TF-IDF features (words and word pairs) and logistic regression, one-vs-rest in
  multi-label mode. Without `TestS3Uri`, 10% of the documents (a shuffle with a fixed seed) are
  held out for evaluation, as Comprehend's autosplit does. `ClassifierMetadata` reports the real
  metrics on the test documents, as the developer guide defines them: `Accuracy` (correctly
  recognised labels over all labels of the test documents), macro `Precision`, `Recall` and
  `F1Score` (unweighted means of the per-label values over the labels that occur in the test
  documents or the predictions), `Micro*` from pooled counts, and `HammingLoss` (the fraction
  of wrong labels: misclassified documents in multi-class mode, wrong label decisions in
  multi-label mode), rounded to four places like the service. A multi-label document is
  predicted to carry every label scoring 0.5 or more.
* With `OutputDataConfig.S3Uri`, `<S3Uri>/<account>-CLR-<id>/output/output.tar.gz` holds the
  documented `confusion_matrix.json` (`type`, `confusion_matrix`, `labels`, `all_labels`): rows
  are actual labels and columns predicted ones; in multi-label mode one `[[TN, FP], [FN, TP]]`
  matrix per label. The properties report that file's URI as `OutputDataConfig.S3Uri`. The
  guide names the folder only "unique-value"; `<account>-CLR-<id>` is this engine's choice.
* Classification jobs: `StartDocumentClassificationJob` (`ONE_DOC_PER_LINE`, the default, or
  `ONE_DOC_PER_FILE`), `DescribeDocumentClassificationJob`, `ListDocumentClassificationJobs`.
  The output is `<S3Uri>/<account>-CLN-<job id>/output/output.tar.gz` with `predictions.jsonl`,
  one JSON object per document in the documented shape: `File`, `Line` (the zero-based input
  line, a string as in the documented examples; only for `ONE_DOC_PER_LINE`, where blank lines
  are skipped) and `Classes` (the three best classes) or `Labels` (the three best labels and any
  other scoring 0.5 or more), best first, scores rounded to four places. The job's
  `OutputDataConfig.S3Uri` is that file's URI, as AWS reports it.
* Endpoints: `CreateEndpoint` (the model must be `TRAINED`, else
  `ResourceUnavailableException`; at most 10 inference units per endpoint and 100 per account,
  else `ResourceLimitExceededException`), `DescribeEndpoint`, `ListEndpoints`, `UpdateEndpoint`
  (new model and/or inference units; the endpoint serves the old model while `UPDATING`) and
  `DeleteEndpoint`. `ClassifyDocument` needs an `IN_SERVICE` (or `UPDATING`) endpoint, else
  `ResourceUnavailableException`; text over 10,000 UTF-8 bytes (the documented 10 KB real-time
  maximum) is `TextSizeLimitExceededException`. `Classes` lists every class, best first, with
  probabilities summing to 1; `Labels` every label with its own probability.
* Throughput: an inference unit serves 100 characters and 2 documents per second of the local
  clock (the documented quotas), with one second of burst; a request beyond that is
  `ThrottlingException`. A document longer than the burst is admitted and paid off over the
  following seconds. `throughput_limits=False` turns this off.
* `ClientRequestToken` makes creates and job starts idempotent: the same token with the same
  request returns the first result, with a different request it is `InvalidRequestException`.
  A classification job's id is derived from the account, region and that token (32 hex
  digits, like the service's opaque ids), so its output lands under a known key.
* Status follows the local clock (virtual time, `ComprehendTimings`): classifiers
  SUBMITTED -> TRAINING -> TRAINED (or IN_ERROR, STOP_REQUESTED -> STOPPED, DELETING -> gone),
  jobs SUBMITTED -> IN_PROGRESS -> COMPLETED or FAILED, endpoints CREATING -> IN_SERVICE ->
  UPDATING -> IN_SERVICE, DELETING -> gone. It is computed when a resource is described, listed
  or used (or on `poll()`); data is read, models trained and outputs written exactly once.
* Billing (`usage`): training seconds (TRAINING until TRAINED or STOPPED), endpoint
  inference-unit-seconds from `CreateEndpoint` until `DeleteEndpoint` (a failed endpoint stops
  counting when it fails), in all and per endpoint lifetime (`billed_inference_unit_seconds`
  applies the 60-second minimum to each), and characters classified, real-time and by jobs
  apart.
* Faults on purpose: `fail_next_training`, `fail_next_classification_job`, `fail_next_endpoint`
  and `throttle_next`.

What it does not do:

* No Comprehend model: a scikit-learn classifier stands in, so scores and metrics are those of
  that model on the given data, not what the service would report.
* No flywheels or datasets, no augmented manifests, no semi-structured or native documents (PDF,
  Word, images, Textract output, `Bytes`, `DocumentReaderConfig`): these requests are
  `InvalidRequestException`. No entity recognizers or other Comprehend analyses, no
  `StopDocumentClassificationJob` (the API has no such operation), no tagging operations (tags
  given at creation are kept but cannot be listed), no model policies, imports or copies.
* VPC configurations and KMS keys are accepted and echoed but have no effect; languages other
  than those custom classification supports (en, es, fr, de, it, pt) are
  `UnsupportedLanguageException`. No limit on concurrent jobs or on total input size.
"""

from __future__ import annotations

import csv
import io
import json
import random
import tarfile
import threading
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from botocore.exceptions import ClientError

from localcloud.core.clock import LocalClock
from localcloud.core.protocol import (
    CallContext,
    LocalEngine,
    ServiceError,
    existing,
    page_by_key,
    token_derived_id,
)

MULTI_CLASS: Final = "MULTI_CLASS"
MULTI_LABEL: Final = "MULTI_LABEL"
DEFAULT_LABEL_DELIMITER: Final = "|"
SUPPORTED_LANGUAGES: Final = frozenset({"en", "es", "fr", "de", "it", "pt"})

MIN_DOCUMENTS_PER_CLASS: Final = {MULTI_CLASS: 50, MULTI_LABEL: 10}
MAX_CLASSES: Final = {MULTI_CLASS: 1000, MULTI_LABEL: 100}
MAX_LABEL_LENGTH: Final = 5000
AUTOSPLIT_TEST_FRACTION: Final = 0.1
MAX_TEST_DOCUMENTS: Final = 10_000
MULTI_LABEL_THRESHOLD: Final = 0.5
# Classification job ids are uuid5 names in this namespace (see `ComprehendEngine.job_id_for`).
_JOB_ID_NAMESPACE: Final = uuid.UUID("0c6f3d52-7a1e-4b8f-9e2d-5a4c3b1f8e67")
JOB_OUTPUT_TOP: Final = 3
MAX_TEXT_BYTES: Final = 10_000
CHARACTERS_PER_SECOND_PER_UNIT: Final = 100
DOCUMENTS_PER_SECOND_PER_UNIT: Final = 2
MAX_UNITS_PER_ENDPOINT: Final = 10
MAX_UNITS_PER_ACCOUNT: Final = 100
MAX_TAGS: Final = 50
ENDPOINT_MINIMUM_SECONDS: Final = 60
METRIC_DIGITS: Final = 4

FINISHED_CLASSIFIER_STATUSES: Final = frozenset(
    {"TRAINED", "TRAINED_WITH_WARNING", "IN_ERROR", "STOPPED"}
)
FINISHED_JOB_STATUSES: Final = frozenset({"COMPLETED", "FAILED"})

# --- Configuration and metering ---------------------------------------------------------------


@dataclass(frozen=True)
class ComprehendTimings:
    """How long things take, in virtual seconds of the local clock."""

    classifier_queued_seconds: float = 60.0
    training_base_seconds: float = 240.0
    training_seconds_per_document: float = 0.2
    validation_seconds: float = 30.0  # from training start until bad data ends IN_ERROR
    stop_seconds: float = 30.0
    classifier_delete_seconds: float = 60.0
    job_queued_seconds: float = 30.0
    job_base_seconds: float = 120.0
    job_seconds_per_character: float = 0.001
    endpoint_create_seconds: float = 300.0
    endpoint_update_seconds: float = 300.0
    endpoint_delete_seconds: float = 120.0


class UsageMeter:
    """What Comprehend custom classification bills, counted as the engine runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._characters: Counter[str] = Counter()
        self.training_seconds = 0.0
        self.inference_unit_seconds = 0.0
        self.documents_classified = 0
        # Asynchronous classification bills units of 100 characters, at least 3 per document.
        self.async_units = 0
        # Inference-unit seconds of each endpoint (by ARN and creation time), from
        # CreateEndpoint until DeleteEndpoint (or failure): one entry per endpoint lifetime.
        self.endpoint_unit_seconds: dict[tuple[str, float], float] = {}
        self.endpoint_units: dict[tuple[str, float], int] = {}

    def record_training(self, seconds: float) -> None:
        with self._lock:
            self.training_seconds += seconds

    def record_inference_units(
        self, unit_seconds: float, endpoint: tuple[str, float] | None = None, units: int = 1
    ) -> None:
        with self._lock:
            self.inference_unit_seconds += unit_seconds
            if endpoint is not None:
                self.endpoint_unit_seconds[endpoint] = (
                    self.endpoint_unit_seconds.get(endpoint, 0.0) + unit_seconds
                )
                self.endpoint_units[endpoint] = units

    @property
    def endpoints_created(self) -> int:
        return len(self.endpoint_unit_seconds)

    def billed_inference_unit_seconds(self) -> float:
        """What the endpoints bill: each endpoint's inference-unit seconds, at least 60 seconds'
        worth of its units (Comprehend bills endpoints per second with a 60-second minimum,
        https://aws.amazon.com/comprehend/pricing/)."""
        with self._lock:
            return sum(
                max(seconds, ENDPOINT_MINIMUM_SECONDS * self.endpoint_units.get(key, 1))
                for key, seconds in self.endpoint_unit_seconds.items()
            )

    def record_characters(self, operation: str, characters: int, documents: int) -> None:
        with self._lock:
            self._characters[operation] += characters
            self.documents_classified += documents

    def record_async_documents(self, lengths: list[int]) -> None:
        with self._lock:
            self.async_units += sum(max(3, -(-length // 100)) for length in lengths)

    @property
    def realtime_characters(self) -> int:
        return self._characters["ClassifyDocument"]

    @property
    def batch_characters(self) -> int:
        return self._characters["StartDocumentClassificationJob"]

    @property
    def total_characters(self) -> int:
        return self.realtime_characters + self.batch_characters


# --- Training data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Document:
    text: str
    labels: tuple[str, ...]


class _DataError(Exception):
    """Training or test data that breaks Comprehend's requirements; the message says why."""


def _split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _client_error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "ClientError")


def _list_objects(s3: Any, uri: str) -> list[tuple[str, int]]:
    """(key, size) of every object `uri` names: one object, or all objects under a prefix."""
    bucket, prefix = _split_s3_uri(uri)
    found: list[tuple[str, int]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/"):  # folder placeholder objects hold no data
                found.append((item["Key"], int(item["Size"])))
    return found


def _parse_labelled_csv(data: bytes, uri: str, mode: str, delimiter: str) -> list[_Document]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _DataError(
            f"{uri} is not valid UTF-8 (invalid byte at offset {exc.start}); Comprehend reads "
            "UTF-8 encoded CSV files."
        ) from exc
    documents: list[_Document] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank lines carry no document
            line = reader.line_num
            if len(row) != 2:
                raise _DataError(
                    f"Line {line} of {uri} has {len(row)} column(s); each row must be "
                    "'label,document' with commas inside the document quoted."
                )
            raw_labels, document = row
            if not document.strip():
                raise _DataError(f"Line {line} of {uri} has an empty document.")
            parts = raw_labels.split(delimiter) if mode == MULTI_LABEL else [raw_labels]
            if any(not part.strip() for part in parts):
                raise _DataError(f"Line {line} of {uri} has an empty label.")
            long = [part for part in parts if len(part) > MAX_LABEL_LENGTH]
            if long:
                raise _DataError(
                    f"Line {line} of {uri} has a label of {len(long[0])} characters; labels are "
                    f"limited to {MAX_LABEL_LENGTH}."
                )
            documents.append(_Document(document, tuple(dict.fromkeys(parts))))
    except csv.Error as exc:
        raise _DataError(f"Line {reader.line_num} of {uri} is not valid CSV: {exc}.") from exc
    return documents


def _read_labelled_data(s3: Any, uri: str, mode: str, delimiter: str, role: str) -> list[_Document]:
    try:
        objects = _list_objects(s3, uri)
        documents: list[_Document] = []
        bucket, _ = _split_s3_uri(uri)
        for key, _size in objects:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            documents.extend(_parse_labelled_csv(body, f"s3://{bucket}/{key}", mode, delimiter))
    except ClientError as exc:
        raise _DataError(
            f"Amazon Comprehend could not read {uri} with the data access role {role}: "
            f"{_client_error_code(exc)}."
        ) from exc
    if not objects:
        raise _DataError(f"No data was found at {uri}.")
    if not documents:
        raise _DataError(f"The data at {uri} contains no documents.")
    return documents


def _label_counts(documents: Iterable[_Document]) -> Counter[str]:
    return Counter(label for document in documents for label in document.labels)


def _check_training_data(documents: Sequence[_Document], mode: str, uri: str) -> list[str]:
    """The training labels, sorted; raises `_DataError` if the documented minimums fail."""
    counts = _label_counts(documents)
    if len(counts) < 2:
        raise _DataError(
            f"The training data at {uri} has {len(counts)} distinct label(s) "
            f"({', '.join(sorted(counts))}); a classifier needs at least 2."
        )
    if len(counts) > MAX_CLASSES[mode]:
        raise _DataError(
            f"The training data at {uri} has {len(counts)} distinct labels; {mode} mode allows "
            f"at most {MAX_CLASSES[mode]}."
        )
    minimum = MIN_DOCUMENTS_PER_CLASS[mode]
    scarce = sorted((label, count) for label, count in counts.items() if count < minimum)
    if scarce:
        listed = ", ".join(f"{label} ({count})" for label, count in scarce)
        raise _DataError(
            f"Each label needs at least {minimum} training documents in {mode} mode; too few "
            f"in {uri} for: {listed}."
        )
    return sorted(counts)


def _check_test_data(documents: Sequence[_Document], labels: Sequence[str], uri: str) -> None:
    counts = _label_counts(documents)
    unknown = sorted(set(counts) - set(labels))
    if unknown:
        raise _DataError(
            f"The test data at {uri} has labels that are not in the training data: "
            f"{', '.join(unknown)}."
        )
    missing = [label for label in labels if label not in counts]
    if missing:
        raise _DataError(
            f"The test data at {uri} must include at least one example of each training "
            f"label; it has none for: {', '.join(missing)}."
        )


def _autosplit(
    documents: Sequence[_Document], seed: int
) -> tuple[list[_Document], list[_Document]]:
    """(train, test): a fixed-seed shuffle holds out 10% of the documents for evaluation."""
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    held_out = min(MAX_TEST_DOCUMENTS, max(1, int(len(documents) * AUTOSPLIT_TEST_FRACTION)))
    test = sorted(order[:held_out])
    train = sorted(order[held_out:])
    return [documents[i] for i in train], [documents[i] for i in test]


# --- Models and metrics -----------------------------------------------------------------------


class TextModel:
    """A trained text classifier: TF-IDF features and logistic regression.

    scikit-learn is imported when a model is first trained, not with this module, so that the
    local cloud starts quickly when no workflow trains a classifier.
    """

    def __init__(self, mode: str, labels: Sequence[str], pipeline: Any) -> None:
        self.mode = mode
        self.labels = list(labels)
        self._pipeline = pipeline

    @classmethod
    def train(cls, mode: str, labels: Sequence[str], documents: Sequence[_Document]) -> TextModel:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import MultiLabelBinarizer

        texts = [document.text for document in documents]
        vectorizer = TfidfVectorizer(
            lowercase=True, strip_accents="unicode", ngram_range=(1, 2), sublinear_tf=True
        )
        with warnings.catch_warnings():
            # A label present in every (or no) training document gives a constant one-vs-rest
            # model; scikit-learn warns about it, Comprehend trains regardless.
            warnings.simplefilter("ignore")
            if mode == MULTI_CLASS:
                pipeline = make_pipeline(vectorizer, LogisticRegression(C=10.0, max_iter=2000))
                pipeline.fit(texts, [document.labels[0] for document in documents])
            else:
                binarizer = MultiLabelBinarizer(classes=list(labels))
                targets = binarizer.fit_transform([document.labels for document in documents])
                pipeline = make_pipeline(
                    vectorizer, OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=2000))
                )
                pipeline.fit(texts, targets)
        return cls(mode, labels, pipeline)

    def scores(self, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
        """For each text, (label, probability) for every label, best first."""
        if not texts:
            return []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probabilities = self._pipeline.predict_proba(list(texts))
        if self.mode == MULTI_CLASS:
            names = [str(name) for name in self._pipeline.classes_]
        else:
            names = self.labels
        ranked = []
        for row in probabilities:
            pairs = [(name, float(score)) for name, score in zip(names, row, strict=True)]
            pairs.sort(key=lambda pair: (-pair[1], pair[0]))
            ranked.append(pairs)
        return ranked

    def predict(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        """The predicted class (multi-class) or labels (multi-label) of each text."""
        predictions: list[tuple[str, ...]] = []
        for ranked in self.scores(texts):
            if self.mode == MULTI_CLASS:
                predictions.append((ranked[0][0],))
            else:
                predictions.append(
                    tuple(name for name, score in ranked if score >= MULTI_LABEL_THRESHOLD)
                )
        return predictions


def evaluate(
    mode: str,
    labels: Sequence[str],
    actual: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
) -> tuple[dict[str, float], dict[str, Any]]:
    """Comprehend's `EvaluationMetrics` and the `confusion_matrix.json` document.

    `actual` and `predicted` hold the labels of each test document (one in multi-class mode).
    """
    import numpy as np
    from sklearn.metrics import (
        confusion_matrix,
        hamming_loss,
        multilabel_confusion_matrix,
        precision_recall_fscore_support,
    )
    from sklearn.preprocessing import MultiLabelBinarizer

    binarizer = MultiLabelBinarizer(classes=list(labels))
    truth = binarizer.fit_transform([list(row) for row in actual])
    guess = binarizer.transform([list(row) for row in predicted])
    # Macro averages cover the labels that occur in the test documents or the predictions.
    present = [i for i in range(len(labels)) if truth[:, i].any() or guess[:, i].any()]
    macro_p, macro_r, macro_f, _ = precision_recall_fscore_support(
        truth, guess, labels=present, average="macro", zero_division=0
    )
    micro_p, micro_r, micro_f, _ = precision_recall_fscore_support(
        truth, guess, average="micro", zero_division=0
    )
    gold_labels = int(truth.sum())
    accuracy = float(np.logical_and(truth, guess).sum()) / gold_labels if gold_labels else 0.0
    if mode == MULTI_CLASS:
        # Hamming loss over label decisions, as in multi-label mode, would count each miss
        # twice; Comprehend reports the fraction of wrongly classified documents.
        single_truth = [row[0] for row in actual]
        single_guess = [row[0] for row in predicted]
        hamming = float(hamming_loss(single_truth, single_guess))
        matrix: Any = confusion_matrix(single_truth, single_guess, labels=list(labels)).tolist()
        kind = "multi_class"
    else:
        hamming = float(hamming_loss(truth, guess))
        matrix = multilabel_confusion_matrix(truth, guess).tolist()
        kind = "multi_label"
    metrics = {
        "Accuracy": accuracy,
        "Precision": float(macro_p),
        "Recall": float(macro_r),
        "F1Score": float(macro_f),
        "MicroPrecision": float(micro_p),
        "MicroRecall": float(micro_r),
        "MicroF1Score": float(micro_f),
        "HammingLoss": hamming,
    }
    confusion = {
        "type": kind,
        "confusion_matrix": matrix,
        "labels": list(labels),
        "all_labels": list(labels),
    }
    return {name: round(value, METRIC_DIGITS) for name, value in metrics.items()}, confusion


def _tar_gz(name: str, payload: bytes, mtime: float) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(payload)
        info.mtime = int(mtime)
        archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def _output_key(prefix: str, folder: str) -> str:
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return f"{prefix}{folder}/output/output.tar.gz"


def _document_name(prefix: str, key: str) -> str:
    """The `File` of a document: its key relative to the input location."""
    if key == prefix:
        return key.rsplit("/", 1)[-1]
    relative = key[len(prefix) :]
    if prefix.endswith("/") or relative.startswith("/") or not prefix:
        return relative.lstrip("/")
    return key.rsplit("/", 1)[-1]  # the prefix ends inside a file name


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _fingerprint(params: Mapping[str, Any]) -> str:
    request = {key: value for key, value in params.items() if key != "ClientRequestToken"}
    return json.dumps(request, sort_keys=True, default=str)


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _refuse_flywheel(flywheel: object) -> None:
    """The engine has no flywheels: a request that names one is refused."""
    if flywheel:
        raise ServiceError(
            "InvalidRequestException", "The local Comprehend engine has no flywheels."
        )


def _required(params: Mapping[str, Any], key: str) -> Any:
    """A parameter the model leaves optional but the operation needs: refused when empty."""
    value = params.get(key)
    if not value:
        raise ServiceError("InvalidRequestException", f"{key} is required.")
    return value


def _filter_kinds(filters: Mapping[str, Any], kinds: Mapping[str, tuple[str, ...]]) -> None:
    used = [kind for kind, keys in kinds.items() if any(key in filters for key in keys)]
    if len(used) > 1:
        raise ServiceError(
            "InvalidFilterException",
            f"Filter by {' or '.join(kinds)}, one at a time; the request filters by "
            f"{' and '.join(used)}.",
        )


def _in_window(moment: datetime, filters: Mapping[str, Any], before: str, after: str) -> bool:
    if before in filters and not moment < filters[before]:
        return False
    return not (after in filters and not moment > filters[after])


def _listed(
    resources: Iterable[Any],
    params: Mapping[str, Any],
    equal: Mapping[str, tuple[str, Callable[[Any], Any]]],
    window: tuple[str, str, str, Callable[[Any], float | None]],
    order: Callable[[Any], Any],
    list_name: str,
    describe: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    """A List operation's page: the resources its `Filter` keeps (each key of `equal`, by kind,
    must match the resource's value; `window` is the time kind with its Before and After keys),
    one kind of filter at a time, as Comprehend allows."""
    filters = params.get("Filter") or {}
    kind, before, after, moment = window
    _filter_kinds(
        filters,
        {**{name: (key,) for key, (name, _) in equal.items()}, kind: (before, after)},
    )
    selected = []
    for resource in resources:
        if any(
            key in filters and value(resource) != filters[key] for key, (_, value) in equal.items()
        ):
            continue
        when = _time(moment(resource))
        assert when is not None
        if _in_window(when, filters, before, after):
            selected.append(resource)
    page, token = page_by_key(
        selected, order, params.get("NextToken"), params.get("MaxResults", 100)
    )
    result: dict[str, Any] = {list_name: [describe(resource) for resource in page]}
    if token:
        result["NextToken"] = token
    return result


# --- Resources --------------------------------------------------------------------------------


@dataclass(eq=False)
class _Classifier:
    arn: str
    name: str
    version: str | None
    mode: str
    request: dict[str, Any]
    role_arn: str
    submitted_at: float
    queued_until: float
    output_bucket: str | None
    output_key: str | None
    fingerprint: str
    fault: str | None
    status: str = "SUBMITTED"
    message: str | None = None
    ran: bool = False  # the data has been read and the model trained (or rejected)
    outcome: str | None = None  # TRAINED or IN_ERROR, once ran
    outcome_at: float | None = None
    model: TextModel | None = None
    metadata: dict[str, Any] | None = None
    confusion: dict[str, Any] | None = None
    stop_requested_at: float | None = None
    ended_at: float | None = None
    training_ended_at: float | None = None
    delete_requested_at: float | None = None

    @property
    def output_uri(self) -> str | None:
        if self.output_bucket is None or self.output_key is None:
            return None
        return f"s3://{self.output_bucket}/{self.output_key}"


@dataclass(eq=False)
class _Job:
    job_id: str
    arn: str
    name: str | None
    classifier_arn: str
    model: TextModel
    request: dict[str, Any]
    input_format: str
    role_arn: str
    input_uri: str
    output_bucket: str
    output_key: str
    submitted_at: float
    queued_until: float
    fingerprint: str
    fault: str | None
    status: str = "SUBMITTED"
    message: str | None = None
    inputs: list[tuple[str, int]] | None = None
    scan_error: str | None = None
    end_at: float | None = None
    ended_at: float | None = None

    @property
    def output_uri(self) -> str:
        return f"s3://{self.output_bucket}/{self.output_key}"


@dataclass
class _Update:
    model_arn: str
    units: int
    role_arn: str | None
    done_at: float


@dataclass(eq=False)
class _Endpoint:
    arn: str
    name: str
    model_arn: str
    desired_model_arn: str
    desired_units: int
    role_arn: str | None
    created_at: float
    ready_at: float
    fingerprint: str
    fault: str | None
    status: str = "CREATING"
    message: str | None = None
    current_units: int | None = None
    modified_at: float = 0.0
    update: _Update | None = None
    gone_at: float | None = None
    billed_units: int = 0
    billed_until: float = 0.0
    billing: bool = True
    characters_available: float = 0.0
    documents_available: float = 0.0
    refilled_at: float = 0.0
    tags: list[dict[str, str]] = field(default_factory=list)


# --- The engine -------------------------------------------------------------------------------


class ComprehendEngine(LocalEngine):
    """Amazon Comprehend custom classification on the local cloud; see the module docstring."""

    service_name = "comprehend"

    def __init__(
        self,
        clock: LocalClock,
        s3_for_role: Callable[[str], Any],
        *,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        timings: ComprehendTimings | None = None,
        throughput_limits: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(clock, account_id, region)
        self.timings = timings or ComprehendTimings()
        self.throughput_limits = throughput_limits
        self.seed = seed
        self.usage = UsageMeter()
        self.max_text_bytes = MAX_TEXT_BYTES
        self._s3_for_role = s3_for_role
        # The engine's one lock guards all state: training and job runs are short, and a single
        # lock keeps cross-resource checks (a classifier behind an endpoint) free of ordering
        # issues.
        self._classifiers: dict[str, _Classifier] = {}
        self._jobs: dict[str, _Job] = {}
        self._endpoints: dict[str, _Endpoint] = {}
        self._tokens: dict[tuple[str, str], Any] = {}
        self._training_faults: list[str] = []
        self._job_faults: list[str] = []
        self._endpoint_faults: list[str] = []
        self._throttled_calls = 0
        self._operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CreateDocumentClassifier": self._create_classifier,
            "DescribeDocumentClassifier": self._describe_classifier,
            "ListDocumentClassifiers": self._list_classifiers,
            "StopTrainingDocumentClassifier": self._stop_training,
            "DeleteDocumentClassifier": self._delete_classifier,
            "StartDocumentClassificationJob": self._start_job,
            "DescribeDocumentClassificationJob": self._describe_job,
            "ListDocumentClassificationJobs": self._list_jobs,
            "CreateEndpoint": self._create_endpoint,
            "DescribeEndpoint": self._describe_endpoint,
            "ListEndpoints": self._list_endpoints,
            "UpdateEndpoint": self._update_endpoint,
            "DeleteEndpoint": self._delete_endpoint,
            "ClassifyDocument": self._classify_document,
        }

    def _now(self) -> float:
        # Whole milliseconds, as timestamps travel on the wire: a SubmitTime read back from a
        # response then filters exactly like the time the engine holds.
        return round(self.clock.time(), 3)

    # -- dispatch and faults ----------------------------------------------------------------------

    def handle(self, operation: str, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        handler = self._handler(self._operations, operation)
        with self._lock:
            if self._throttled_calls > 0:
                self._throttled_calls -= 1
                raise ServiceError("TooManyRequestsException", "Rate exceeded.")
            return handler(params)

    def fail_next_training(self, message: str) -> None:
        """The next classifier created ends IN_ERROR with `message` when its training starts."""
        with self._lock:
            self._training_faults.append(message)

    def fail_next_classification_job(self, message: str) -> None:
        """The next classification job started ends FAILED with `message`."""
        with self._lock:
            self._job_faults.append(message)

    def fail_next_endpoint(self, message: str) -> None:
        """The next endpoint created ends FAILED with `message` instead of IN_SERVICE."""
        with self._lock:
            self._endpoint_faults.append(message)

    def throttle_next(self, calls: int) -> None:
        """Answer the next `calls` calls (any operation) with `TooManyRequestsException`."""
        with self._lock:
            self._throttled_calls = calls

    def poll(self) -> None:
        """Bring every resource up to date with the clock: trains models, runs jobs, accrues
        endpoint billing. Describing, listing or using a resource does the same for it."""
        with self._lock:
            for classifier in list(self._classifiers.values()):
                self._advance_classifier(classifier)
            for job in list(self._jobs.values()):
                self._advance_job(job)
            for endpoint in list(self._endpoints.values()):
                self._advance_endpoint(endpoint)

    def _idempotent(self, operation: str, params: Mapping[str, Any]) -> Any:
        """The resource an earlier call with this ClientRequestToken created, if any."""
        token = params.get("ClientRequestToken")
        if not token:
            return None
        previous = self._tokens.get((operation, token))
        if previous is not None and previous.fingerprint != _fingerprint(params):
            raise ServiceError(
                "InvalidRequestException",
                f"The ClientRequestToken {token} was already used for a different {operation} "
                "request.",
            )
        return previous

    def _remember_token(self, operation: str, params: Mapping[str, Any], resource: Any) -> None:
        token = params.get("ClientRequestToken")
        if token:
            self._tokens[(operation, token)] = resource

    @staticmethod
    def _check_tags(params: Mapping[str, Any]) -> None:
        if len(params.get("Tags") or []) > MAX_TAGS:
            raise ServiceError(
                "TooManyTagsException", f"A resource can have at most {MAX_TAGS} tags."
            )

    # -- classifiers ------------------------------------------------------------------------------

    def _classifier_arn(self, name: str, version: str | None) -> str:
        arn = f"arn:aws:comprehend:{self.region}:{self.account_id}:document-classifier/{name}"
        return f"{arn}/version/{version}" if version else arn

    def _create_classifier(self, params: dict[str, Any]) -> dict[str, Any]:
        previous = self._idempotent("CreateDocumentClassifier", params)
        if previous is not None:
            return {"DocumentClassifierArn": previous.arn}
        name: str = params["DocumentClassifierName"]
        version: str | None = params.get("VersionName")
        language: str = params["LanguageCode"]
        if language not in SUPPORTED_LANGUAGES:
            raise ServiceError(
                "UnsupportedLanguageException",
                f"Custom classification does not support the language {language}; use one of "
                f"{', '.join(sorted(SUPPORTED_LANGUAGES))}.",
            )
        config: dict[str, Any] = params["InputDataConfig"]
        if config.get("DataFormat", "COMPREHEND_CSV") != "COMPREHEND_CSV" or config.get(
            "AugmentedManifests"
        ):
            raise ServiceError(
                "InvalidRequestException",
                "The local Comprehend engine trains from COMPREHEND_CSV data only; augmented "
                "manifests are not supported.",
            )
        if (
            config.get("DocumentType", "PLAIN_TEXT_DOCUMENT") != "PLAIN_TEXT_DOCUMENT"
            or config.get("Documents")
            or config.get("DocumentReaderConfig")
        ):
            raise ServiceError(
                "InvalidRequestException",
                "The local Comprehend engine trains plain-text models only; native document "
                "models are not supported.",
            )
        if not config.get("S3Uri"):
            raise ServiceError(
                "InvalidRequestException", "InputDataConfig.S3Uri is required for CSV data."
            )
        self._check_tags(params)
        _refuse_flywheel(params.get("OutputDataConfig", {}).get("FlywheelStatsS3Prefix"))
        arn = self._classifier_arn(name, version)
        if arn in self._classifiers:
            raise ServiceError(
                "ResourceInUseException",
                f"A classifier named {name}"
                + (f" with version {version}" if version else "")
                + " already exists.",
            )
        now = self._now()
        output_bucket = output_key = None
        output_prefix = (params.get("OutputDataConfig") or {}).get("S3Uri")
        if output_prefix:
            output_bucket, prefix = _split_s3_uri(output_prefix)
            output_key = _output_key(prefix, f"{self.account_id}-CLR-{uuid.uuid4().hex}")
        classifier = _Classifier(
            arn=arn,
            name=name,
            version=version,
            mode=params.get("Mode", MULTI_CLASS),
            request=params,
            role_arn=params["DataAccessRoleArn"],
            submitted_at=now,
            queued_until=now + self.timings.classifier_queued_seconds,
            output_bucket=output_bucket,
            output_key=output_key,
            fingerprint=_fingerprint(params),
            fault=self._training_faults.pop(0) if self._training_faults else None,
        )
        self._classifiers[arn] = classifier
        self._remember_token("CreateDocumentClassifier", params, classifier)
        return {"DocumentClassifierArn": arn}

    def _classifier(self, arn: str) -> _Classifier:
        classifier = self._classifiers.get(arn)
        if classifier is not None and self._advance_classifier(classifier):
            return classifier
        raise ServiceError("ResourceNotFoundException", f"The classifier {arn} does not exist.")

    def _advance_classifier(self, classifier: _Classifier) -> bool:
        """Bring the classifier's status up to the clock; False once it is deleted."""
        now = self._now()
        if classifier.delete_requested_at is not None:
            if now >= classifier.delete_requested_at + self.timings.classifier_delete_seconds:
                self._classifiers.pop(classifier.arn, None)
                return False
            classifier.status = "DELETING"
            return True
        if classifier.status in FINISHED_CLASSIFIER_STATUSES:
            return True
        start = classifier.queued_until
        stop_at = (
            None
            if classifier.stop_requested_at is None
            else classifier.stop_requested_at + self.timings.stop_seconds
        )
        if classifier.stop_requested_at is not None and classifier.stop_requested_at < start:
            # Stopped before training began: nothing is read or trained.
            assert stop_at is not None
            if now >= stop_at:
                classifier.status, classifier.ended_at = "STOPPED", stop_at
            else:
                classifier.status = "STOP_REQUESTED"
            return True
        if now < start:
            classifier.status = "SUBMITTED"
            return True
        if not classifier.ran:
            self._train(classifier)
        assert classifier.outcome_at is not None
        if stop_at is not None and stop_at < classifier.outcome_at:
            if now >= stop_at:
                classifier.status, classifier.ended_at = "STOPPED", stop_at
                classifier.model = classifier.metadata = None
                self.usage.record_training(stop_at - start)
            else:
                classifier.status = "STOP_REQUESTED"
            return True
        if now < classifier.outcome_at:
            classifier.status = "STOP_REQUESTED" if stop_at is not None else "TRAINING"
            return True
        self._finish_training(classifier)
        return True

    def _train(self, classifier: _Classifier) -> None:
        """Read, check and train when training starts; the outcome shows at its end time."""
        classifier.ran = True
        start = classifier.queued_until
        if classifier.fault is not None:
            self._training_failed(classifier, classifier.fault)
            return
        config = classifier.request["InputDataConfig"]
        delimiter = config.get("LabelDelimiter", DEFAULT_LABEL_DELIMITER)
        s3 = self._s3_for_role(classifier.role_arn)
        try:
            documents = _read_labelled_data(
                s3, config["S3Uri"], classifier.mode, delimiter, classifier.role_arn
            )
            labels = _check_training_data(documents, classifier.mode, config["S3Uri"])
            if config.get("TestS3Uri"):
                train = documents
                test = _read_labelled_data(
                    s3, config["TestS3Uri"], classifier.mode, delimiter, classifier.role_arn
                )
                _check_test_data(test, labels, config["TestS3Uri"])
            else:
                train, test = _autosplit(documents, self.seed)
            model = TextModel.train(classifier.mode, labels, train)
            metrics, confusion = evaluate(
                classifier.mode,
                labels,
                [document.labels for document in test],
                model.predict([document.text for document in test]),
            )
        except _DataError as error:
            self._training_failed(classifier, str(error))
            return
        classifier.model = model
        classifier.confusion = confusion
        classifier.metadata = {
            "NumberOfLabels": len(labels),
            "NumberOfTrainedDocuments": len(train),
            "NumberOfTestDocuments": len(test),
            "EvaluationMetrics": metrics,
        }
        classifier.outcome = "TRAINED"
        classifier.outcome_at = (
            start
            + self.timings.training_base_seconds
            + (len(train) + len(test)) * self.timings.training_seconds_per_document
        )

    def _training_failed(self, classifier: _Classifier, message: str) -> None:
        classifier.outcome, classifier.message = "IN_ERROR", message
        classifier.outcome_at = classifier.queued_until + self.timings.validation_seconds

    def _finish_training(self, classifier: _Classifier) -> None:
        end = classifier.outcome_at
        assert end is not None
        classifier.ended_at = end
        if classifier.outcome != "TRAINED":
            classifier.status = "IN_ERROR"
            return
        if classifier.output_key is not None and classifier.confusion is not None:
            try:
                self._s3_for_role(classifier.role_arn).put_object(
                    Bucket=classifier.output_bucket,
                    Key=classifier.output_key,
                    Body=_tar_gz(
                        "confusion_matrix.json",
                        json.dumps(classifier.confusion, indent=2).encode("utf-8"),
                        end,
                    ),
                )
            except ClientError as exc:
                classifier.status = "IN_ERROR"
                classifier.model = classifier.metadata = None
                classifier.message = (
                    f"Amazon Comprehend could not write {classifier.output_uri} with the data "
                    f"access role {classifier.role_arn}: {_client_error_code(exc)}."
                )
                return
        classifier.status = "TRAINED"
        classifier.training_ended_at = end
        self.usage.record_training(end - classifier.queued_until)

    def _classifier_properties(self, classifier: _Classifier) -> dict[str, Any]:
        request = classifier.request
        input_config = {"DataFormat": "COMPREHEND_CSV", **request["InputDataConfig"]}
        output_config = dict(request.get("OutputDataConfig") or {})
        if classifier.output_uri is not None:
            output_config["S3Uri"] = classifier.output_uri
        trained = classifier.status in ("TRAINED", "TRAINED_WITH_WARNING") or (
            classifier.status == "DELETING" and classifier.training_ended_at is not None
        )
        return _drop_none(
            {
                "DocumentClassifierArn": classifier.arn,
                "LanguageCode": request["LanguageCode"],
                "Status": classifier.status,
                "Message": classifier.message,
                "SubmitTime": _time(classifier.submitted_at),
                "EndTime": _time(classifier.ended_at),
                "TrainingStartTime": _time(classifier.queued_until) if classifier.ran else None,
                "TrainingEndTime": _time(classifier.training_ended_at),
                "InputDataConfig": input_config,
                "OutputDataConfig": output_config,
                "ClassifierMetadata": classifier.metadata if trained else None,
                "DataAccessRoleArn": classifier.role_arn,
                "VolumeKmsKeyId": request.get("VolumeKmsKeyId"),
                "VpcConfig": request.get("VpcConfig"),
                "Mode": classifier.mode,
                "ModelKmsKeyId": request.get("ModelKmsKeyId"),
                "VersionName": classifier.version,
            }
        )

    def _describe_classifier(self, params: dict[str, Any]) -> dict[str, Any]:
        classifier = self._classifier(params["DocumentClassifierArn"])
        return {"DocumentClassifierProperties": self._classifier_properties(classifier)}

    def _list_classifiers(self, params: dict[str, Any]) -> dict[str, Any]:
        return _listed(
            (c for c in list(self._classifiers.values()) if self._advance_classifier(c)),
            params,
            {
                "Status": ("status", lambda c: c.status),
                "DocumentClassifierName": ("name", lambda c: c.name),
            },
            ("submission time", "SubmitTimeBefore", "SubmitTimeAfter", lambda c: c.submitted_at),
            lambda classifier: (classifier.submitted_at, classifier.arn),
            "DocumentClassifierPropertiesList",
            self._classifier_properties,
        )

    def _stop_training(self, params: dict[str, Any]) -> dict[str, Any]:
        classifier = self._classifier(params["DocumentClassifierArn"])
        if classifier.status in ("SUBMITTED", "TRAINING"):
            classifier.stop_requested_at = self._now()
            self._advance_classifier(classifier)
        # Stopping a classifier that already finished (or is stopping) changes nothing.
        return {}

    def _delete_classifier(self, params: dict[str, Any]) -> dict[str, Any]:
        classifier = self._classifier(params["DocumentClassifierArn"])
        if classifier.status == "DELETING":
            return {}
        if classifier.status not in FINISHED_CLASSIFIER_STATUSES:
            raise ServiceError(
                "ResourceUnavailableException",
                f"The classifier {classifier.arn} is {classifier.status}; only classifiers "
                "that are TRAINED, IN_ERROR or STOPPED can be deleted.",
            )
        for endpoint in list(self._endpoints.values()):
            if self._advance_endpoint(endpoint) and classifier.arn in (
                endpoint.model_arn,
                endpoint.desired_model_arn,
            ):
                raise ServiceError(
                    "ResourceInUseException",
                    f"The classifier {classifier.arn} is used by the endpoint {endpoint.arn}; "
                    "delete the endpoint first.",
                )
        for job in self._jobs.values():
            running = self._advance_job(job) not in FINISHED_JOB_STATUSES
            if job.classifier_arn == classifier.arn and running:
                raise ServiceError(
                    "ResourceInUseException",
                    f"The classifier {classifier.arn} is used by the running classification "
                    f"job {job.job_id}.",
                )
        classifier.delete_requested_at = self._now()
        classifier.status = "DELETING"
        return {}

    def _trained_model(self, arn: str) -> _Classifier:
        if not arn.rsplit(":", 1)[-1].startswith("document-classifier/"):
            raise ServiceError("ResourceNotFoundException", f"The model {arn} does not exist.")
        classifier = self._classifier(arn)
        if classifier.status not in ("TRAINED", "TRAINED_WITH_WARNING") or classifier.model is None:
            raise ServiceError(
                "ResourceUnavailableException",
                f"The classifier {arn} is {classifier.status}; it must be TRAINED.",
            )
        return classifier

    # -- classification jobs ----------------------------------------------------------------------

    def _start_job(self, params: dict[str, Any]) -> dict[str, Any]:
        previous = self._idempotent("StartDocumentClassificationJob", params)
        if previous is not None:
            status = self._advance_job(previous)
            return {
                "JobId": previous.job_id,
                "JobArn": previous.arn,
                "JobStatus": status,
                "DocumentClassifierArn": previous.classifier_arn,
            }
        _refuse_flywheel(params.get("FlywheelArn"))
        classifier_arn = _required(params, "DocumentClassifierArn")
        config: dict[str, Any] = params["InputDataConfig"]
        if config.get("DocumentReaderConfig"):
            raise ServiceError(
                "InvalidRequestException",
                "The local Comprehend engine classifies plain text only; DocumentReaderConfig "
                "is not supported.",
            )
        self._check_tags(params)
        classifier = self._trained_model(classifier_arn)
        assert classifier.model is not None
        job_id = self.job_id_for(params.get("ClientRequestToken"))
        now = self._now()
        output_bucket, prefix = _split_s3_uri(params["OutputDataConfig"]["S3Uri"])
        job = _Job(
            job_id=job_id,
            arn=(
                f"arn:aws:comprehend:{self.region}:{self.account_id}:"
                f"document-classification-job/{job_id}"
            ),
            name=params.get("JobName"),
            classifier_arn=classifier.arn,
            model=classifier.model,
            request=params,
            input_format=config.get("InputFormat", "ONE_DOC_PER_LINE"),
            role_arn=params["DataAccessRoleArn"],
            input_uri=config["S3Uri"],
            output_bucket=output_bucket,
            output_key=_output_key(prefix, f"{self.account_id}-CLN-{job_id}"),
            submitted_at=now,
            queued_until=now + self.timings.job_queued_seconds,
            fingerprint=_fingerprint(params),
            fault=self._job_faults.pop(0) if self._job_faults else None,
        )
        self._jobs[job_id] = job
        self._remember_token("StartDocumentClassificationJob", params, job)
        return {
            "JobId": job_id,
            "JobArn": job.arn,
            "JobStatus": job.status,
            "DocumentClassifierArn": job.classifier_arn,
        }

    def job_id_for(self, client_request_token: str | None) -> str:
        """A classification job's id (`token_derived_id`; random without a token)."""
        if not client_request_token:
            return uuid.uuid4().hex
        return token_derived_id(
            _JOB_ID_NAMESPACE, self.account_id, self.region, client_request_token
        )

    def _job(self, job_id: str) -> _Job:
        missing = ServiceError("JobNotFoundException", f"The job {job_id} does not exist.")
        job = existing(self._jobs, job_id, missing)
        self._advance_job(job)
        return job

    def _advance_job(self, job: _Job) -> str:
        if job.status in FINISHED_JOB_STATUSES:
            return job.status
        now = self._now()
        if now < job.queued_until:
            return job.status
        if job.end_at is None:
            self._scan_job_input(job)
        assert job.end_at is not None
        if now < job.end_at:
            job.status = "IN_PROGRESS"
            return job.status
        self._run_job(job)
        job.ended_at = job.end_at
        return job.status

    def _scan_job_input(self, job: _Job) -> None:
        """List the input when the job starts; its size sets the job's duration."""
        try:
            job.inputs = _list_objects(self._s3_for_role(job.role_arn), job.input_uri)
        except ClientError as exc:
            job.inputs = []
            job.scan_error = (
                f"Amazon Comprehend could not read {job.input_uri} with the data access role "
                f"{job.role_arn}: {_client_error_code(exc)}."
            )
        characters = sum(size for _, size in job.inputs)
        job.end_at = (
            job.queued_until
            + self.timings.job_base_seconds
            + characters * self.timings.job_seconds_per_character
        )

    def _run_job(self, job: _Job) -> None:
        if job.fault is not None or job.scan_error is not None:
            job.status, job.message = "FAILED", job.fault or job.scan_error
            return
        if not job.inputs:
            job.status = "FAILED"
            job.message = f"No input documents were found at {job.input_uri}."
            return
        s3 = self._s3_for_role(job.role_arn)
        bucket, prefix = _split_s3_uri(job.input_uri)
        names: list[tuple[str, str | None]] = []  # (File, Line) of each document
        texts: list[str] = []
        for key, _size in job.inputs:
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                content = body.decode("utf-8-sig")
            except ClientError as exc:
                job.status = "FAILED"
                job.message = (
                    f"Amazon Comprehend could not read s3://{bucket}/{key} with the data access "
                    f"role {job.role_arn}: {_client_error_code(exc)}."
                )
                return
            except UnicodeDecodeError:
                job.status = "FAILED"
                job.message = f"The input file s3://{bucket}/{key} is not valid UTF-8."
                return
            name = _document_name(prefix, key)
            if job.input_format == "ONE_DOC_PER_FILE":
                if content.strip():
                    names.append((name, None))
                    texts.append(content)
                continue
            # Lines end at \n (or \r\n) only, so Line numbers match any line-oriented reader.
            for number, line in enumerate(content.split("\n")):
                if line.strip():
                    names.append((name, str(number)))
                    texts.append(line.removesuffix("\r"))
        if not texts:
            job.status = "FAILED"
            job.message = f"The input at {job.input_uri} contains no documents."
            return
        lines = []
        for (name, line), ranked in zip(names, job.model.scores(texts), strict=True):
            entry: dict[str, Any] = {"File": name}
            if line is not None:
                entry["Line"] = line
            if job.model.mode == MULTI_CLASS:
                chosen = ranked[:JOB_OUTPUT_TOP]
                member = "Classes"
            else:
                chosen = [
                    pair
                    for index, pair in enumerate(ranked)
                    if index < JOB_OUTPUT_TOP or pair[1] >= MULTI_LABEL_THRESHOLD
                ]
                member = "Labels"
            entry[member] = [
                {"Name": label, "Score": round(score, METRIC_DIGITS)} for label, score in chosen
            ]
            lines.append(json.dumps(entry, ensure_ascii=False))
        payload = ("\n".join(lines) + "\n").encode("utf-8")
        assert job.end_at is not None
        try:
            s3.put_object(
                Bucket=job.output_bucket,
                Key=job.output_key,
                Body=_tar_gz("predictions.jsonl", payload, job.end_at),
            )
        except ClientError as exc:
            job.status = "FAILED"
            job.message = (
                f"Amazon Comprehend could not write {job.output_uri} with the data access role "
                f"{job.role_arn}: {_client_error_code(exc)}."
            )
            return
        self.usage.record_characters(
            "StartDocumentClassificationJob", sum(len(text) for text in texts), len(texts)
        )
        self.usage.record_async_documents([len(text) for text in texts])
        job.status = "COMPLETED"

    def _job_properties(self, job: _Job) -> dict[str, Any]:
        request = job.request
        return _drop_none(
            {
                "JobId": job.job_id,
                "JobArn": job.arn,
                "JobName": job.name,
                "JobStatus": job.status,
                "Message": job.message,
                "SubmitTime": _time(job.submitted_at),
                "EndTime": _time(job.ended_at),
                "DocumentClassifierArn": job.classifier_arn,
                "InputDataConfig": {**request["InputDataConfig"], "InputFormat": job.input_format},
                "OutputDataConfig": {**request["OutputDataConfig"], "S3Uri": job.output_uri},
                "DataAccessRoleArn": job.role_arn,
                "VolumeKmsKeyId": request.get("VolumeKmsKeyId"),
                "VpcConfig": request.get("VpcConfig"),
            }
        )

    def _describe_job(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self._job(params["JobId"])
        return {"DocumentClassificationJobProperties": self._job_properties(job)}

    def _list_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        def advanced(job: _Job) -> bool:
            self._advance_job(job)
            return True

        return _listed(
            (job for job in self._jobs.values() if advanced(job)),
            params,
            {"JobName": ("name", lambda j: j.name), "JobStatus": ("status", lambda j: j.status)},
            ("submission time", "SubmitTimeBefore", "SubmitTimeAfter", lambda j: j.submitted_at),
            lambda job: (job.submitted_at, job.job_id),
            "DocumentClassificationJobPropertiesList",
            self._job_properties,
        )

    def _create_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        previous = self._idempotent("CreateEndpoint", params)
        if previous is not None:
            return {"EndpointArn": previous.arn, "ModelArn": previous.desired_model_arn}
        _refuse_flywheel(params.get("FlywheelArn"))
        model_arn = _required(params, "ModelArn")
        self._check_tags(params)
        name: str = params["EndpointName"]
        arn = (
            f"arn:aws:comprehend:{self.region}:{self.account_id}:"
            f"document-classifier-endpoint/{name}"
        )
        existing = self._endpoints.get(arn)
        if existing is not None and self._advance_endpoint(existing):
            raise ServiceError(
                "ResourceInUseException", f"An endpoint named {name} already exists."
            )
        classifier = self._trained_model(model_arn)
        units: int = params["DesiredInferenceUnits"]
        self._check_units(units, exclude=None)
        now = self._now()
        endpoint = _Endpoint(
            arn=arn,
            name=name,
            model_arn=classifier.arn,
            desired_model_arn=classifier.arn,
            desired_units=units,
            role_arn=params.get("DataAccessRoleArn"),
            created_at=now,
            ready_at=now + self.timings.endpoint_create_seconds,
            fingerprint=_fingerprint(params),
            fault=self._endpoint_faults.pop(0) if self._endpoint_faults else None,
            modified_at=now,
            billed_units=units,
            billed_until=now,
            tags=list(params.get("Tags") or []),
        )
        self._endpoints[arn] = endpoint
        self._remember_token("CreateEndpoint", params, endpoint)
        return {"EndpointArn": arn, "ModelArn": classifier.arn}

    def _check_units(self, units: int, exclude: _Endpoint | None) -> None:
        if units > MAX_UNITS_PER_ENDPOINT:
            raise ServiceError(
                "ResourceLimitExceededException",
                f"An endpoint can have at most {MAX_UNITS_PER_ENDPOINT} inference units; "
                f"{units} were requested.",
            )
        in_use = sum(
            max(endpoint.desired_units, endpoint.current_units or 0)
            for endpoint in self._endpoints.values()
            if endpoint is not exclude and endpoint.billing  # neither failed nor deleting
        )
        if in_use + units > MAX_UNITS_PER_ACCOUNT:
            raise ServiceError(
                "ResourceLimitExceededException",
                f"The account can have at most {MAX_UNITS_PER_ACCOUNT} inference units; "
                f"{in_use} are in use and {units} were requested.",
            )

    def _endpoint(self, arn: str) -> _Endpoint:
        endpoint = self._endpoints.get(arn)
        if endpoint is not None and self._advance_endpoint(endpoint):
            return endpoint
        raise ServiceError("ResourceNotFoundException", f"The endpoint {arn} does not exist.")

    def _accrue(self, endpoint: _Endpoint, until: float) -> None:
        if endpoint.billing and until > endpoint.billed_until:
            self.usage.record_inference_units(
                endpoint.billed_units * (until - endpoint.billed_until),
                (endpoint.arn, endpoint.created_at),
                endpoint.billed_units,
            )
            endpoint.billed_until = until

    def _advance_endpoint(self, endpoint: _Endpoint) -> bool:
        """Bring the endpoint's status and billing up to the clock; False once it is gone."""
        now = self._now()
        if endpoint.status == "CREATING" and now >= endpoint.ready_at:
            endpoint.modified_at = endpoint.ready_at
            if endpoint.fault is not None:
                self._accrue(endpoint, endpoint.ready_at)
                endpoint.billing = False
                endpoint.status, endpoint.message = "FAILED", endpoint.fault
            else:
                endpoint.status = "IN_SERVICE"
                endpoint.current_units = endpoint.desired_units
                self._refill(endpoint, endpoint.ready_at, full=True)
        if endpoint.status == "UPDATING" and endpoint.update is not None:
            update = endpoint.update
            if now >= update.done_at:
                self._accrue(endpoint, update.done_at)
                endpoint.model_arn = update.model_arn
                endpoint.current_units = endpoint.billed_units = update.units
                if update.role_arn is not None:
                    endpoint.role_arn = update.role_arn
                endpoint.update = None
                endpoint.status = "IN_SERVICE"
                endpoint.modified_at = update.done_at
        if (
            endpoint.status == "DELETING"
            and endpoint.gone_at is not None
            and now >= endpoint.gone_at
        ):
            self._endpoints.pop(endpoint.arn, None)
            return False
        self._accrue(endpoint, now)
        return True

    def _endpoint_properties(self, endpoint: _Endpoint) -> dict[str, Any]:
        update = endpoint.update
        return _drop_none(
            {
                "EndpointArn": endpoint.arn,
                "Status": endpoint.status,
                "Message": endpoint.message,
                "ModelArn": endpoint.model_arn,
                "DesiredModelArn": endpoint.desired_model_arn,
                "DesiredInferenceUnits": endpoint.desired_units,
                "CurrentInferenceUnits": endpoint.current_units,
                "CreationTime": _time(endpoint.created_at),
                "LastModifiedTime": _time(endpoint.modified_at),
                "DataAccessRoleArn": endpoint.role_arn,
                "DesiredDataAccessRoleArn": update.role_arn if update else None,
            }
        )

    def _describe_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoint(params["EndpointArn"])
        return {"EndpointProperties": self._endpoint_properties(endpoint)}

    def _list_endpoints(self, params: dict[str, Any]) -> dict[str, Any]:
        return _listed(
            (e for e in list(self._endpoints.values()) if self._advance_endpoint(e)),
            params,
            {
                "ModelArn": ("model", lambda e: e.model_arn),
                "Status": ("status", lambda e: e.status),
            },
            ("creation time", "CreationTimeBefore", "CreationTimeAfter", lambda e: e.created_at),
            lambda endpoint: (endpoint.created_at, endpoint.arn),
            "EndpointPropertiesList",
            self._endpoint_properties,
        )

    def _update_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoint(params["EndpointArn"])
        _refuse_flywheel(params.get("FlywheelArn"))
        wanted = ("DesiredModelArn", "DesiredInferenceUnits", "DesiredDataAccessRoleArn")
        if not any(key in params for key in wanted):
            raise ServiceError(
                "InvalidRequestException",
                "Give a DesiredModelArn, DesiredInferenceUnits or DesiredDataAccessRoleArn.",
            )
        if endpoint.status != "IN_SERVICE":
            raise ServiceError(
                "ResourceInUseException",
                f"The endpoint {endpoint.arn} is {endpoint.status}; it can be updated only when "
                "IN_SERVICE.",
            )
        model_arn = params.get("DesiredModelArn", endpoint.model_arn)
        if model_arn != endpoint.model_arn:
            model_arn = self._trained_model(model_arn).arn
        units = params.get("DesiredInferenceUnits", endpoint.current_units or 1)
        self._check_units(units, exclude=endpoint)
        now = self._now()
        endpoint.update = _Update(
            model_arn=model_arn,
            units=units,
            role_arn=params.get("DesiredDataAccessRoleArn"),
            done_at=now + self.timings.endpoint_update_seconds,
        )
        endpoint.desired_model_arn = model_arn
        endpoint.desired_units = units
        endpoint.status = "UPDATING"
        endpoint.modified_at = now
        return {"DesiredModelArn": model_arn}

    def _delete_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoint(params["EndpointArn"])
        if endpoint.status == "DELETING":
            return {}
        if endpoint.status in ("CREATING", "UPDATING"):
            raise ServiceError(
                "ResourceInUseException",
                f"The endpoint {endpoint.arn} is {endpoint.status}; wait until it is "
                "IN_SERVICE to delete it.",
            )
        now = self._now()
        self._accrue(endpoint, now)
        endpoint.billing = False
        endpoint.status = "DELETING"
        endpoint.gone_at = now + self.timings.endpoint_delete_seconds
        endpoint.modified_at = now
        return {}

    # -- real-time classification -----------------------------------------------------------------

    def _refill(self, endpoint: _Endpoint, now: float, *, full: bool = False) -> None:
        units = endpoint.current_units or 0
        characters = units * CHARACTERS_PER_SECOND_PER_UNIT
        documents = units * DOCUMENTS_PER_SECOND_PER_UNIT
        if full:
            endpoint.characters_available, endpoint.documents_available = characters, documents
        else:
            elapsed = max(0.0, now - endpoint.refilled_at)
            endpoint.characters_available = min(
                characters, endpoint.characters_available + elapsed * characters
            )
            endpoint.documents_available = min(
                documents, endpoint.documents_available + elapsed * documents
            )
        endpoint.refilled_at = now

    def _admit(self, endpoint: _Endpoint, characters: int) -> None:
        """Spend the endpoint's throughput on a request, or raise ThrottlingException."""
        if not self.throughput_limits:
            return
        self._refill(endpoint, self._now())
        # A request is admitted while the buckets are not in debt; a long document may take
        # them below zero and is paid off over the following seconds.
        if endpoint.characters_available <= 0 or endpoint.documents_available < 1:
            raise ServiceError(
                "ThrottlingException",
                f"The endpoint {endpoint.arn} is provisioned for "
                f"{endpoint.current_units} inference unit(s): "
                f"{(endpoint.current_units or 0) * CHARACTERS_PER_SECOND_PER_UNIT} characters "
                f"and {(endpoint.current_units or 0) * DOCUMENTS_PER_SECOND_PER_UNIT} documents "
                "per second.",
            )
        endpoint.characters_available -= characters
        endpoint.documents_available -= 1

    def _classify_document(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("Bytes") is not None or params.get("DocumentReaderConfig"):
            raise ServiceError(
                "InvalidRequestException",
                "The local Comprehend engine classifies plain text only; Bytes and "
                "DocumentReaderConfig are not supported.",
            )
        text = _required(params, "Text")
        endpoint = self._endpoint(params["EndpointArn"])
        if endpoint.status not in ("IN_SERVICE", "UPDATING"):
            raise ServiceError(
                "ResourceUnavailableException",
                f"The endpoint {endpoint.arn} is {endpoint.status}; it must be IN_SERVICE.",
            )
        size = len(text.encode("utf-8"))
        if size > self.max_text_bytes:
            raise ServiceError(
                "TextSizeLimitExceededException",
                f"Input text size exceeds limit. Max length of request text allowed is "
                f"{self.max_text_bytes} bytes while in this request the text size is {size} "
                "bytes",
            )
        self._admit(endpoint, len(text))
        classifier = self._classifiers.get(endpoint.model_arn)
        if classifier is None or classifier.model is None:
            raise ServiceError(
                "ResourceUnavailableException",
                f"The model behind the endpoint {endpoint.arn} is not available.",
            )
        [ranked] = classifier.model.scores([text])
        self.usage.record_characters("ClassifyDocument", len(text), 1)
        entries = [{"Name": label, "Score": round(score, METRIC_DIGITS)} for label, score in ranked]
        if classifier.mode == MULTI_CLASS:
            return {"Classes": entries}
        return {"Labels": entries}
