"""`python -m localcloud demo comprehend-model-lifecycle`: three training rounds, offline.

Deploys the ComprehendModelLifecycle stack, uploads the initial training data (first round: the
candidate becomes the live model), then a batch that improves the model (promoted), then a batch
with mostly wrong labels (the live model is kept), each as a user would, under `train/`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from localcloud.alarms import is_alarm_notification
from localcloud.cloud import REPO_ROOT, LocalCloud
from localcloud.costs import local_run_cost
from localcloud.demos.caption_translation import find_stack
from localcloud.iam_check import check

SAMPLES = REPO_ROOT / "samples" / "comprehend_model_lifecycle"
UPLOADS = ("initial.csv", "improving.csv", "degrading.csv")


def run(assembly_dir: Path, out_dir: Path, progress: TextIO = sys.stderr) -> dict[str, Any]:
    started = time.monotonic()

    def say(message: str) -> None:
        progress.write(f"[{time.monotonic() - started:6.2f}s] {message}\n")
        progress.flush()

    with LocalCloud(assembly_dir, work_dir=out_dir / ".localcloud") as cloud:
        stack = cloud.deploy(find_stack(cloud, "ComprehendModelLifecycle-"))
        say(f"deployed {stack.name} on the local cloud")
        bucket = stack.outputs["TrainingBucketName"]
        topic = stack.outputs["NotificationTopicArn"]
        s3 = cloud.client("s3")
        rounds: list[dict[str, Any]] = []
        metric = "F1"
        for name in UPLOADS:
            seen = len(cloud.notifications)
            s3.put_object(Bucket=bucket, Key=f"train/{name}", Body=(SAMPLES / name).read_bytes())
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
        report = check(cloud)
        say(
            f"least privilege: {report.checked_calls} calls by {len(report.principals)} roles, "
            f"{len(report.denied)} denied, {len(report.unused)} grants unused in this run"
        )
        if report.denied:
            raise RuntimeError("calls outside the deployed IAM policies:\n" + report.format())
        return {
            "workflow": "comprehend_model_lifecycle",
            "metric": metric,
            "rounds": rounds,
            "costUsd": local_run_cost(cloud),
        }
