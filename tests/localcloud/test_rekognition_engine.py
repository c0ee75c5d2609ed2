"""The local Rekognition Custom Labels engine, driven through real boto3 clients; S3 is moto's."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.core.models import botocore_stubber

from localcloud.core.clock import LocalClock
from localcloud.core.protocol import CallContext, register_on_client
from localcloud.services.rekognition.engine import CustomLabelsTimings, RekognitionEngine
from tests.helpers.engines import REGION, SESSION

pytestmark = pytest.mark.usefixtures("engine_aws")

ACCOUNT = "123456789012"
BUCKET = "custom-labels-batch-bucket"
BUCKETS = (BUCKET,)
PREFIX = "samples/custom_labels_batch"
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "custom_labels_batch"
START = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
START_MS = 1714996800000
CREATED = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
CREATED_MS = 1714552200000
TIMINGS = CustomLabelsTimings()  # start 600 s, stop 120 s, training 1800 s + 1 s per image


def _load_samples() -> ModuleType:
    spec = importlib.util.spec_from_file_location("custom_labels_samples", SAMPLES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


samples = _load_samples()


@pytest.fixture
def clock() -> LocalClock:
    # Virtual time stands still unless a test advances it.
    return LocalClock(speed=1e-9, start=START)


def _put(s3: Any, relative: str) -> str:
    """Upload samples/custom_labels_batch/<relative>, if it exists, under PREFIX; return the key."""
    key = f"{PREFIX}/{relative}"
    path = SAMPLES / relative
    if path.is_file():
        s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
    return key


@pytest.fixture
def engine(clock: LocalClock, s3: Any) -> RekognitionEngine:
    return RekognitionEngine(clock, lambda principal: s3)


def _client(engine: RekognitionEngine, **config: Any) -> Any:
    client = SESSION.client(
        "rekognition",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, **config),
    )
    register_on_client(client, engine)
    # moto has a partial Rekognition of its own: keep it from answering this client too.
    client.meta.events.unregister("before-send", botocore_stubber)
    return client


@pytest.fixture
def rekognition(engine: RekognitionEngine) -> Any:
    return _client(engine)


def _manifest(s3: Any, key: str, rows: list[tuple[str, str]]) -> str:
    """Write a manifest of (class, sample image path) rows, uploading the images; return its URI."""
    lines = [
        samples.manifest_line(label, f"s3://{BUCKET}/{_put(s3, path)}") for label, path in rows
    ]
    s3.put_object(Bucket=BUCKET, Key=key, Body=("\n".join(lines) + "\n").encode("utf-8"))
    return f"s3://{BUCKET}/{key}"


def _small_manifest(
    s3: Any, per_class: int = 6, classes: tuple[str, ...] = ("mug", "bottle")
) -> str:
    rows = [
        (label, f"train/{label}/{label}-{index:02d}.jpg")
        for label in classes
        for index in range(1, per_class + 1)
    ]
    return _manifest(s3, "manifests/small.jsonl", rows)


def _asset(uri: str) -> dict[str, Any]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return {"Assets": [{"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": key}}}]}


def _describe(rekognition: Any, version_arn: str) -> dict[str, Any]:
    name = version_arn.split("/version/")[1].rsplit("/", 1)[0]
    project_arn = next(
        p["ProjectArn"]
        for p in rekognition.describe_projects()["ProjectDescriptions"]
        if version_arn.startswith(p["ProjectArn"].rsplit("/", 1)[0] + "/version/")
    )
    found = rekognition.describe_project_versions(ProjectArn=project_arn, VersionNames=[name])
    (description,) = found["ProjectVersionDescriptions"]
    return description


def _running(
    engine: RekognitionEngine,
    rekognition: Any,
    clock: LocalClock,
    s3: Any,
    units: int = 1,
    **kw: Any,
) -> str:
    _, version_arn = engine.create_trained_version(
        "shop", "v1", _small_manifest(s3), created_at=CREATED
    )
    rekognition.start_project_version(ProjectVersionArn=version_arn, MinInferenceUnits=units, **kw)
    clock.advance(TIMINGS.start_seconds)
    assert engine.status_of(version_arn) == "RUNNING"
    return version_arn


def _image(s3: Any, name: str) -> dict[str, Any]:
    return {"S3Object": {"Bucket": BUCKET, "Name": _put(s3, name)}}


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


# --- samples ----------------------------------------------------------------------------------


def test_the_committed_samples_are_what_generate_writes(tmp_path: Path) -> None:
    samples.generate(tmp_path)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(SAMPLES).as_posix()
        for p in SAMPLES.rglob("*")
        if p.is_file()
        and p.suffix != ".py"
        and p.name != "README.md"
        and "__pycache__" not in p.parts
    )
    assert written == committed
    assert len([p for p in written if p.startswith("train/")]) == 72
    assert len([p for p in written if p.startswith("incoming/")]) == 12
    for relative in written:
        assert (tmp_path / relative).read_bytes() == (SAMPLES / relative).read_bytes(), relative
    assert sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file()) < 1_000_000


def test_manifest_for_retargets_the_ground_truth_manifest() -> None:
    committed = (SAMPLES / "manifest.jsonl").read_text()
    assert committed == samples.manifest_for("custom-labels-batch-samples", "custom_labels_batch")
    first = json.loads(samples.manifest_for("my-bucket", "/uploads/cl/").splitlines()[0])
    assert first == {
        "source-ref": "s3://my-bucket/uploads/cl/train/mug/mug-01.jpg",
        "product": 0,
        "product-metadata": {
            "confidence": 1,
            "job-name": "labeling-job/product",
            "class-name": "mug",
            "human-annotated": "yes",
            "creation-date": "2024-05-06T09:30:00.000",
            "type": "groundtruth/image-classification",
        },
    }


# --- projects ---------------------------------------------------------------------------------


def test_projects_are_created_described_and_deleted(
    rekognition: Any, engine: RekognitionEngine, s3: Any, clock: LocalClock
) -> None:
    arn = rekognition.create_project(ProjectName="shop")["ProjectArn"]
    assert arn == f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/shop/{START_MS}"
    clock.advance(5)
    other = rekognition.create_project(ProjectName="garden")["ProjectArn"]
    assert other.endswith(f"/garden/{START_MS + 5000}")
    with pytest.raises(rekognition.exceptions.ResourceInUseException):
        rekognition.create_project(ProjectName="shop")

    first = rekognition.describe_projects(MaxResults=1)
    assert [p["ProjectArn"] for p in first["ProjectDescriptions"]] == [other]
    second = rekognition.describe_projects(MaxResults=1, NextToken=first["NextToken"])
    assert [p["ProjectArn"] for p in second["ProjectDescriptions"]] == [arn]
    assert "NextToken" not in second
    (shop,) = rekognition.describe_projects(ProjectNames=["shop"])["ProjectDescriptions"]
    assert shop["Status"] == "CREATED"
    assert shop["Feature"] == "CUSTOM_LABELS"
    assert shop["CreationTimestamp"] == START
    assert (
        rekognition.describe_projects(Features=["CONTENT_MODERATION"])["ProjectDescriptions"] == []
    )
    with pytest.raises(rekognition.exceptions.InvalidPaginationTokenException):
        rekognition.describe_projects(NextToken="not-a-token")

    _, version_arn = engine.create_trained_version(
        "shop", "v1", _small_manifest(s3), created_at=CREATED
    )
    with pytest.raises(rekognition.exceptions.ResourceInUseException):
        rekognition.delete_project(ProjectArn=arn)
    assert rekognition.delete_project_version(ProjectVersionArn=version_arn)["Status"] == "DELETING"
    assert rekognition.delete_project(ProjectArn=arn)["Status"] == "DELETING"
    names = [p["ProjectArn"] for p in rekognition.describe_projects()["ProjectDescriptions"]]
    assert names == [other]
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.delete_project(ProjectArn=arn)
    with pytest.raises(rekognition.exceptions.InvalidParameterException):
        rekognition.create_project(ProjectName="moderation", Feature="CONTENT_MODERATION")


# --- training ---------------------------------------------------------------------------------


def test_a_version_trained_on_the_sample_manifest_labels_the_incoming_images(
    rekognition: Any, engine: RekognitionEngine, clock: LocalClock, s3: Any
) -> None:
    for _, path in samples.training_images():
        _put(s3, path)
    s3.put_object(
        Bucket=BUCKET,
        Key=f"{PREFIX}/manifest.jsonl",
        Body=samples.manifest_for(BUCKET, PREFIX).encode("utf-8"),
    )
    project_arn = rekognition.create_project(ProjectName="shop")["ProjectArn"]
    version_arn = rekognition.create_project_version(
        ProjectArn=project_arn,
        VersionName="shop.2024-05-06",
        OutputConfig={"S3Bucket": BUCKET, "S3KeyPrefix": "training-output/"},
        TrainingData=_asset(f"s3://{BUCKET}/{PREFIX}/manifest.jsonl"),
        TestingData={"AutoCreate": True},
        VersionDescription="first model",
    )["ProjectVersionArn"]
    assert version_arn == (
        f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/shop/version/shop.2024-05-06/{START_MS}"
    )
    training = _describe(rekognition, version_arn)
    assert training["Status"] == "TRAINING_IN_PROGRESS"
    assert "EvaluationResult" not in training
    with pytest.raises(rekognition.exceptions.ResourceInUseException):
        rekognition.start_project_version(ProjectVersionArn=version_arn, MinInferenceUnits=1)

    clock.advance(1800 + 72 - 1)  # 72 images: 1,872 seconds of training
    assert _describe(rekognition, version_arn)["Status"] == "TRAINING_IN_PROGRESS"
    clock.advance(1)
    trained = _describe(rekognition, version_arn)
    assert trained["Status"] == "TRAINING_COMPLETED"
    assert trained["BillableTrainingTimeInSeconds"] == 1872
    assert trained["TrainingEndTimestamp"] == datetime(2024, 5, 6, 12, 31, 12, tzinfo=UTC)
    assert trained["VersionDescription"] == "first model"
    assert trained["EvaluationResult"]["F1Score"] >= 0.9
    base = "training-output/shop/shop.2024-05-06/"
    assert trained["EvaluationResult"]["Summary"]["S3Object"] == {
        "Bucket": BUCKET,
        "Name": f"{base}EvaluationSummary-shop-shop.2024-05-06.json",
    }
    assert trained["ManifestSummary"]["S3Object"]["Name"] == f"{base}manifest_summary.json"
    assert trained["TestingDataResult"]["Input"] == {"AutoCreate": True}
    summary = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"{base}EvaluationSummary-shop-shop.2024-05-06.json")[
            "Body"
        ].read()
    )
    details = summary["EvaluationDetails"]
    assert details["Labels"] == ["bottle", "mug", "plant"]
    # AutoCreate holds out 20% of each label's 24 images: 5 each.
    assert (details["NumberOfTrainingImages"], details["NumberOfTestingImages"]) == (57, 15)
    assert [r["NumberOfTestingImages"] for r in summary["LabelEvaluationResults"]] == [5, 5, 5]
    manifest_summary = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"{base}manifest_summary.json")["Body"].read()
    )
    assert manifest_summary["statistics"]["training"]["valid_json_lines"] == 57
    assert manifest_summary["statistics"]["testing"]["valid_json_lines"] == 15
    assert manifest_summary["statistics"]["training"]["use_case"] == "IMAGE_LEVEL_LABELS"
    assert engine.usage.training_seconds[version_arn] == 1872

    rekognition.start_project_version(ProjectVersionArn=version_arn, MinInferenceUnits=1)
    clock.advance(TIMINGS.start_seconds)
    truth = samples.incoming_truth()
    correct = 0
    for name, label in sorted(truth.items()):
        clock.advance(1)  # stay within one inference unit's throughput
        found = rekognition.detect_custom_labels(
            ProjectVersionArn=version_arn, Image=_image(s3, f"incoming/{name}"), MinConfidence=0
        )["CustomLabels"]
        correct += found[0]["Name"] == label
    assert len(truth) == 12
    assert correct / len(truth) >= 0.9


def test_training_failures_surface_with_the_documented_messages(
    rekognition: Any, engine: RekognitionEngine, clock: LocalClock, s3: Any
) -> None:
    project_arn = rekognition.create_project(ProjectName="shop")["ProjectArn"]
    s3.put_object(Bucket=BUCKET, Key="manifests/empty.jsonl", Body=b"\n \n")
    bad_rows = [("mug", "poison/truncated.jpg"), ("bottle", "poison/gif-named.png")]
    bad_rows += [("plant", "poison/tiny.png"), ("mug", "poison/too-wide.png")]
    bad_rows += [("mug", "train/mug/mug-01.jpg"), ("bottle", "train/bottle/bottle-01.jpg")]
    cases = {
        "missing": (
            f"s3://{BUCKET}/manifests/missing.jsonl",
            "The manifest file extension or contents are invalid.",
        ),
        "empty": (f"s3://{BUCKET}/manifests/empty.jsonl", "The manifest file is empty."),
        "one-class": (
            _manifest(
                s3,
                "manifests/mugs.jsonl",
                [("mug", f"train/mug/mug-{i:02d}.jpg") for i in range(1, 11)],
            ),
            "The manifest file has too few labels.",
        ),
        "unreadable": (
            _manifest(s3, "manifests/poison.jsonl", bad_rows),
            "The manifest file contains too many invalid rows.",
        ),
    }
    versions = {}
    for name, (uri, _) in cases.items():
        versions[name] = rekognition.create_project_version(
            ProjectArn=project_arn,
            VersionName=name,
            OutputConfig={"S3Bucket": BUCKET, "S3KeyPrefix": "out"},
            TrainingData=_asset(uri),
            TestingData={"AutoCreate": True},
        )["ProjectVersionArn"]
    clock.advance(TIMINGS.failure_seconds)
    for name, (_, message) in cases.items():
        failed = _describe(rekognition, versions[name])
        assert (failed["Status"], failed["StatusMessage"]) == ("TRAINING_FAILED", message), name
        assert "EvaluationResult" not in failed
        assert "BillableTrainingTimeInSeconds" not in failed
    assert "ManifestSummary" not in _describe(rekognition, versions["missing"])
    summary = json.loads(
        s3.get_object(Bucket=BUCKET, Key="out/shop/unreadable/manifest_summary.json")["Body"].read()
    )
    training = summary["statistics"]["training"]
    assert training["invalid_json_lines"] == 4
    assert training["error_json_line_indices"] == [1, 2, 3, 4]
    assert training["errors"][0]["code"] == "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"
    assert engine.usage.training_seconds == {}

    with pytest.raises(rekognition.exceptions.InvalidParameterException):
        rekognition.start_project_version(ProjectVersionArn=versions["empty"], MinInferenceUnits=1)

    engine.fail_next_training("Amazon Rekognition experienced a service issue.")
    with pytest.raises(ValueError, match="service issue"):
        engine.create_trained_version("shop", "broken", _small_manifest(s3), created_at=CREATED)


def test_a_few_invalid_lines_are_dropped_and_training_goes_on(
    engine: RekognitionEngine, rekognition: Any, s3: Any
) -> None:
    rows = [
        (label, f"train/{label}/{label}-{i:02d}.jpg")
        for label in ("mug", "plant")
        for i in range(1, 7)
    ]
    uri = _manifest(s3, "manifests/mostly-good.jsonl", [*rows, ("mug", "poison/truncated.jpg")])
    _, version_arn = engine.create_trained_version("shop", "v1", uri, created_at=CREATED)
    trained = _describe(rekognition, version_arn)
    assert trained["Status"] == "TRAINING_COMPLETED"
    assert trained["BillableTrainingTimeInSeconds"] == 1800 + 12
    summary_key = trained["ManifestSummary"]["S3Object"]["Name"]
    assert summary_key == "custom-labels-batch-output/shop/v1/manifest_summary.json"
    statistics = json.loads(s3.get_object(Bucket=BUCKET, Key=summary_key)["Body"].read())
    training = statistics["statistics"]["training"]
    assert (training["total_json_lines"], training["invalid_json_lines"]) == (11, 1)
    assert training["error_json_line_indices"] == [13]
    assert training["errors"] == []


def test_create_project_version_checks_the_request(rekognition: Any, s3: Any) -> None:
    project_arn = rekognition.create_project(ProjectName="shop")["ProjectArn"]
    manifest = _asset(_small_manifest(s3))
    request: dict[str, Any] = {
        "ProjectArn": project_arn,
        "VersionName": "v1",
        "OutputConfig": {"S3Bucket": BUCKET},
        "TrainingData": manifest,
        "TestingData": {"AutoCreate": True},
    }
    rekognition.create_project_version(**request)
    with pytest.raises(rekognition.exceptions.ResourceInUseException):
        rekognition.create_project_version(**request)
    invalid: list[dict[str, Any]] = [
        {"TestingData": None},
        {"TestingData": {"AutoCreate": True, **manifest}},
        {"TestingData": {"AutoCreate": False}},
        {"TrainingData": {"Assets": []}},
    ]
    for change in invalid:
        changed = {**request, "VersionName": "v2", **change}
        changed = {key: value for key, value in changed.items() if value is not None}
        with pytest.raises(rekognition.exceptions.InvalidParameterException):
            rekognition.create_project_version(**changed)
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.create_project_version(
            **{**request, "ProjectArn": project_arn.replace("/shop/", "/nothing/")}
        )


def test_describe_project_versions_pages_and_filters(
    rekognition: Any, engine: RekognitionEngine, clock: LocalClock, s3: Any
) -> None:
    project_arn, first_arn = engine.create_trained_version(
        "shop", "v1", _small_manifest(s3), created_at=CREATED
    )
    assert project_arn == f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/shop/{CREATED_MS}"
    arns = [first_arn]
    for name in ("v2", "v3"):  # these fail training quickly: the manifest does not exist
        arns.append(
            rekognition.create_project_version(
                ProjectArn=project_arn,
                VersionName=name,
                OutputConfig={"S3Bucket": BUCKET},
                TrainingData=_asset(f"s3://{BUCKET}/manifests/missing.jsonl"),
                TestingData={"AutoCreate": True},
            )["ProjectVersionArn"]
        )
        clock.advance(1)
    assert arns[2].endswith(f"/shop/version/v3/{START_MS + 1000}")
    first = rekognition.describe_project_versions(ProjectArn=project_arn, MaxResults=2)
    listed = [d["ProjectVersionArn"] for d in first["ProjectVersionDescriptions"]]
    assert listed == [arns[2], arns[1]]  # newest first
    rest = rekognition.describe_project_versions(
        ProjectArn=project_arn, MaxResults=2, NextToken=first["NextToken"]
    )
    assert [d["ProjectVersionArn"] for d in rest["ProjectVersionDescriptions"]] == [arns[0]]
    assert "NextToken" not in rest
    named = rekognition.describe_project_versions(
        ProjectArn=project_arn, VersionNames=["v1", "nope"]
    )["ProjectVersionDescriptions"]
    assert [d["ProjectVersionArn"] for d in named] == [arns[0]]
    assert named[0]["Status"] == "TRAINING_COMPLETED"
    assert named[0]["CreationTimestamp"] == CREATED
    assert "MinInferenceUnits" not in named[0]
    with pytest.raises(rekognition.exceptions.InvalidPaginationTokenException):
        rekognition.describe_project_versions(ProjectArn=project_arn, NextToken="bad")
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.describe_project_versions(ProjectArn=project_arn.replace("shop", "shed"))


# --- running models and billing ---------------------------------------------------------------


def test_lifecycle_follows_the_clock_and_bills_running_time(
    rekognition: Any, engine: RekognitionEngine, clock: LocalClock, s3: Any
) -> None:
    _, version_arn = engine.create_trained_version(
        "shop", "v1", _small_manifest(s3), created_at=CREATED
    )
    assert version_arn == (
        f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/shop/version/v1/{CREATED_MS}"
    )
    assert _describe(rekognition, version_arn)["Status"] == "TRAINING_COMPLETED"
    with pytest.raises(rekognition.exceptions.InvalidParameterException):
        rekognition.stop_project_version(ProjectVersionArn=version_arn)

    started = rekognition.start_project_version(ProjectVersionArn=version_arn, MinInferenceUnits=2)
    assert started["Status"] == "STARTING"
    with pytest.raises(rekognition.exceptions.ResourceNotReadyException):
        rekognition.detect_custom_labels(
            ProjectVersionArn=version_arn, Image=_image(s3, "incoming/mug-01.JPG")
        )
    clock.advance(599)
    assert _describe(rekognition, version_arn)["Status"] == "STARTING"
    clock.advance(1)
    running = _describe(rekognition, version_arn)
    assert (running["Status"], running["MinInferenceUnits"]) == ("RUNNING", 2)
    assert "MaxInferenceUnits" not in running
    assert engine.inference_units(version_arn) == 2
    with pytest.raises(rekognition.exceptions.ResourceInUseException):
        rekognition.start_project_version(ProjectVersionArn=version_arn, MinInferenceUnits=1)

    clock.advance(3600)
    assert rekognition.stop_project_version(ProjectVersionArn=version_arn)["Status"] == "STOPPING"
    with pytest.raises(rekognition.exceptions.ResourceNotReadyException):
        rekognition.detect_custom_labels(
            ProjectVersionArn=version_arn, Image=_image(s3, "incoming/mug-01.JPG")
        )
    with pytest.raises(rekognition.exceptions.ResourceInUseException):
        rekognition.start_project_version(ProjectVersionArn=version_arn, MinInferenceUnits=1)
    clock.advance(119)
    assert _describe(rekognition, version_arn)["Status"] == "STOPPING"
    clock.advance(1)
    assert _describe(rekognition, version_arn)["Status"] == "STOPPED"
    # One hour at two units: 7,200 inference-unit-seconds, 2 inference hours.
    assert engine.usage.inference_unit_seconds(version_arn) == pytest.approx(7200, abs=0.01)
    assert engine.usage.billed_inference_minutes(version_arn) == 120

    rekognition.start_project_version(ProjectVersionArn=version_arn, MinInferenceUnits=1)
    clock.advance(600 + 90)
    assert engine.usage.inference_unit_seconds(version_arn) == pytest.approx(7290, abs=0.01)
    rekognition.stop_project_version(ProjectVersionArn=version_arn)
    clock.advance(1000)
    # The second run's 90 seconds are billed as 2 minutes; starting and stopping are free.
    assert engine.usage.inference_unit_seconds() == pytest.approx(7290, abs=0.01)
    assert engine.usage.billed_inference_minutes() == 122
    assert [(s.run, s.units, round(s.end - s.start)) for s in engine.usage.segments()] == [
        (1, 2, 3600),
        (2, 1, 90),
    ]


def test_only_idle_versions_can_be_deleted(
    rekognition: Any, engine: RekognitionEngine, clock: LocalClock, s3: Any
) -> None:
    version_arn = _running(engine, rekognition, clock, s3)
    with pytest.raises(rekognition.exceptions.ResourceInUseException):
        rekognition.delete_project_version(ProjectVersionArn=version_arn)
    rekognition.stop_project_version(ProjectVersionArn=version_arn)
    with pytest.raises(rekognition.exceptions.ResourceInUseException):
        rekognition.delete_project_version(ProjectVersionArn=version_arn)
    clock.advance(TIMINGS.stop_seconds)
    assert rekognition.delete_project_version(ProjectVersionArn=version_arn)["Status"] == "DELETING"
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.detect_custom_labels(
            ProjectVersionArn=version_arn, Image=_image(s3, "incoming/mug-01.JPG")
        )


def test_a_start_can_be_made_to_fail(
    rekognition: Any, engine: RekognitionEngine, clock: LocalClock, s3: Any
) -> None:
    _, version_arn = engine.create_trained_version(
        "shop", "v1", _small_manifest(s3), created_at=CREATED
    )
    engine.fail_next_start("Not enough capacity in the Availability Zones.")
    rekognition.start_project_version(ProjectVersionArn=version_arn, MinInferenceUnits=1)
    clock.advance(TIMINGS.start_seconds)
    failed = _describe(rekognition, version_arn)
    assert (failed["Status"], failed["StatusMessage"]) == (
        "FAILED",
        "Not enough capacity in the Availability Zones.",
    )
    assert engine.usage.inference_unit_seconds(version_arn) == 0
    rekognition.start_project_version(ProjectVersionArn=version_arn, MinInferenceUnits=1)
    clock.advance(TIMINGS.start_seconds)
    assert _describe(rekognition, version_arn)["Status"] == "RUNNING"


def test_min_confidence_and_max_results(
    rekognition: Any, engine: RekognitionEngine, clock: LocalClock, s3: Any
) -> None:
    _, version_arn = engine.create_trained_version(
        "shop",
        "v1",
        _manifest(s3, "manifests/all.jsonl", list(samples.training_images())),
        created_at=CREATED,
    )
    rekognition.start_project_version(ProjectVersionArn=version_arn, MinInferenceUnits=1)
    clock.advance(TIMINGS.start_seconds)

    def detect(**kwargs: Any) -> list[dict[str, Any]]:
        clock.advance(1)
        found = rekognition.detect_custom_labels(
            ProjectVersionArn=version_arn, Image=_image(s3, "incoming/plant-01.png"), **kwargs
        )
        return list(found["CustomLabels"])

    every = detect(MinConfidence=0)
    assert every[0]["Name"] == "plant"
    assert sorted(label["Name"] for label in every) == ["bottle", "mug", "plant"]
    confidences = [label["Confidence"] for label in every]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0 <= c <= 100 for c in confidences)
    assert all("Geometry" not in label for label in every)
    # Without MinConfidence each label is held to its assumed threshold: only the plant passes.
    assert [label["Name"] for label in detect()] == ["plant"]
    assert detect(MinConfidence=confidences[0]) == every[:1]
    assert detect(MinConfidence=min(confidences[0] + 0.001, 100)) == []
    assert detect(MinConfidence=0, MaxResults=2) == every[:2]
    with open(SAMPLES / "incoming" / "plant-01.png", "rb") as image:
        clock.advance(1)
        as_bytes = rekognition.detect_custom_labels(
            ProjectVersionArn=version_arn, Image={"Bytes": image.read()}, MinConfidence=0
        )["CustomLabels"]
    assert as_bytes == every
    assert engine.usage.detect_calls[version_arn] == 6


def test_throughput_is_limited_per_inference_unit(
    rekognition: Any, engine: RekognitionEngine, clock: LocalClock, s3: Any
) -> None:
    version_arn = _running(engine, rekognition, clock, s3, units=2)
    image = _image(s3, "incoming/bottle-01.jpeg")
    for _ in range(10):  # 5 transactions per second per unit
        rekognition.detect_custom_labels(ProjectVersionArn=version_arn, Image=image)
    with pytest.raises(rekognition.exceptions.ProvisionedThroughputExceededException) as over:
        rekognition.detect_custom_labels(ProjectVersionArn=version_arn, Image=image)
    assert over.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    clock.advance(1)
    rekognition.detect_custom_labels(ProjectVersionArn=version_arn, Image=image)
    assert engine.usage.detect_calls[version_arn] == 11
    assert engine.usage.rejected_calls[version_arn] == 1
    assert engine.inference_units(version_arn) == 2  # no MaxInferenceUnits: no autoscaling


def test_autoscaling_adds_a_unit_under_sustained_load_and_removes_it_later(
    rekognition: Any, engine: RekognitionEngine, clock: LocalClock, s3: Any
) -> None:
    version_arn = _running(engine, rekognition, clock, s3, units=1, MaxInferenceUnits=2)
    image = {"Bytes": (SAMPLES / "incoming" / "mug-03.jpeg").read_bytes()}

    def burst(calls: int) -> int:
        rejected = 0
        for _ in range(calls):
            try:
                rekognition.detect_custom_labels(ProjectVersionArn=version_arn, Image=image)
            except rekognition.exceptions.ProvisionedThroughputExceededException:
                rejected += 1
        return rejected

    for _ in range(3):  # over capacity in three distinct seconds
        assert burst(6) == 1
        clock.advance(1)
    assert engine.inference_units(version_arn) == 1
    # The third second of pressure began 2 s after the start; the unit serves 300 s after it.
    clock.advance(TIMINGS.scale_out_seconds - 2)
    assert engine.inference_units(version_arn) == 1
    clock.advance(1)
    assert engine.inference_units(version_arn) == 2
    assert burst(11) == 1  # two units, and the maximum is reached
    clock.advance(TIMINGS.scale_in_seconds - 1)
    assert engine.inference_units(version_arn) == 2
    clock.advance(1)  # 900 s without needing the second unit
    assert engine.inference_units(version_arn) == 1
    clock.advance(98)
    rekognition.stop_project_version(ProjectVersionArn=version_arn)
    # 302 s at one unit, 900 s at two, 98 s at one: 2,200 inference-unit-seconds.
    assert engine.usage.inference_unit_seconds(version_arn) == pytest.approx(2200, abs=0.01)
    assert engine.usage.billed_inference_minutes(version_arn) == 37
    assert _describe(rekognition, version_arn)["MaxInferenceUnits"] == 2


# --- images -----------------------------------------------------------------------------------


def test_images_are_checked_as_documented(
    rekognition: Any, engine: RekognitionEngine, clock: LocalClock, s3: Any
) -> None:
    version_arn = _running(engine, rekognition, clock, s3, units=10)

    def error_of(image: dict[str, Any]) -> str:
        with pytest.raises(ClientError) as error:
            rekognition.detect_custom_labels(ProjectVersionArn=version_arn, Image=image)
        return _code(error)

    assert error_of(_image(s3, "poison/truncated.jpg")) == "InvalidImageFormatException"
    assert error_of(_image(s3, "poison/gif-named.png")) == "InvalidImageFormatException"
    assert error_of(_image(s3, "poison/too-wide.png")) == "ImageTooLargeException"
    assert error_of(_image(s3, "poison/tiny.png")) == "InvalidParameterException"
    poison_bytes = (SAMPLES / "poison" / "gif-named.png").read_bytes()
    assert error_of({"Bytes": poison_bytes}) == "InvalidImageFormatException"
    assert error_of(_image(s3, "incoming/missing.jpg")) == "InvalidS3ObjectException"
    assert error_of({"S3Object": {"Bucket": "no-such-bucket", "Name": "a.jpg"}}) == (
        "InvalidS3ObjectException"
    )
    # Image bytes: 4 MB at most (ImageTooLargeException); the model's 5 MB is a validation error.
    png_header = (SAMPLES / "incoming" / "plant-01.png").read_bytes()[:64]
    assert error_of({"Bytes": png_header.ljust(4 * 1024 * 1024 + 1, b"\0")}) == (
        "ImageTooLargeException"
    )
    unchecked = _client(engine, parameter_validation=False)
    with pytest.raises(ClientError) as too_big:
        unchecked.detect_custom_labels(
            ProjectVersionArn=version_arn,
            Image={"Bytes": png_header.ljust(5 * 1024 * 1024 + 1, b"\0")},
        )
    assert _code(too_big) == "ValidationException"
    both = {"Bytes": png_header, **_image(s3, "incoming/mug-01.JPG")}
    assert error_of(both) == "InvalidParameterException"
    # Every call that reached the model counts against its throughput; the invalid one did not.
    assert engine.usage.detect_calls[version_arn] == 9


def test_s3_images_are_read_with_the_callers_credentials(clock: LocalClock, s3: Any) -> None:
    asked: list[str | None] = []

    def s3_for_principal(principal: str | None) -> Any:
        asked.append(principal)
        return s3

    engine = RekognitionEngine(
        clock, lambda arn: pytest.fail("no role client expected"), s3_for_principal=s3_for_principal
    )
    role = f"arn:aws:iam::{ACCOUNT}:role/ImageClassifier"
    client = SESSION.client("rekognition", config=Config(retries={"total_max_attempts": 1}))
    register_on_client(client, engine, lambda request: CallContext(ACCOUNT, REGION, role))
    client.meta.events.unregister("before-send", botocore_stubber)
    version_arn = _running(engine, client, clock, s3)
    assert asked == [None]  # create_trained_version was called without a principal
    client.detect_custom_labels(
        ProjectVersionArn=version_arn, Image=_image(s3, "incoming/mug-01.JPG")
    )
    assert asked == [None, role]


# --- the API surface --------------------------------------------------------------------------


def test_requests_are_validated_against_the_model(engine: RekognitionEngine) -> None:
    unchecked = _client(engine, parameter_validation=False)
    version = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/shop/version/v1/{CREATED_MS}"
    calls = [
        lambda: unchecked.create_project(ProjectName="p" * 256),
        lambda: unchecked.describe_projects(MaxResults=101),
        lambda: unchecked.start_project_version(ProjectVersionArn=version, MinInferenceUnits=0),
        lambda: unchecked.start_project_version(ProjectVersionArn="arn:aws:s3:::bucket/key"),
        lambda: unchecked.detect_custom_labels(
            ProjectVersionArn=version, Image={"Bytes": b"x"}, MinConfidence=101
        ),
    ]
    for call in calls:
        with pytest.raises(ClientError) as error:
            call()
        assert _code(error) == "ValidationException"
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as missing:
        unchecked.detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": b"x"})
    assert _code(missing) == "ResourceNotFoundException"


def test_other_operations_are_unknown(rekognition: Any) -> None:
    with pytest.raises(ClientError) as error:
        rekognition.detect_labels(Image={"Bytes": b"image"})
    assert _code(error) == "UnknownOperationException"
    assert "DetectLabels" in error.value.response["Error"]["Message"]


def test_throttling_fault(rekognition: Any, engine: RekognitionEngine) -> None:
    engine.throttle_next(2)
    for _ in range(2):
        with pytest.raises(rekognition.exceptions.ThrottlingException) as error:
            rekognition.describe_projects()
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert rekognition.describe_projects()["ProjectDescriptions"] == []
