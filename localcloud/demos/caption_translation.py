"""`python -m localcloud demo captions`: translate a folder of caption files offline.

Deploys the CaptionTranslation stack from `cdk.out`, uploads the files under `input/` and then
the trigger file (as a user would), waits for the batch to finish, and copies what the workflow
wrote to `<out>/output/<lang>/<name>` and `<out>/failed/<name>` (+ `.error.json`).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from localcloud.cloud import LocalCloud
from localcloud.costs import local_run_cost
from localcloud.demos.common import accounting, download, find_stack, least_privilege, narrator

STACK_PREFIX = "CaptionTranslation-"


@dataclass
class CaptionDemoResult:
    files_in: int
    outputs: int
    failed: int
    cues_in: int
    cues_out: int
    batch_id: str
    execution_status: str
    seconds: float
    cost_usd: dict[str, Any] | None = None
    items: dict[str, int] | None = None

    def as_line(self) -> dict[str, Any]:
        return {
            "workflow": "caption_translation",
            "files_in": self.files_in,
            "outputs": self.outputs,
            "failed": self.failed,
            "cues_in": self.cues_in,
            "cues_out": self.cues_out,
            "items": self.items,
            "costUsd": self.cost_usd,
        }


def run(
    input_dir: Path,
    out_dir: Path,
    source: str,
    targets: list[str],
    faults: list[str],
    assembly_dir: Path,
    progress: TextIO = sys.stderr,
) -> CaptionDemoResult:
    from localcloud.services.translate.engine import TranslateFaults

    files = sorted(p for p in input_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise SystemExit(f"no files in {input_dir}")
    started = time.monotonic()
    say = narrator(progress)

    with LocalCloud(assembly_dir, work_dir=out_dir / ".localcloud") as cloud:
        stack = cloud.deploy(find_stack(cloud, STACK_PREFIX))
        say(f"deployed {stack.name} on the local cloud")
        if faults:
            cloud.translate.faults = TranslateFaults(modes=frozenset(faults))
            say(f"Translate fault modes: {', '.join(faults)}")
        bucket = stack.outputs["BucketName"]
        s3 = cloud.client("s3")
        for path in files:
            name = path.relative_to(input_dir).as_posix()
            s3.put_object(Bucket=bucket, Key=f"input/{name}", Body=path.read_bytes())
        say(f"uploaded {len(files)} files to s3://{bucket}/input/")
        trigger = json.dumps({"sourceLanguage": source, "targetLanguages": targets}).encode()
        s3.put_object(Bucket=bucket, Key="input/triggerfile", Body=trigger)
        say(f"uploaded the trigger file: {source} -> {', '.join(targets)}")
        _wait_with_progress(cloud, say)
        summary = _run_summary(cloud, stack.outputs["StateMachineArn"])
        say(f"batch {summary['batchId']} finished ({summary['mode']}): {summary['subject']}")
        say(
            f"{summary['cuesOut']} cues written; {summary['retranslatedCues']} re-translated on "
            f"their own after Translate merged, dropped or reordered segments"
        )
        for failure in summary["failures"]:
            say(f"quarantined {failure['file']}: {failure['error']}: {failure['reason']}")
        for warning in summary["warnings"]:
            say(f"warning: {warning}")
        download(cloud.client("s3"), bucket, ("output/", "failed/"), out_dir)
        say(f"results copied to {out_dir}/output and {out_dir}/failed")
        names = [path.relative_to(input_dir).as_posix() for path in files]
        items = caption_accounting(out_dir, names, targets)
        say(
            f"{items['outputs']} of {items['itemsIn']} files translated, "
            f"{items['quarantined']} quarantined, {items['lost']} lost, "
            f"{items['duplicated']} duplicated"
        )
        least_privilege(cloud, say)
        return CaptionDemoResult(
            files_in=summary["filesIn"],
            outputs=summary["outputs"],
            failed=summary["failed"],
            cues_in=summary["cuesIn"],
            cues_out=summary["cuesOut"],
            batch_id=summary["batchId"],
            execution_status=summary.get("_status", "SUCCEEDED"),
            seconds=time.monotonic() - started,
            cost_usd=local_run_cost(cloud),
            items=items,
        )


def caption_accounting(out_dir: Path, names: list[str], targets: list[str]) -> dict[str, int]:
    """Each uploaded file, found in what the run wrote: translated when every target language
    has it under output/<lang>/ (its extension may change with its real format), quarantined
    when failed/ holds it (under its safe name when the name has a path trick)."""
    from lambdas.caption_translation.layout import CAPTION_EXTENSIONS
    from lambdas.shared.keys import safe_name

    def stem(name: str) -> str:
        root, dot, extension = name.rpartition(".")
        return root if dot and f".{extension.lower()}" in CAPTION_EXTENSIONS else name

    by_stem = {stem(safe_name(name)): name for name in names}

    def written(root: Path) -> list[str]:
        if not root.is_dir():
            return []
        found = (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        return [name for name in found if not name.endswith(".report.json")]

    per_language = [
        [by_stem.get(stem(name), name) for name in written(out_dir / "output" / language)]
        for language in targets
    ]
    outputs = []
    for name in names:
        counts = [copies.count(name) for copies in per_language]
        if counts and min(counts) > 0:  # translated into every language; a second copy in
            outputs.extend([name] * max(counts))  # any language is a duplicate
    by_safe_name = {safe_name(name): name for name in names}
    quarantined = [by_safe_name.get(name, name) for name in written(out_dir / "failed")]
    return accounting(names, outputs, quarantined)


def _wait_with_progress(cloud: LocalCloud, say: Any) -> None:
    seen: set[str] = set()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        for name, _event, _result in list(cloud.runtime.invocations):
            short = name.split("-")[2] if name.count("-") >= 2 else name
            if short not in seen:
                seen.add(short)
                say(f"{short[:40]} ran")
        try:
            cloud.settle(timeout=0.5)
            return
        except TimeoutError:
            continue
    raise TimeoutError("the batch did not finish within 10 minutes")


def _run_summary(cloud: LocalCloud, state_machine_arn: str) -> dict[str, Any]:
    """The batches this run started, as one summary. Uploading the trigger file twice starts
    two batches (each upload is a new version of the trigger), and so does an upload the SDK
    retried after its response was lost (`--chaos-after-effect`); a later batch finds the files
    the first one took and has nothing to do. Batches with no input file are left out of the
    summary unless every batch had none."""
    sfn = cloud.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
    if not executions:
        raise RuntimeError("the trigger did not start a batch")
    summaries: list[dict[str, Any]] = []
    for execution in sorted(executions, key=lambda e: e["startDate"]):
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "SUCCEEDED":
            raise RuntimeError(
                f"batch {execution['name']} ended {described['status']}: "
                f"{described.get('error')}: {described.get('cause')}"
            )
        summaries.append(json.loads(described["output"]))
    with_files = [summary for summary in summaries if summary.get("filesIn")]
    if len(with_files) <= 1:
        return (with_files or summaries)[-1]
    combined = dict(with_files[0])
    combined["batchId"] = ", ".join(summary["batchId"] for summary in with_files)
    combined["mode"] = ", ".join(dict.fromkeys(summary["mode"] for summary in with_files))
    combined["subject"] = f"{len(with_files)} batches"
    for name in ("filesIn", "outputs", "failed", "cuesIn", "cuesOut", "retranslatedCues"):
        combined[name] = sum(summary.get(name, 0) for summary in with_files)
    for name in ("failures", "warnings"):
        combined[name] = [item for summary in with_files for item in summary.get(name, [])]
    return combined
