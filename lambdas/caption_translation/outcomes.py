"""Recording what happened to each file: outputs, quarantined failures and the batch summary."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from lambdas.caption_translation import layout
from lambdas.shared.quarantine import (
    FAILED_PREFIX,
    REPORTS_PREFIX,
    ObjectRef,
    Quarantine,
    Rejection,
)
from lambdas.shared.s3 import ObjectStore

WORKFLOW = "caption_translation"

MAX_LISTED_FAILURES = 50  # keeps the SNS message and the state machine payload small


@dataclass
class FileOutcome:
    """One source file of the plan across all target languages."""

    entry: dict[str, Any]  # the file's plan entry
    outputs: dict[str, int] = field(default_factory=dict)  # language -> cues written
    failures: dict[str, str] = field(default_factory=dict)  # language -> reason
    error: str = "translation-failed"
    retranslated: int = 0
    degraded: int = 0
    over_profile: int = 0  # cues still over the reading profile after re-wrapping
    rewrapped: int = 0
    context_lost: int = 0  # cues translated without their sentence's context
    terms_not_kept: int = 0  # never-translate terms the translation lost

    @property
    def name(self) -> str:
        return str(self.entry["name"])

    def fail(self, languages: list[str] | tuple[str, ...], reason: str, error: str) -> None:
        for language in languages:
            self.failures[language] = reason
        self.error = error


def quarantine(
    store: ObjectStore, batch_id: str, entry: dict[str, Any], rejection: Rejection
) -> None:
    """Copy the batch's copy of a file (its manifest or plan entry) to `failed/` and write its
    error report, which names the upload the batch took."""
    # Plans written before they recorded the upload's key: it is the name under input/.
    upload_key = entry.get("inputKey") or layout.INPUT_PREFIX + entry["name"]
    Quarantine(store.client, store.bucket, WORKFLOW).file(
        entry["name"],
        ObjectRef(store.bucket, upload_key, entry.get("versionId")),
        replace(rejection, details={"batchId": batch_id, **rejection.details}),
        copy_from=ObjectRef(store.bucket, entry["sourceKey"]),
    )


def record_failures(store: ObjectStore, batch_id: str, outcome: FileOutcome) -> None:
    if not outcome.failures:
        return
    reasons = sorted(set(outcome.failures.values()))
    reason = (
        "; ".join(f"{lang}: {outcome.failures[lang]}" for lang in sorted(outcome.failures))
        if len(reasons) > 1
        else reasons[0]
    )
    details = {
        "failedLanguages": sorted(outcome.failures),
        "translatedLanguages": sorted(outcome.outputs),
    }
    quarantine(store, batch_id, outcome.entry, Rejection(outcome.error, reason, details=details))


def summarise(
    plan: dict[str, Any], outcomes: list[FileOutcome], store: ObjectStore
) -> dict[str, Any]:
    """The batch summary: written to `summary.json`, published to SNS, returned to the
    state machine. Rejected files (validation) and translation failures both count as failed."""
    rejected = plan["rejected"]
    failed_files = [o for o in outcomes if o.failures]
    failures = [
        {"file": r["name"], "stage": "validation", "error": r["error"], "reason": r["reason"]}
        for r in rejected
    ] + [
        {
            "file": o.name,
            "stage": "translation",
            "error": o.error,
            "languages": sorted(o.failures),
            "reason": "; ".join(sorted(set(o.failures.values()))),
        }
        for o in failed_files
    ]
    files_in = len(plan["files"]) + len(rejected)
    outputs = sum(len(o.outputs) for o in outcomes)
    failed = len(rejected) + len(failed_files)
    summary = {
        "batchId": plan["batchId"],
        "mode": plan["mode"],
        "sourceLanguage": plan["sourceLanguage"],
        "targetLanguages": plan["targetLanguages"],
        "filesIn": files_in,
        "outputs": outputs,
        "failed": failed,
        "cuesIn": sum(f["cues"] for f in plan["files"]),
        "cuesOut": sum(sum(o.outputs.values()) for o in outcomes),
        "retranslatedCues": sum(o.retranslated for o in outcomes),
        "degradedCues": sum(o.degraded for o in outcomes),
        "rewrappedCues": sum(o.rewrapped for o in outcomes),
        "cuesOverReadingProfile": sum(o.over_profile for o in outcomes),
        "contextLostCues": sum(o.context_lost for o in outcomes),
        "termsNotKept": sum(o.terms_not_kept for o in outcomes),
        "failures": failures[:MAX_LISTED_FAILURES],
        "failuresNotListed": max(0, len(failures) - MAX_LISTED_FAILURES),
        "warnings": [w for f in plan["files"] for w in f.get("warnings", [])][:MAX_LISTED_FAILURES],
        "outputPrefix": store.uri(layout.OUTPUT_PREFIX),
        "failedPrefix": store.uri(FAILED_PREFIX),
        "errorReportsPrefix": store.uri(REPORTS_PREFIX),
    }
    if files_in == 0:
        summary["subject"] = f"Caption batch {plan['batchId']}: no input files"
        summary["message"] = (
            "The trigger file arrived but no files were waiting under input/; nothing was "
            "translated."
        )
    else:
        summary["subject"] = (
            f"Caption batch {plan['batchId']}: {files_in} files, {outputs} outputs, {failed} failed"
        )[:100]
    store.put_json(layout.summary_key(plan["batchId"]), summary)
    return summary
