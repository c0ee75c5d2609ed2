"""Translating a caption file through any `Translator`, keeping every cue where it was.

Pure orchestration: the Amazon Translate client lives behind the `Translator` protocol, so this
module runs the same against the real service, the local cloud and test fakes. Exceptions
raised by the translator propagate unchanged; the caller owns retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .errors import AlignmentError, CaptionInputError
from .formats import parse_captions, render_captions
from .markup import escape_plain_text, has_visible_text, plain_text, tidy_translated_text
from .model import CaptionFile, Cue, same_structure, with_texts
from .segments import (
    Alignment,
    align_documents,
    cue_element,
    parse_translated_html,
    to_html_documents,
    wrap_document,
)

DEFAULT_MAX_REQUEST_BYTES = 10_000


class Translator(Protocol):
    """One real-time translation call per method; both keep the source and target languages."""

    def translate_html(self, html: str) -> str:
        """Translate an HTML document, keeping its markup."""
        ...

    def translate_text(self, text: str) -> str:
        """Translate plain text."""
        ...


@dataclass(frozen=True)
class TranslationOutcome:
    """A translated caption file and how it was obtained.

    `captions` always has the source's cues, identifiers, settings, timings and non-cue blocks;
    only cue texts differ. `retranslated` cues were translated again on their own because the
    first translation could not be trusted; `degraded` ones were translated as plain text, line
    by line, losing their inline tags.
    """

    captions: CaptionFile
    cues: int
    retranslated: int
    degraded: int
    documents: int
    alignment: Alignment
    retranslated_cues: tuple[int, ...]
    degraded_cues: tuple[int, ...]


def translate_captions(
    doc: CaptionFile,
    translator: Translator,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
) -> TranslationOutcome:
    """Translate with real-time calls: documents under the request limit, then suspects alone."""
    documents = to_html_documents(doc, max_request_bytes)
    translated = [translator.translate_html(document) for document in documents]
    return _complete(doc, translated, translator, max_request_bytes)


def rebuild_from_documents(
    doc: CaptionFile,
    translated_documents: Sequence[str],
    translator: Translator,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
) -> TranslationOutcome:
    """Finish a translation from already translated documents, e.g. a batch job's output.

    The documents must come from `to_html_documents(doc, ...)` (any size limit, any order).
    Suspect cues are re-translated with real-time calls of at most `max_request_bytes`.
    """
    return _complete(doc, translated_documents, translator, max_request_bytes)


def _complete(
    doc: CaptionFile,
    translated_documents: Sequence[str],
    translator: Translator,
    max_request_bytes: int,
) -> TranslationOutcome:
    alignment = align_documents(doc, translated_documents)
    texts = dict(alignment.texts)
    degraded: list[int] = []
    for index in sorted(alignment.suspects):
        text, whole = _retranslate(doc.cues[index], doc, translator, max_request_bytes)
        texts[index] = text
        if not whole:
            degraded.append(index)
    try:
        result = with_texts(doc, texts)
    except ValueError as error:
        raise AlignmentError(f"the translated texts cannot be written: {error}") from error
    _verify(doc, result)
    return TranslationOutcome(
        captions=result,
        cues=result.cue_count,
        retranslated=len(alignment.suspects),
        degraded=len(degraded),
        documents=len(translated_documents),
        alignment=alignment,
        retranslated_cues=tuple(sorted(alignment.suspects)),
        degraded_cues=tuple(degraded),
    )


def _retranslate(
    cue: Cue, doc: CaptionFile, translator: Translator, max_request_bytes: int
) -> tuple[str, bool]:
    """Translate one cue alone; return its text and whether its markup survived."""
    fmt = doc.format
    document = wrap_document([cue_element(cue, fmt)])
    if len(document.encode("utf-8")) <= max_request_bytes:
        found = parse_translated_html(translator.translate_html(document))
        fragments = found.fragments.get(cue.index, [])
        if (
            set(found.fragments) == {cue.index}
            and len(fragments) == 1
            and not found.nested
            and not found.containing_nested
        ):
            text = found.text_of(cue.index, fmt)
            if has_visible_text(text, fmt):
                return text, True
    return _translate_plain(cue, doc, translator, max_request_bytes), False


def _translate_plain(
    cue: Cue, doc: CaptionFile, translator: Translator, max_request_bytes: int
) -> str:
    """Translate the cue's visible text line by line, dropping tags and keeping line breaks."""
    fmt = doc.format
    lines: list[str] = []
    for line in plain_text(cue.text, fmt).split("\n"):
        source = line.strip()
        if not source:
            lines.append("")
            continue
        if len(source.encode("utf-8")) > max_request_bytes:
            raise AlignmentError(
                f"cue {cue.index}: a line of {len(source.encode('utf-8'))} bytes is over the "
                f"{max_request_bytes}-byte request limit",
                cue_index=cue.index,
            )
        translated = translator.translate_text(source)
        if not isinstance(translated, str) or not translated.strip():
            raise AlignmentError(
                f"cue {cue.index}: no translation came back, neither as HTML nor as text",
                cue_index=cue.index,
            )
        lines.append(escape_plain_text(" ".join(translated.split()), fmt))
    text = tidy_translated_text("\n".join(lines), fmt)
    if not has_visible_text(text, fmt):
        raise AlignmentError(f"cue {cue.index}: the text translation is empty", cue_index=cue.index)
    return text


def _verify(source: CaptionFile, result: CaptionFile) -> None:
    """Prove the output keeps the source's structure, also once written and read back."""
    problem = same_structure(source, result)
    if problem is None:
        try:
            reread = parse_captions(render_captions(result), f"translated.{result.format}")
        except CaptionInputError as error:
            problem = f"the written file cannot be read back: {error.reason}"
        else:
            if reread.cues != result.cues:
                problem = "the written file reads back with different cues"
            else:
                problem = same_structure(source, reread)
    if problem is not None:
        raise AlignmentError(f"the translated file does not match the source: {problem}")
