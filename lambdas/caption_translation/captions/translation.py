"""Translating a caption file through any `Translator`, keeping every cue where it was.

Pure orchestration: the Amazon Translate client lives behind the `Translator` protocol, so this
module runs the same against the real service, the local cloud and test fakes. Exceptions
raised by the translator propagate unchanged; the caller owns retries.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import AlignmentError
from .markup import escape_plain_text, has_visible_text, plain_text, tidy_translated_text
from .model import CaptionFile, CaptionFormat, Cue, same_structure, with_texts
from .reading import ReadingProfile, check_cue, measure, rewrap
from .segments import (
    Alignment,
    align_documents,
    cue_element,
    parse_translated_html,
    sentence_groups,
    to_html_documents,
    wrap_document,
)

DEFAULT_MAX_REQUEST_BYTES = 10_000
_INDENTED = re.compile(r"^[ \t]+", re.MULTILINE)


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
    rewrapped_cues: tuple[int, ...] = ()
    over_profile: tuple[dict[str, Any], ...] = ()
    context_lost_cues: tuple[int, ...] = ()
    profile: ReadingProfile | None = None
    terms_not_kept: tuple[dict[str, Any], ...] = ()
    shortened_cues: tuple[int, ...] = ()  # re-translated with brevity, and shorter

    def report(self) -> dict[str, Any]:
        """What a subtitler needs to review: cues over the reading profile's limits, cues
        translated without their sentence's context, cues whose inline markup was lost."""
        profile = self.profile or ReadingProfile()
        return {
            "cues": self.cues,
            "profile": profile.as_json(),
            "rewrappedCues": len(self.rewrapped_cues),
            "shortenedWithBrevity": list(self.shortened_cues),
            "overProfile": len(self.over_profile),
            "overProfileCues": list(self.over_profile),
            "contextLost": [
                {
                    "index": index,
                    "reason": "the sentence's cue markers did not come back intact; this cue "
                    "was translated on its own, without the rest of its sentence",
                }
                for index in self.context_lost_cues
            ],
            "termsNotKept": list(self.terms_not_kept),
            "retranslatedCues": list(self.retranslated_cues),
            "degradedCues": [
                {"index": index, "reason": "translated as plain text; its inline tags were lost"}
                for index in self.degraded_cues
            ],
        }


def translate_captions(
    doc: CaptionFile,
    translator: Translator,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    profile: ReadingProfile | None = None,
    never_translate: Sequence[str] = (),
) -> TranslationOutcome:
    """Translate with real-time calls: documents under the request limit, then suspects alone.

    With a reading `profile` (already for the target language), translated cues are re-wrapped
    to it and the cues still over its limits are listed in the outcome; `never_translate`
    terms found in a source cue must be in its translation, or the cue is listed."""
    documents = to_html_documents(doc, max_request_bytes)
    translated = [translator.translate_html(document) for document in documents]
    return _complete(doc, translated, translator, max_request_bytes, profile, never_translate)


def rebuild_from_documents(
    doc: CaptionFile,
    translated_documents: Sequence[str],
    translator: Translator,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    profile: ReadingProfile | None = None,
    never_translate: Sequence[str] = (),
) -> TranslationOutcome:
    """Finish a translation from already translated documents, e.g. a batch job's output.

    The documents must come from `to_html_documents(doc, ...)` (any size limit, any order).
    Suspect cues are re-translated with real-time calls of at most `max_request_bytes`.
    """
    return _complete(
        doc, translated_documents, translator, max_request_bytes, profile, never_translate
    )


def _complete(
    doc: CaptionFile,
    translated_documents: Sequence[str],
    translator: Translator,
    max_request_bytes: int,
    profile: ReadingProfile | None,
    never_translate: Sequence[str] = (),
) -> TranslationOutcome:
    alignment = align_documents(doc, translated_documents)
    texts = dict(alignment.texts)
    degraded: list[int] = []
    for index in sorted(alignment.suspects):
        text, whole = _retranslate(doc.cues[index], doc, translator, max_request_bytes)
        texts[index] = text
        if not whole:
            degraded.append(index)
    shortened = _shorten(doc, texts, alignment.sent, translator, max_request_bytes, profile)
    rewrapped: list[int] = []
    for index in alignment.sent:
        source = doc.cues[index].text
        text = texts[index]
        wrapped = rewrap(text, doc.format, profile) if profile is not None else text
        if wrapped != text:
            rewrapped.append(index)
            texts[index] = wrapped
        elif source[:1] in (" ", "\t") or "\n " in source or "\n\t" in source:
            texts[index] = _indented_as(source, text)  # a line starts with a space or a tab
    try:
        result = with_texts(doc, texts)
    except ValueError as error:
        raise AlignmentError(f"the translated texts cannot be written: {error}") from error
    _verify(doc, result)
    over: list[dict[str, Any]] = []
    if profile is not None:
        for cue in result.cues:
            entry = check_cue(cue, result.format, profile)
            if entry is not None:
                over.append(entry)
    grouped: set[int] = set()
    if alignment.suspects:
        grouped = {index for group in sentence_groups(doc) if len(group) > 1 for index in group}
    return TranslationOutcome(
        captions=result,
        cues=result.cue_count,
        retranslated=len(alignment.suspects),
        degraded=len(degraded),
        documents=len(translated_documents),
        alignment=alignment,
        retranslated_cues=tuple(sorted(alignment.suspects)),
        degraded_cues=tuple(degraded),
        rewrapped_cues=tuple(rewrapped),
        over_profile=tuple(over),
        context_lost_cues=tuple(sorted(alignment.suspects & grouped)),
        profile=profile,
        terms_not_kept=tuple(_terms_not_kept(doc, result, never_translate)),
        shortened_cues=tuple(shortened),
    )


def _shorten(
    doc: CaptionFile,
    texts: dict[int, str],
    sent: Sequence[int],
    translator: Translator,
    max_request_bytes: int,
    profile: ReadingProfile | None,
) -> list[int]:
    """With the profile's `brevity`, translate each cue read too fast again with Translate's
    brevity setting (real-time TranslateText only) and keep the shorter text; the timing is
    never changed. Returns the cues shortened."""
    brief = getattr(translator, "translate_html_briefly", None)
    if profile is None or not profile.brevity or brief is None:
        return []
    fmt = doc.format
    shortened = []
    for index in sent:
        cue = doc.cues[index]
        reading = measure(dataclasses.replace(cue, text=texts[index]), fmt)
        if reading.chars_per_second <= profile.max_chars_per_second:
            continue
        text = _translate_alone(cue, fmt, brief, max_request_bytes)
        if text is None:
            continue
        shorter = measure(dataclasses.replace(cue, text=text), fmt)
        if sum(shorter.chars_per_line) < sum(reading.chars_per_line):
            texts[index] = text
            shortened.append(index)
    return shortened


def _terms_not_kept(
    source: CaptionFile, result: CaptionFile, terms: Sequence[str]
) -> list[dict[str, Any]]:
    """Each cue whose source holds a never-translate term its translation lacks."""
    if not terms:
        return []
    patterns = [(term, _term_pattern(term)) for term in terms]
    missing = []
    for before, after in zip(source.cues, result.cues, strict=True):
        original = plain_text(before.text, source.format)
        translated = None  # read once a term is found in the source
        for term, pattern in patterns:
            if not pattern.search(original):
                continue
            if translated is None:
                translated = plain_text(after.text, result.format)
            if not pattern.search(translated):
                missing.append(
                    {
                        "index": before.index,
                        "term": term,
                        "reason": "the terminology says to keep this term as written; the "
                        "translation does not have it",
                    }
                )
    return missing


def _term_pattern(term: str) -> re.Pattern[str]:
    """The term as a word of its own, in any case: `(?<!\\w)term(?!\\w)`, with the
    look-behind written after the first character, so the search can skip ahead to it."""
    if not term:
        return re.compile(r"(?<!\w)(?!\w)", re.IGNORECASE)
    return re.compile(
        rf"{re.escape(term[0])}(?<!\w(?s:.)){re.escape(term[1:])}(?!\w)", re.IGNORECASE
    )


def _indented_as(source: str, text: str) -> str:
    """Give each translated line the leading spaces of the source line in its place (SRT and
    WebVTT authors indent lines to position them; Translate drops the indentation)."""
    lines = text.split("\n")
    for number, source_line in enumerate(source.split("\n")[: len(lines)]):
        indent = _INDENTED.match(source_line)
        if indent and indent.group(0):
            lines[number] = indent.group(0) + lines[number].lstrip(" \t")
    return "\n".join(lines)


def _retranslate(
    cue: Cue, doc: CaptionFile, translator: Translator, max_request_bytes: int
) -> tuple[str, bool]:
    """Translate one cue alone; return its text and whether its markup survived."""
    text = _translate_alone(cue, doc.format, translator.translate_html, max_request_bytes)
    if text is not None:
        return text, True
    return _translate_plain(cue, doc, translator, max_request_bytes), False


def _translate_alone(
    cue: Cue, fmt: CaptionFormat, translate_html: Callable[[str], str], max_request_bytes: int
) -> str | None:
    """The cue translated as a document of its own, or None when it does not fit one request
    or its element does not come back whole (exactly one, not nested, with visible text)."""
    document = wrap_document([cue_element(cue, fmt)])
    if len(document.encode("utf-8")) > max_request_bytes:
        return None
    found = parse_translated_html(translate_html(document))
    fragments = found.fragments.get(cue.index, [])
    if (
        set(found.fragments) != {cue.index}
        or len(fragments) != 1
        or found.nested
        or found.containing_nested
    ):
        return None
    text = found.text_of(cue.index, fmt)
    return text if has_visible_text(text, fmt) else None


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
    """Prove the output keeps the source's structure.

    Every new cue text has passed `text_problem` (in `with_texts`), which is what makes a file
    read back exactly as written; tests prove that property for any text it accepts, so the
    written file is not parsed a second time here.
    """
    problem = same_structure(source, result)
    if problem is not None:
        raise AlignmentError(f"the translated file does not match the source: {problem}")
