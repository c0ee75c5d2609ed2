"""`python -m localcloud demo custom-labels-batch`: label a burst of images offline, paying for the
model only while it works.

Trains a Custom Labels model on the local engine from the sample Ground Truth manifest (the
model a user brings), deploys the CustomLabelsBatch stack with its ARNs, uploads the images as a
user would, lets the schedule fire, and waits until the run has stopped the model.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from localcloud.cloud import REPO_ROOT, LocalCloud
from localcloud.costs import local_run_cost
from localcloud.demos.common import accounting, download, find_stack, least_privilege, narrator

SAMPLES = REPO_ROOT / "samples" / "custom_labels_batch"
MODEL_BUCKET = "custom-labels-batch-models"
FAULTS = ("throttle", "corrupt")
# The model's running time is what this workflow is about, so the local clock runs slower than
# its default: the emulator's own overhead per state and per image, compressed 100 times rather
# than 1000, adds seconds rather than minutes to the metered time.
CLOCK_SPEED = 100.0


def _samples_module() -> Any:
    spec = importlib.util.spec_from_file_location("custom_labels_samples", SAMPLES / "generate.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot load samples/custom_labels_batch/generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upload_training_set(s3: Any) -> None:
    """The sample training images and their manifest, in the model bucket (`MODEL_BUCKET`)."""
    samples = _samples_module()
    s3.create_bucket(Bucket=MODEL_BUCKET)
    for _label, relative in samples.training_images():
        s3.put_object(
            Bucket=MODEL_BUCKET,
            Key=f"custom_labels_batch/{relative}",
            Body=(SAMPLES / relative).read_bytes(),
        )
    manifest = samples.manifest_for(MODEL_BUCKET, "custom_labels_batch")
    s3.put_object(
        Bucket=MODEL_BUCKET, Key="custom_labels_batch/manifest.jsonl", Body=manifest.encode()
    )


def train_sample_model(cloud: LocalCloud) -> tuple[str, str]:
    """The user's model: trained from the sample manifest, as in the Custom Labels console."""
    upload_training_set(cloud.client("s3"))
    return cloud.rekognition.create_trained_version(
        "products",
        "products.v1",
        f"s3://{MODEL_BUCKET}/custom_labels_batch/manifest.jsonl",
        created_at=cloud.clock.now(),
        principal=cloud.principals_user_arn,
    )


def deploy_with_model(cloud: LocalCloud) -> Any:
    project_arn, version_arn = train_sample_model(cloud)
    return cloud.deploy(
        find_stack(cloud, "CustomLabelsBatch-"),
        parameters={"ProjectArn": project_arn, "ProjectVersionArn": version_arn},
    )


def fire_schedule(cloud: LocalCloud) -> None:
    """Move the local clock to the next firing of the stack's schedule."""
    cloud.clock.advance(3600)


def run(
    assembly_dir: Path,
    out_dir: Path,
    images_dir: Path,
    faults: list[str],
    progress: TextIO = sys.stderr,
) -> dict[str, Any]:
    say = narrator(progress)

    with LocalCloud(
        assembly_dir, clock_speed=CLOCK_SPEED, work_dir=out_dir / ".localcloud"
    ) as cloud:
        stack = deploy_with_model(cloud)
        version_arn = stack.context.parameters["ProjectVersionArn"]
        say(f"trained model {version_arn.split('/')[3]} on the local engine; deployed {stack.name}")
        images = sorted(p for p in images_dir.iterdir() if p.is_file())
        if "corrupt" in faults:
            images += sorted((SAMPLES / "poison").iterdir())
        if "throttle" in faults:
            cloud.rekognition.throttle_next(5)
            say("Rekognition will throttle the next 5 calls")
        s3 = cloud.client("s3")
        source = stack.outputs["SourceBucketName"]
        for path in images:
            s3.put_object(Bucket=source, Key=f"uploads/{path.name}", Body=path.read_bytes())
        say(f"uploaded {len(images)} images to s3://{source}/uploads/")
        fire_schedule(cloud)
        say("the schedule fired")
        cloud.settle(timeout=600)
        final = stack.outputs["FinalBucketName"]
        keys = [
            entry["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=final)
            for entry in page.get("Contents", [])
        ]
        labelled = [k for k in keys if k.startswith("labels/")]
        # Quarantined images: a copy under failed/ and the reason under error-reports/
        # (docs/error-report.md).
        failed = [k for k in keys if k.startswith("error-reports/") and k.endswith(".json")]
        # Each upload, found in the final bucket: its labels/<key>.json, or its copy in failed/.
        items = accounting(
            [f"uploads/{path.name}" for path in images],
            [k.removeprefix("labels/").removesuffix(".json") for k in labelled],
            [k.removeprefix("failed/") for k in keys if k.startswith("failed/")],
        )
        download(s3, final, ("labels/", "failed/", "error-reports/"), out_dir)
        say(f"labels and quarantined images copied to {out_dir}")
        for key in labelled[:3]:
            record = json.loads(s3.get_object(Bucket=final, Key=key)["Body"].read())
            best = record["labels"][0] if record["labels"] else {"name": "-", "confidence": 0}
            say(f"{record['source']['key']}: {best['name']} ({best['confidence']:.1f}%)")
        for key in failed:
            record = json.loads(s3.get_object(Bucket=final, Key=key)["Body"].read())
            say(f"quarantined {record['source']['key']}: {record['reason']}")
        status = cloud.client("rekognition").describe_project_versions(
            ProjectArn=stack.context.parameters["ProjectArn"],
            VersionNames=[version_arn.split("/")[3]],
        )["ProjectVersionDescriptions"][0]["Status"]
        billed = cloud.rekognition.usage.inference_unit_seconds(version_arn)
        say(f"model {status}; {billed:.0f} inference-unit-seconds billed")
        least_privilege(cloud, say)
        return {
            "workflow": "custom_labels_batch",
            "images_in": len(images),
            "labelled": len(labelled),
            "failed": len(failed),
            "items": items,
            "model_status_after": status,
            "billed_inference_unit_seconds": round(billed),
            "costUsd": local_run_cost(
                cloud,
                leave_out={
                    "rekognition.customLabelsTrainingHour": "training the sample model stands "
                    "in for the model a user brings; the workflow trains nothing"
                },
            ),
        }
