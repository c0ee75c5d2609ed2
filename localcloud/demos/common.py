"""What every demo does: find its stack, account for its items, check its calls against the
deployed IAM policies, download its results."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud


def find_stack(cloud: LocalCloud, prefix: str) -> str:
    """The first stack of the cloud assembly whose name starts with `prefix`."""
    names = [s.stack_name for s in cloud.assembly.stacks() if s.stack_name.startswith(prefix)]
    if not names:
        raise SystemExit(f"no {prefix}* stack in {cloud.assembly.directory}: run `make synth`")
    return sorted(names)[0]


def accounting(
    items_in: Iterable[str], outputs: Iterable[str], quarantined: Iterable[str]
) -> dict[str, int]:
    """What a run did with its input items, judged by what came out (one entry per copy found:
    a file written, a row in the warehouse), never by the workflow's own counters. Every item
    should come out once, as an output or quarantined with its reason: `lost` counts items that
    did not, `duplicated` the extra copies of those that came out more than once (including an
    item both written and quarantined), `unexpected` what came out that no input explains."""
    wanted = set(items_in)
    written, rejected = list(outputs), list(quarantined)
    copies = Counter(written) + Counter(rejected)
    return {
        "itemsIn": len(wanted),
        "outputs": len(set(written) & wanted),
        "quarantined": len(set(rejected) & wanted),
        "lost": len(wanted - set(copies)),
        "duplicated": sum(count - 1 for item, count in copies.items() if item in wanted),
        "unexpected": sum(count for item, count in copies.items() if item not in wanted),
    }


def download(s3: Any, bucket: str, prefixes: Iterable[str], out_dir: Path) -> list[Path]:
    """Copy every object under `prefixes` to `out_dir/<key>` (what a person opens after a run),
    replacing what an earlier run left there. A key that would land outside `out_dir` (`..`
    segments) is refused."""
    root = out_dir.resolve()
    written: list[Path] = []
    for prefix in prefixes:
        shutil.rmtree(out_dir / prefix, ignore_errors=True)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                if entry["Key"].endswith("/"):  # a folder marker from the console
                    continue
                target = (out_dir / entry["Key"]).resolve()
                if not target.is_relative_to(root):
                    raise ValueError(f"s3://{bucket}/{entry['Key']} has no place under {out_dir}")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read())
                written.append(target)
    return written


def least_privilege(cloud: LocalCloud, say: Callable[[str], None], *, unused: bool = True) -> None:
    """Check every call of the run against the deployed IAM policies and say what was found
    (with `unused`, also the grants no call of this run needed); a denied call fails the run."""
    from localcloud.core.iam_check import check

    report = check(cloud)
    line = (
        f"least privilege: {report.checked_calls} calls by {len(report.principals)} roles, "
        f"{len(report.denied)} denied"
    )
    say(f"{line}, {len(report.unused)} grants unused in this run" if unused else line)
    if report.denied:
        raise RuntimeError("calls outside the deployed IAM policies:\n" + report.format())


def narrator(progress: TextIO) -> Callable[[str], None]:
    """`say(message)`: one line of progress, with the seconds since the run started."""
    started = time.monotonic()

    def say(message: str) -> None:
        progress.write(f"[{time.monotonic() - started:6.2f}s] {message}\n")
        progress.flush()

    return say
