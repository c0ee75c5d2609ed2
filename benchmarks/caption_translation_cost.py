"""What alignment repair costs: Translate characters billed for the sample captions, run side
by side on the local cloud without faults and with merged, dropped and reordered segments.

Translate bills per source character, so re-translating suspect cues on their own is the
price of never misaligning a caption; this measures it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from localcloud.cloud import LocalCloud
from localcloud.demos.caption_translation import STACK_PREFIX
from localcloud.demos.common import find_stack
from localcloud.services.translate.engine import TranslateFaults

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "caption_translation"


def _run_once(assembly_dir: Path, faults: frozenset[str]) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as scratch,
        LocalCloud(assembly_dir, work_dir=Path(scratch)) as cloud,
    ):
        stack = cloud.deploy(find_stack(cloud, STACK_PREFIX))
        cloud.translate.faults = TranslateFaults(modes=faults)
        bucket = stack.outputs["BucketName"]
        s3 = cloud.client("s3")
        files = sorted(p for p in SAMPLES.glob("*") if p.suffix in (".vtt", ".srt"))
        for path in files:
            s3.put_object(Bucket=bucket, Key=f"input/{path.name}", Body=path.read_bytes())
        s3.put_object(Bucket=bucket, Key="input/triggerfile", Body=b"")
        cloud.settle()
        calls = [
            c
            for c in cloud.recorder.calls()
            if c.service == "translate" and c.operation == "TranslateText"
        ]
        return {
            "characters_billed": cloud.translate.usage.total_characters,
            "translate_text_calls": len(calls),
            "files": len(files),
        }


def run(assembly_dir: Path) -> dict[str, Any]:
    clean = _run_once(assembly_dir, frozenset())
    faulty = _run_once(assembly_dir, frozenset({"merge", "drop", "reorder"}))
    return {
        "without_faults": clean,
        "with_merge_drop_reorder": faulty,
        "characters_ratio": round(faulty["characters_billed"] / clean["characters_billed"], 3),
        "calls_ratio": round(faulty["translate_text_calls"] / clean["translate_text_calls"], 2),
    }
