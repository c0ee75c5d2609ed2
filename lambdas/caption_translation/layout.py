"""Where everything lives in the captions bucket.

input/<name>                         files waiting for a batch, and the trigger file
batches/<id>/manifest.json           the files a batch took, with their exact versions
batches/<id>/source/<name>           the batch's copy of each source file
batches/<id>/plan.json               validation results and how the batch is translated
batches/<id>/translate-input/...     HTML documents for batch translation jobs
batches/<id>/translate-output/...    what the jobs write
batches/<id>/summary.json            the batch's outcome (also sent to SNS)
batches/claims/<digest>              which batch took which input version
output/<lang>/<name>                 translated caption files
output/<lang>/<name>.report.json     its reading report: cues over the reading profile, cues
                                     translated without their sentence's context
failed/<name>                        rejected files, byte for byte
error-reports/<name>.json            why each was rejected (lambdas/shared/quarantine.py)

A name with a path trick (`..`, see lambdas/shared/keys.py) never becomes part of a key: the
batch's copy and the quarantined files use its safe name.
"""

from __future__ import annotations

import hashlib

from lambdas.shared.keys import check_name, safe_name

INPUT_PREFIX = "input/"
BATCHES_PREFIX = "batches/"
OUTPUT_PREFIX = "output/"
CAPTION_EXTENSIONS = (".vtt", ".srt")


def input_name(key: str) -> str:
    """The file's name relative to `input/` (sub-folders are kept)."""
    if not key.startswith(INPUT_PREFIX):
        raise ValueError(f"{key} is not under {INPUT_PREFIX}")
    return key[len(INPUT_PREFIX) :]


def batch_prefix(batch_id: str) -> str:
    return f"{BATCHES_PREFIX}{batch_id}/"


def manifest_key(batch_id: str) -> str:
    return f"{batch_prefix(batch_id)}manifest.json"


def plan_key(batch_id: str) -> str:
    return f"{batch_prefix(batch_id)}plan.json"


def summary_key(batch_id: str) -> str:
    return f"{batch_prefix(batch_id)}summary.json"


def source_key(batch_id: str, name: str) -> str:
    return f"{batch_prefix(batch_id)}source/{safe_name(name)}"


def translate_input_prefix(batch_id: str) -> str:
    return f"{batch_prefix(batch_id)}translate-input/"


def translate_output_prefix(batch_id: str) -> str:
    return f"{batch_prefix(batch_id)}translate-output/"


def claim_key(input_key: str, version_id: str | None) -> str:
    digest = hashlib.sha256(f"{input_key}\0{version_id or 'null'}".encode()).hexdigest()
    return f"{BATCHES_PREFIX}claims/{digest}"


def output_key(language: str, name: str) -> str:
    return f"{OUTPUT_PREFIX}{language}/{check_name(name)}"


def report_key(language: str, name: str) -> str:
    """The translation's reading report, beside the translated file."""
    return f"{output_key(language, name)}.report.json"
