"""Custom Labels batch under load and chaos: 1,000 images uploaded in bursts, each labelled once.

Ten users each upload 100 different images (drawn by the samples' generator, one in 50 cut in
half so Rekognition cannot read it) at once into one deployed CustomLabelsBatch stack on the
local cloud, then the hourly schedule fires; the run is repeated with chaos on every AWS call.
What users find is then counted from the buckets alone, not from the workflow's own counters:

* labelled: a `labels/<key>.json` in the final bucket, and no quarantined copy;
* quarantined: a copy under `failed/` and its error report (with a reason) under
  `error-reports/`;
* lost: neither, wherever the image is (still in the source bucket counts as lost too);
* duplicated: an image both labelled and quarantined, or whose labels JSON was written more
  than once (the final bucket is versioned: more than one version of `labels/<key>.json`).

Independently of the outputs, the local Rekognition engine's answers are counted per image
(successful `DetectCustomLabels` calls that reached it), to show how often chaos made the
workflow label an image again. Also reported: the runs of the model and the inference-unit
seconds the engine billed, the model's status at the end (it must be STOPPED) and images per
second (wall time from the first upload until nothing is in flight). The local clock runs 100
times faster than real time, as in the demo, so the hourly schedule fires by itself every 36
wall seconds; the benchmark also moves the clock to the next firing after the uploads, and
again while images are still waiting in the source bucket (`SCHEDULE_FIRINGS` times at most).

    .venv/bin/python -m benchmarks.custom_labels_batch_load
"""

from __future__ import annotations

import io
import json
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks._chaos import chaos_section, without_and_with_chaos
from localcloud.cloud import REPO_ROOT, LocalCloud
from localcloud.core.chaos import ChaosSettings
from localcloud.demos.custom_labels_batch import (
    CLOCK_SPEED,
    _samples_module,
    deploy_with_model,
    fire_schedule,
)

USERS = 10
IMAGES_PER_USER = 100
BAD_EVERY = 50  # one image in 50 is truncated, so quarantine is exercised too
SEED = 7_000_000  # far from the seeds the samples' own images are drawn with
SCHEDULE_FIRINGS = 3  # an image a run could not finish waits for the next firing


def _images(users: int, per_user: int) -> dict[int, list[tuple[str, bytes]]]:
    """Distinct images per user: every key holds different bytes."""
    samples = _samples_module()
    classes = samples.CLASSES
    images: dict[int, list[tuple[str, bytes]]] = {}
    for user in range(users):
        images[user] = []
        for number in range(per_user):
            index = user * per_user + number
            suffix = ".png" if index % 3 == 0 else ".jpg"
            picture = samples.draw_image(classes[index % len(classes)], SEED + index)
            buffer = io.BytesIO()
            picture.save(buffer, format="PNG" if suffix == ".png" else "JPEG", quality=85)
            data = buffer.getvalue()
            if number % BAD_EVERY == BAD_EVERY - 1:
                data = data[: len(data) // 2]  # truncated: unreadable
            images[user].append((f"user-{user:02d}/image-{number:03d}{suffix}", data))
    return images


def _keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def _versions(s3: Any, bucket: str, prefix: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        counts.update(item["Key"] for item in page.get("Versions", []))
    return counts


class _Detections:
    """Successful DetectCustomLabels answers of the local engine, per source key."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.per_key: Counter[str] = Counter()
        self._lock = threading.Lock()
        engine = cloud.rekognition
        handle = engine.handle

        def counted(operation: str, params: dict[str, Any], ctx: Any) -> dict[str, Any]:
            answer = handle(operation, params, ctx)
            if operation == "DetectCustomLabels":
                with self._lock:
                    self.per_key[params["Image"]["S3Object"]["Name"]] += 1
            return answer

        engine.handle = counted


def run_once(
    assembly: Path, chaos: ChaosSettings | None, users: int, per_user: int
) -> dict[str, Any]:
    files = _images(users, per_user)
    with (
        tempfile.TemporaryDirectory() as scratch,
        LocalCloud(assembly, clock_speed=CLOCK_SPEED, work_dir=Path(scratch), chaos=chaos) as cloud,
    ):
        stack = deploy_with_model(cloud)
        version_arn = str(stack.context.parameters["ProjectVersionArn"])
        detections = _Detections(cloud)
        source = str(stack.outputs["SourceBucketName"])
        final = str(stack.outputs["FinalBucketName"])
        s3 = cloud.client("s3")

        def upload(user: int) -> None:
            for name, data in files[user]:
                s3.put_object(Bucket=source, Key=f"uploads/{name}", Body=data)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=users) as pool:
            list(pool.map(upload, range(users)))
        firings = 0
        for _ in range(SCHEDULE_FIRINGS):
            fire_schedule(cloud)
            firings += 1
            cloud.settle(timeout=1_800)
            if not _keys(s3, source, "uploads/"):
                break
        seconds = time.perf_counter() - started

        uploads = [f"uploads/{name}" for user in files.values() for name, _ in user]
        unreadable = {
            f"uploads/{name}"
            for user in files.values()
            for number, (name, _) in enumerate(user)
            if number % BAD_EVERY == BAD_EVERY - 1
        }
        final_keys = set(_keys(s3, final))
        labelled = {u for u in uploads if f"labels/{u}.json" in final_keys}
        copies = {u for u in uploads if f"failed/{u}" in final_keys}
        reasons: dict[str, str] = {}
        for upload_key in copies:
            report_key = f"error-reports/{upload_key}.json"
            if report_key in final_keys:
                report = json.loads(s3.get_object(Bucket=final, Key=report_key)["Body"].read())
                if report.get("reason"):
                    reasons[upload_key] = report["reason"]
        quarantined = {u for u in copies if u in reasons}
        label_versions = _versions(s3, final, "labels/")
        written_twice = {u for u in labelled if label_versions[f"labels/{u}.json"] > 1}
        both = labelled & copies
        lost = [u for u in uploads if u not in labelled and u not in quarantined]
        status = cloud.rekognition.status_of(version_arn)
        usage = cloud.rekognition.usage
        billed = usage.inference_unit_seconds(version_arn)
        return {
            "images": len(uploads),
            "unreadable_uploaded": len(unreadable),
            "labelled_once": len(labelled - both - written_twice),
            "quarantined": len(quarantined - both),
            "quarantined_unreadable": len(quarantined & unreadable),
            "lost": len(lost),
            "duplicated": len(both | written_twice),
            "detected_more_than_once": sum(1 for n in detections.per_key.values() if n > 1),
            "detect_calls_answered": sum(detections.per_key.values()),
            "left_in_source": len(_keys(s3, source, "uploads/")),
            "schedule_firings": firings,
            "model_runs": len({segment.run for segment in usage.segments(version_arn)}),
            "model_status_at_end": status,
            "billed_inference_unit_seconds": round(billed, 1),
            "seconds": round(seconds, 1),
            "images_per_second": round(len(uploads) / seconds, 2),
            "calls_failed_by_chaos": sum(cloud.calls_failed_by_chaos.values()) if chaos else 0,
        }


def run(
    assembly: Path = REPO_ROOT / "cdk.out",
    users: int = USERS,
    images_per_user: int = IMAGES_PER_USER,
) -> dict[str, Any]:
    return without_and_with_chaos(
        lambda chaos: run_once(assembly, chaos, users, images_per_user),
        "images_per_second",
        users=users,
        images_per_user=images_per_user,
        clock_speed=CLOCK_SPEED,
    )


def markdown(result: dict[str, Any]) -> list[str]:
    return chaos_section(
        result,
        "## Custom Labels batch under load and chaos",
        (
            f"{result['users']} users each upload {result['images_per_user']} different images "
            f"(one in {BAD_EVERY} truncated, unreadable) at once, then the hourly schedule fires; "
            f"local clock at {result['clock_speed']:g}x; counted from the buckets (duplicated: "
            "labelled and quarantined, or the labels JSON written more than once); measured "
            f"{result['measured']}."
        ),
        (
            "| run | images | labelled once | quarantined | lost | duplicated | "
            "detected again | model runs | IU-seconds billed | model at end | AWS calls failed | "
            "images/s |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
        ),
        lambda row: (
            f"{row['images']:,} | {row['labelled_once']:,} | {row['quarantined']} | "
            f"{row['lost']} | {row['duplicated']} | {row['detected_more_than_once']} | "
            f"{row['model_runs']} | {row['billed_inference_unit_seconds']:,} | "
            f"{row['model_status_at_end']} | {row['calls_failed_by_chaos']:,} | "
            f"{row['images_per_second']}"
        ),
        (
            "Detected again: images the local Rekognition engine answered more than once (a "
            "delivery retried after a failure), counted by the engine, not the workflow. Model "
            "runs: the stack's runtime budget bounds a run in polls of the queue; on the emulator "
            f"{result['users'] * result['images_per_user']:,} images outlast it, and what is left "
            "waits for the next firing. The "
            "inference-unit seconds are on the local clock: the emulator's own time per image "
            f"(in-process handlers, moto), run {result['clock_speed']:g} times faster, counts as "
            "running time too, so they measure this emulation rather than what AWS would bill "
            "(the section above models that). Absolute rates depend on the machine's load; the two "
            f"rows ran one after the other. Under chaos the workflow keeps "
            f"{result['throughput_ratio']}x the throughput."
        ),
    )


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
