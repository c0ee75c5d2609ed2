"""Preparing a batch: validate every file, quarantine the bad ones, and plan the translation.

Small batches (translatable HTML bytes times target languages under `realtime_max_bytes`) are
translated in real time, in seconds; larger ones with asynchronous batch jobs, which take
minutes to hours but scale to gigabytes. Both cost the same per character.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from lambdas.caption_translation import layout
from lambdas.caption_translation.captions import (
    DEFAULT_MAX_REQUEST_BYTES,
    CaptionFile,
    parse_captions,
    to_html_documents,
)
from lambdas.caption_translation.captions.reading import ReadingProfile, ReadingProfileError
from lambdas.caption_translation.outcomes import FileOutcome, quarantine, summarise
from lambdas.caption_translation.settings import CaptionSettings
from lambdas.shared.errors import ConfigurationError, InputError
from lambdas.shared.keys import check_name
from lambdas.shared.languages import MAX_TARGETS_PER_JOB, check_languages
from lambdas.shared.quarantine import Rejection
from lambdas.shared.s3 import ObjectStore

# Batch jobs accept 1 MB of translatable text per document; HTML markup is not translated,
# so whole-cue documents of at most this many bytes stay under that limit.
BATCH_DOCUMENT_MAX_BYTES = 900_000
REJECTED_BEFORE_TRANSLATION = {"failedLanguages": "all", "translatedLanguages": []}


class BatchNotFoundError(Exception):
    """The batch has no manifest: it was never started or has expired."""


_FORMAT_NAMES = {"vtt": "WebVTT", "srt": "SRT"}


TermsReader = Callable[[str, tuple[str, ...]], dict[str, list[str]]]  # (source, targets)


def prepare_batch(
    batch_id: str,
    execution_name: str,
    settings: CaptionSettings,
    store: ObjectStore,
    terms: TermsReader | None = None,
) -> dict[str, Any]:
    manifest = store.get_json(layout.manifest_key(batch_id))
    if manifest is None:
        raise BatchNotFoundError(f"batch {batch_id} has no manifest under {layout.BATCHES_PREFIX}")

    source, targets, batch_error = _languages(manifest, settings)
    profile, profile_error = _reading_profile(manifest, settings)
    batch_error = batch_error or profile_error
    files: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    parsed: dict[str, CaptionFile] = {}
    for entry in manifest["files"]:
        name, source_key = entry["name"], entry["sourceKey"]
        try:
            if batch_error:
                raise InvalidSettingsError(batch_error)
            check_name(name)
            if not name.lower().endswith(layout.CAPTION_EXTENSIONS):
                raise UnsupportedFileError(
                    "only .vtt and .srt files are translated; this file was left untranslated"
                )
            captions = parse_captions(store.get_bytes(source_key), name)
            realtime_documents = to_html_documents(captions, DEFAULT_MAX_REQUEST_BYTES)
        except InputError as error:
            rejection = Rejection.of(error, **REJECTED_BEFORE_TRANSLATION)
            quarantine(store, batch_id, entry, rejection)
            rejected.append(
                {"name": name, "sourceKey": source_key, "error": error.code, "reason": error.reason}
            )
            continue
        warnings = []
        if captions.declared_format and captions.declared_format != captions.format:
            warnings.append(
                f"{name}: named .{captions.declared_format} but its content is "
                f"{_FORMAT_NAMES[captions.format]}; translated and written as "
                f"{_FORMAT_NAMES[captions.declared_format]}, as its name says"
                + (
                    " (cue settings and NOTE/STYLE blocks have no SRT form)"
                    if captions.declared_format == "srt"
                    else ""
                )
            )
        parsed[name] = captions
        files.append(
            {
                "name": name,
                "sourceKey": source_key,
                "inputKey": entry.get("inputKey"),
                "versionId": entry.get("versionId"),
                "format": captions.format,
                "cues": captions.cue_count,
                "htmlBytes": sum(len(d.encode()) for d in realtime_documents),
                "documents": [],
                "warnings": warnings,
            }
        )

    translatable = sum(f["htmlBytes"] for f in files) * len(targets)
    if not files:
        mode = "none"
    elif translatable <= settings.realtime_max_bytes:
        mode = "realtime"
    else:
        mode = "batch"

    jobs: list[dict[str, Any]] = []
    if mode == "batch":
        _write_documents(batch_id, files, parsed, store)
        jobs = _jobs(batch_id, execution_name, source, targets, settings, store)

    plan = {
        "batchId": batch_id,
        "mode": mode,
        "sourceLanguage": source,
        "targetLanguages": list(targets),
        "terminologyNames": list(settings.terminology_names),
        "readingProfile": profile.as_json(),
        "neverTranslate": terms(source, targets) if terms and files and not batch_error else {},
        "files": files,
        "rejected": rejected,
        "jobs": jobs,
        "translatableBytes": translatable,
    }
    store.put_json(layout.plan_key(batch_id), plan)
    result: dict[str, Any] = {
        "batchId": batch_id,
        "mode": mode,
        "jobs": jobs,
        "limits": {"pollSeconds": settings.poll_interval_seconds, "maxPolls": settings.max_polls},
    }
    if mode == "none":
        result["summary"] = summarise(plan, [], store)
    return result


class UnsupportedFileError(InputError):
    code = "unsupported-file-type"


class InvalidSettingsError(InputError):
    """The batch's languages (from the trigger file or the stack) cannot be used."""

    code = "invalid-settings"


def _languages(
    manifest: dict[str, Any], settings: CaptionSettings
) -> tuple[str, tuple[str, ...], str | None]:
    if manifest.get("triggerError"):
        return settings.source_language, settings.target_languages, manifest["triggerError"]
    overrides = manifest.get("overrides") or {}
    source = str(overrides.get("sourceLanguage", settings.source_language))
    raw_targets = overrides.get("targetLanguages", settings.target_languages)
    if isinstance(raw_targets, str):
        raw_targets = [t.strip() for t in raw_targets.split(",") if t.strip()]
    try:
        targets = check_languages(source, [str(t) for t in raw_targets])
    except ConfigurationError as error:
        return source, tuple(str(t) for t in raw_targets), f"the batch's languages: {error}"
    return source, targets, None


def _reading_profile(
    manifest: dict[str, Any], settings: CaptionSettings
) -> tuple[ReadingProfile, str | None]:
    """The stack's reading profile, with the trigger file's `readingProfile` over it."""
    try:
        base = ReadingProfile.from_json(json.loads(settings.reading_profile or "null"))
    except (ValueError, ReadingProfileError) as error:
        raise ConfigurationError(f"READING_PROFILE: {error}") from error
    overrides = (manifest.get("overrides") or {}).get("readingProfile")
    try:
        return ReadingProfile.from_json(overrides, base), None
    except ReadingProfileError as error:
        return base, f"the trigger file's reading profile: {error}"


def _write_documents(
    batch_id: str,
    files: list[dict[str, Any]],
    parsed: dict[str, CaptionFile],
    store: ObjectStore,
) -> None:
    """Documents get neutral names (`f0001-p001.html`): Translate prefixes output names with
    the language code, and user file names may hold characters best kept out of that."""
    prefix = layout.translate_input_prefix(batch_id)
    for number, entry in enumerate(files, start=1):
        documents = to_html_documents(parsed[entry["name"]], BATCH_DOCUMENT_MAX_BYTES)
        for part, document in enumerate(documents, start=1):
            document_name = f"f{number:04d}-p{part:03d}.html"
            store.put_bytes(prefix + document_name, document.encode(), "text/html")
            entry["documents"].append(document_name)


def _jobs(
    batch_id: str,
    execution_name: str,
    source: str,
    targets: tuple[str, ...],
    settings: CaptionSettings,
    store: ObjectStore,
) -> list[dict[str, Any]]:
    jobs = []
    for index, start in enumerate(range(0, len(targets), MAX_TARGETS_PER_JOB)):
        token = hashlib.sha256(f"{execution_name}/{index}".encode()).hexdigest()[:64]
        jobs.append(
            {
                "index": index,
                "jobName": f"captions-{batch_id}-{index}",
                "clientToken": token,
                "inputUri": store.uri(layout.translate_input_prefix(batch_id)),
                "outputUri": store.uri(layout.translate_output_prefix(batch_id)),
                "sourceLanguage": source,
                "targetLanguages": list(targets[start : start + MAX_TARGETS_PER_JOB]),
                "terminologyNames": list(settings.terminology_names),
            }
        )
    return jobs


def load_plan(batch_id: str, store: ObjectStore) -> dict[str, Any]:
    plan = store.get_json(layout.plan_key(batch_id))
    if plan is None:
        raise BatchNotFoundError(f"batch {batch_id} has no plan; PrepareBatch has not run")
    return dict(plan)


__all__ = ["BatchNotFoundError", "FileOutcome", "load_plan", "prepare_batch"]
