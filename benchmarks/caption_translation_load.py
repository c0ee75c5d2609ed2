"""Caption translation under load and chaos: 1,000 files uploaded in bursts, nothing lost.

Ten users each upload 100 caption files and then the trigger file, all at once, into one
deployed stack on the local cloud; the run is repeated with chaos on every AWS call. What
users find is then counted from the bucket alone, not from the workflow's own counters: every
file must be translated into every target language or quarantined with its reason (`lost`
counts the others), and taken by exactly one batch (`duplicated` counts files two batches
took). Reports files per second for both runs, side by side.

    .venv/bin/python -m benchmarks.caption_translation_load
"""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks._chaos import chaos_section, without_and_with_chaos
from lambdas.caption_translation.captions import format_timestamp
from localcloud.cloud import REPO_ROOT, LocalCloud
from localcloud.core.chaos import ChaosSettings

USERS = 10
FILES_PER_USER = 100
BAD_EVERY = 50  # one file in 50 is not a caption file, so quarantine is exercised too


def _file(user: int, number: int) -> tuple[str, bytes]:
    name = f"user-{user:02d}/episode-{number:03d}.vtt"
    if number % BAD_EVERY == 0:
        return name, b"\x00\x01binary, not captions"
    cues = []
    for cue in range(3):
        start = cue * 2_000
        cues.append(
            f"{format_timestamp(start)} --> {format_timestamp(start + 1_800)}\n"
            f"User {user} line {cue} of episode {number}."
        )
    return name, ("WEBVTT\n\n" + "\n\n".join(cues) + "\n").encode()


def _objects(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def run_once(assembly: Path, chaos: ChaosSettings | None) -> dict[str, Any]:
    with LocalCloud(assembly, chaos=chaos) as cloud:
        stack_name = next(
            s.stack_name
            for s in cloud.assembly.stacks()
            if s.stack_name.startswith("CaptionTranslation-")
        )
        stack = cloud.deploy(stack_name)
        bucket = str(stack.outputs["BucketName"])
        languages = str(stack.outputs["TargetLanguages"]).split(",")
        s3 = cloud.client("s3")
        files = {user: [_file(user, n) for n in range(FILES_PER_USER)] for user in range(USERS)}

        def upload(user: int) -> None:
            for name, data in files[user]:
                s3.put_object(Bucket=bucket, Key=f"input/{name}", Body=data)
            s3.put_object(Bucket=bucket, Key="input/triggerfile", Body=b"")

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=USERS) as pool:
            list(pool.map(upload, range(USERS)))
        # a file that arrived after its user's trigger was taken by a later trigger, or waits
        for _ in range(3):
            cloud.settle(timeout=1_800)
            if not _objects(s3, bucket, "input/"):
                break
            s3.put_object(Bucket=bucket, Key="input/triggerfile", Body=b"")
        cloud.settle(timeout=1_800)
        seconds = time.perf_counter() - started

        names = [name for user in files.values() for name, _ in user]
        outputs = set(_objects(s3, bucket, "output/"))
        quarantined = {key.removeprefix("failed/") for key in _objects(s3, bucket, "failed/")}
        taken: Counter[str] = Counter()
        for key in _objects(s3, bucket, "batches/"):
            if key.endswith("/manifest.json"):
                manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                taken.update(entry["name"] for entry in manifest["files"])
        translated = [
            n for n in names if all(f"output/{lang}/{n}" in outputs for lang in languages)
        ]
        lost = [n for n in names if n not in quarantined and n not in translated]
        return {
            "files": len(names),
            "translated": len(translated),
            "quarantined": len([n for n in names if n in quarantined]),
            "lost": len(lost),
            "duplicated": sum(1 for count in taken.values() if count > 1),
            "waiting": len(_objects(s3, bucket, "input/")),
            "batches": len(
                [k for k in _objects(s3, bucket, "batches/") if k.endswith("summary.json")]
            ),
            "seconds": round(seconds, 1),
            "files_per_second": round(len(names) / seconds, 1),
            "calls_failed_by_chaos": sum(cloud.calls_failed_by_chaos.values()) if chaos else 0,
        }


def run(assembly: Path = REPO_ROOT / "cdk.out") -> dict[str, Any]:
    return without_and_with_chaos(
        partial(run_once, assembly),
        "files_per_second",
        users=USERS,
        files_per_user=FILES_PER_USER,
    )


def markdown(result: dict[str, Any]) -> list[str]:
    return chaos_section(
        result,
        "## Caption translation under load and chaos",
        (
            f"{result['users']} users each upload {result['files_per_user']} caption files (one "
            f"in {BAD_EVERY} not a caption file) and then the trigger, at once; counted from the "
            f"bucket; measured {result['measured']}."
        ),
        (
            "| run | files | translated | quarantined | lost | duplicated | AWS calls failed | "
            "files/s |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ),
        lambda row: (
            f"{row['files']:,} | {row['translated']:,} | {row['quarantined']} | "
            f"{row['lost']} | {row['duplicated']} | {row['calls_failed_by_chaos']:,} | "
            f"{row['files_per_second']}"
        ),
        (
            f"Under chaos the workflow keeps {result['throughput_ratio']}x the throughput "
            "(retries with back-off cost time; nothing is lost)."
        ),
    )


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
