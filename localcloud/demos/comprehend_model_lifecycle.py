"""`python -m localcloud demo comprehend-model-lifecycle`: three training rounds, offline.

Deploys the ComprehendModelLifecycle stack, uploads the initial training data (first round: the
candidate becomes the live model), then a batch that improves the model (promoted), then a batch
with mostly wrong labels (the live model is kept), each as a user would, under `train/`.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from localcloud.cloud import REPO_ROOT, LocalCloud
from localcloud.core.alarms import is_alarm_notification
from localcloud.costs import local_run_cost
from localcloud.demos.common import accounting, download, find_stack, least_privilege, narrator
from localcloud.demos.review import text_key

SAMPLES = REPO_ROOT / "samples" / "comprehend_model_lifecycle"
UPLOADS = ("initial.csv", "improving.csv", "degrading.csv")
SAMPLE_UPLOADS = tuple(SAMPLES / name for name in UPLOADS)
# Where a training row ends up (lambdas/comprehend_model_lifecycle/layout.py): the ground truth
# once a candidate trained on it wins, the carried rows while it waits for a better candidate.
TRAINING_DATA = ("ground-truth/ground-truth.csv", "carried/carried.csv")


def csv_documents(data: bytes) -> list[str]:
    """The document keys of a `label,text` CSV file (no header), one per row."""
    rows = csv.reader(io.StringIO(data.decode("utf-8-sig", "replace")))
    return [text_key(row[1]) for row in rows if len(row) == 2 and row[1].strip()]


def training_data_accounting(
    s3: Any,
    bucket: str,
    items_in: list[str],
    others: frozenset[str] = frozenset(),
    waiting: list[str] | None = None,
) -> dict[str, int]:
    """Each document of `items_in`, found in the training data: in the ground truth or the
    carried rows once (duplicated if both hold it), or its upload quarantined under failed/,
    or `waiting` in a failure queue with its reason. `others` are documents known to come from
    elsewhere (not this run's items, not unexpected); anything else found is `unexpected`."""
    found: list[str] = []
    for key in TRAINING_DATA:
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            continue
        found += csv_documents(body)
    rejected: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="failed/"):
        for entry in page.get("Contents", []):
            rejected += csv_documents(s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read())
    # A document waiting in a failure queue counts only if no other copy made it through.
    rejected += sorted({k for k in waiting or [] if k in set(items_in)} - set(found))
    return accounting(
        items_in, [k for k in found if k not in others], [k for k in rejected if k not in others]
    )


def run(
    assembly_dir: Path,
    out_dir: Path,
    uploads: Sequence[Path] = SAMPLE_UPLOADS,
    progress: TextIO = sys.stderr,
) -> dict[str, Any]:
    """One training round per file of `uploads` (Comprehend's `label,text` CSV), in order."""
    say = narrator(progress)

    with LocalCloud(assembly_dir, work_dir=out_dir / ".localcloud") as cloud:
        stack = cloud.deploy(find_stack(cloud, "ComprehendModelLifecycle-"))
        say(f"deployed {stack.name} on the local cloud")
        bucket = stack.outputs["TrainingBucketName"]
        topic = stack.outputs["NotificationTopicArn"]
        s3 = cloud.client("s3")
        rounds: list[dict[str, Any]] = []
        metric = "F1"
        for path in uploads:
            name = path.name
            seen = len(cloud.notifications)
            s3.put_object(Bucket=bucket, Key=f"train/{name}", Body=path.read_bytes())
            say(f"uploaded train/{name}; a training round starts")
            cloud.settle(timeout=600)
            notices = [
                n
                for n in cloud.notifications[seen:]
                if n["TopicArn"] == topic and not is_alarm_notification(n)  # alarms share it
            ]
            if not notices:
                raise RuntimeError(f"no notification after uploading {name}")
            message = notices[-1]["Message"]
            if not message.startswith("{"):
                raise RuntimeError(f"the round for {name} failed: {message}")
            evaluation = json.loads(message)
            metric = evaluation["metric"]
            rounds.append(
                {
                    "current": evaluation["currentValue"],
                    "candidate": evaluation["candidateValue"],
                    "decision": evaluation["decision"],
                }
            )
            say(f"{name}: {evaluation['decision']} ({evaluation['reason']})")
        ssm = cloud.client("ssm")
        live = ssm.get_parameter(Name=stack.outputs["ClassifierParameterName"])["Parameter"]
        endpoint = ssm.get_parameter(Name=stack.outputs["EndpointParameterName"])["Parameter"]
        say(f"live model {live['Value'].rsplit('/', 1)[-1]} behind {endpoint['Value']}")
        text = "Striker scores twice as the home side wins the cup final"
        answer = cloud.client("comprehend").classify_document(
            Text=text, EndpointArn=endpoint["Value"]
        )
        say(f"ClassifyDocument({text!r}) -> {answer['Classes'][0]['Name']}")
        least_privilege(cloud, say)
        download(s3, bucket, ("ground-truth/", "carried/", "failed/", "error-reports/"), out_dir)
        say(f"training data and quarantined uploads copied to {out_dir}")
        uploaded = [k for path in uploads for k in csv_documents(path.read_bytes())]
        items = training_data_accounting(s3, bucket, uploaded)
        say(f"training data: {items['outputs']} of {items['itemsIn']} uploaded rows, "
            f"{items['quarantined']} quarantined, {items['lost']} lost")  # fmt: skip
        return {
            "workflow": "comprehend_model_lifecycle",
            "metric": metric,
            "rounds": rounds,
            "items": items,
            "costUsd": local_run_cost(cloud),
        }
