"""Translating a batch: real time in the function, or rebuilding from batch job output.

Both write `output/<lang>/<name>` for every file and language that succeeded, quarantine the
others under `failed/` with the reason, and return the batch summary. Re-running either with the
same inputs writes the same objects, so a retried step is harmless.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from lambdas.caption_translation import layout
from lambdas.caption_translation.captions import (
    AlignmentError,
    TranslationOutcome,
    Translator,
    as_format,
    parse_captions,
    rebuild_from_documents,
    render_captions,
    translate_captions,
)
from lambdas.caption_translation.captions.reading import ReadingProfile
from lambdas.caption_translation.outcomes import FileOutcome, record_failures, summarise
from lambdas.caption_translation.planning import load_plan
from lambdas.shared.s3 import ObjectStore, error_code

TranslatorFactory = Callable[[str, str], Translator]  # (source, target) -> Translator
JobDescriber = Callable[[str], dict[str, Any]]

# Errors that concern one file and language; anything else (throttling that outlasted the
# client's retries, access denied, outages) fails the step so the state machine retries it.
PER_FILE_ERRORS = frozenset(
    {
        "TextSizeLimitExceededException",
        "UnsupportedLanguagePairException",
        "InvalidRequestException",
    }
)


def translate_realtime(
    batch_id: str, store: ObjectStore, translators: TranslatorFactory
) -> dict[str, Any]:
    plan = load_plan(batch_id, store)
    profile = ReadingProfile.from_json(plan.get("readingProfile"))
    outcomes = []
    for entry in plan["files"]:
        outcome = FileOutcome(entry)
        captions = parse_captions(store.get_bytes(entry["sourceKey"]), entry["name"])
        for language in plan["targetLanguages"]:
            translate = partial(translate_captions, captions)
            bound = _for_language(translate, plan, profile, translators, language)
            _write(store, outcome, language, bound)
        record_failures(store, batch_id, outcome)
        outcomes.append(outcome)
    return summarise(plan, outcomes, store)


def rebuild_outputs(
    batch_id: str,
    jobs: list[dict[str, Any]],
    store: ObjectStore,
    translators: TranslatorFactory,
    describe_job: JobDescriber,
) -> dict[str, Any]:
    plan = load_plan(batch_id, store)
    profile = ReadingProfile.from_json(plan.get("readingProfile"))
    output_prefix = layout.translate_output_prefix(batch_id)
    outcomes = {entry["name"]: FileOutcome(entry) for entry in plan["files"]}
    for job in jobs:
        languages = list(job["targetLanguages"])
        if job["status"] not in ("COMPLETED", "COMPLETED_WITH_ERROR"):
            reason = _job_failure_reason(job, describe_job)
            for outcome in outcomes.values():
                outcome.fail(languages, reason, "translation-job-failed")
            continue
        job_folder = _job_folder(store, output_prefix, job["jobId"])
        available = set(store.list_keys(job_folder))
        document_errors = _document_errors(store, job_folder, languages, available)
        for entry in plan["files"]:
            outcome = outcomes[entry["name"]]
            captions = parse_captions(store.get_bytes(entry["sourceKey"]), entry["name"])
            for language in languages:
                keys = [f"{job_folder}{language}.{name}" for name in entry["documents"]]
                missing = [k for k in keys if k not in available]
                if missing:
                    reasons = {
                        document_errors.get((language, name), "") for name in entry["documents"]
                    } - {""}
                    outcome.fail(
                        [language],
                        "Translate returned no output for this file"
                        + (f": {'; '.join(sorted(reasons))}" if reasons else ""),
                        "translation-document-failed",
                    )
                    continue
                documents = [store.get_bytes(k).decode("utf-8") for k in keys]
                rebuild = partial(rebuild_from_documents, captions, documents)
                bound = _for_language(rebuild, plan, profile, translators, language)
                _write(store, outcome, language, bound)
    for outcome in outcomes.values():
        record_failures(store, batch_id, outcome)
    return summarise(plan, list(outcomes.values()), store)


def _for_language(
    translate: Callable[..., TranslationOutcome],
    plan: dict[str, Any],
    profile: ReadingProfile,
    translators: TranslatorFactory,
    language: str,
) -> Callable[[], TranslationOutcome]:
    """`translate` (its captions bound) with the plan's translator, reading profile and terms
    never to translate for one target language."""
    return partial(
        translate,
        translators(plan["sourceLanguage"], language),
        profile=profile.for_language(language),
        never_translate=plan.get("neverTranslate", {}).get(language, ()),
    )


def _write(
    store: ObjectStore,
    outcome: FileOutcome,
    language: str,
    translate: Callable[[], TranslationOutcome],
) -> None:
    try:
        result = translate()
    except AlignmentError as error:
        outcome.fail([language], f"the translation could not be aligned: {error}", "alignment")
        return
    except ClientError as error:
        if error_code(error) not in PER_FILE_ERRORS:
            raise
        message = error.response.get("Error", {}).get("Message", "")
        outcome.fail([language], f"{error_code(error)}: {message}", "translate-rejected")
        return
    captions = result.captions
    if captions.declared_format is not None:
        # The output keeps the name the user gave, so its content is in the format that name
        # says (the plan's warning tells them the source was not).
        captions = as_format(captions, captions.declared_format)
    store.put_bytes(
        layout.output_key(language, outcome.name),
        render_captions(captions),
        "text/vtt" if captions.format == "vtt" else "application/x-subrip",
    )
    store.put_json(
        layout.report_key(language, outcome.name),
        {"file": outcome.name, "language": language, **result.report()},
    )
    outcome.outputs[language] = result.cues
    outcome.retranslated += result.retranslated
    outcome.degraded += result.degraded
    outcome.over_profile += len(result.over_profile)
    outcome.rewrapped += len(result.rewrapped_cues)
    outcome.context_lost += len(result.context_lost_cues)
    outcome.terms_not_kept += len(result.terms_not_kept)


def _job_folder(store: ObjectStore, output_prefix: str, job_id: str) -> str:
    """Translate writes under `<output>/<account>-TranslateText-<job id>/`."""
    marker = f"-TranslateText-{job_id}/"
    for key in store.list_keys(output_prefix):
        if marker in key:
            return key[: key.index(marker) + len(marker)]
    return f"{output_prefix}missing-TranslateText-{job_id}/"


def _document_errors(
    store: ObjectStore, job_folder: str, languages: list[str], available: set[str]
) -> dict[tuple[str, str], str]:
    """Per-document errors from the job's auxiliary details files, by (language, document)."""
    errors: dict[tuple[str, str], str] = {}
    for language in languages:
        key = f"{job_folder}details/{language}.auxiliary-translation-details.json"
        if key not in available:
            continue
        details = json.loads(store.get_bytes(key))
        for item in details.get("details", []):
            message = item.get("errorMessage") or item.get("errorCode")
            if message:
                errors[(language, item.get("sourceFile", ""))] = str(message)
    return errors


def _job_failure_reason(job: dict[str, Any], describe_job: JobDescriber) -> str:
    status = job["status"]
    reason = job.get("reason") or f"the translation job ended {status}"
    if status == "FAILED" and job.get("jobId"):
        try:
            message = describe_job(job["jobId"]).get("Message")
        except ClientError:
            message = None
        if message:
            reason = f"the translation job failed: {message}"
    return str(reason)
