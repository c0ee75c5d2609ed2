"""Local Amazon Translate: the real Translate API in front of a deterministic pseudo-translator.

What it emulates, through real boto3 clients (see `localcloud.core.protocol`):

* `TranslateText` (10,000 UTF-8 bytes, `TextSizeLimitExceededException` above),
  `TranslateDocument` (text/plain and text/html; the modeled 102,400-byte content limit is a
  validation error), `ListLanguages`, custom terminology (`ImportTerminology` from CSV or TSV,
  `GetTerminology`, `ListTerminologies`, `DeleteTerminology`) and batch jobs
  (`StartTextTranslationJob`, `DescribeTextTranslationJob`, `ListTextTranslationJobs`,
  `StopTextTranslationJob`), with Translate's error codes.
* HTML like Amazon Translate: only text nodes are translated; every tag and attribute is kept as
  written and the content of elements marked `translate="no"` is left untranslated.
* Custom terminology: source terms are matched case-insensitively as whole words and the target
  term is written verbatim, capitalised after the matched text (all caps, title case), as the
  Translate guide describes; at most one terminology per request.
* Batch jobs read their input and write their output only through `s3_for_role(role_arn)`, the
  S3 client of the job's DataAccessRoleArn, like the service. Output documents are written to
  `<output>/<account>-TranslateText-<JobId>/<sub/folders/><target>.<file name>` with a
  `details/<target>.auxiliary-translation-details.json` per target language in the documented
  format. The documented example shows successful entries only; for a failed document the
  entry carries `sourceFile`, `errorCode` and `errorMessage` (these two names are this engine's,
  the real file's names for errors are not documented). Error codes are `INVALID_UTF8`,
  `DOCUMENT_SIZE_LIMIT_EXCEEDED` (over 20 MB), `TEXT_SIZE_LIMIT_EXCEEDED` (a million characters
  of translatable text or more) and the S3 error code when the role cannot read or write it.
* Job ids are 32 hex digits like the service's, derived from the account, region and
  ClientToken (the service's ids are opaque), so a job started with a known token has the same
  id on every fresh start; the token also makes `StartTextTranslationJob` idempotent.
* Job status follows the local clock (virtual time): SUBMITTED for `queued_seconds`,
  IN_PROGRESS for `base_seconds + characters * seconds_per_character` (characters estimated
  from the input objects' sizes, listed when the job starts running), then COMPLETED,
  COMPLETED_WITH_ERROR or FAILED. Status is computed when a job is described or listed (or on
  `poll()`); the documents are translated and written exactly once, when the job is first
  observed past its end time.
* Billing: `usage` counts translated characters per operation, real-time and batch apart.

What it does not do:

* No real translation: `pseudo_translate` turns ASCII letters into accented look-alikes and
  tags each word with the target language (`Hello` -> `Ĥéļļö·es`), so output is visibly
  different, longer, deterministic and reversible with `reverse_pseudo_translation`.
* No language detection: `auto` is accepted only as the source of batch jobs, where it is
  treated as an unknown source language; real-time calls with `auto` are rejected with
  `UnsupportedLanguagePairException`.
* No effect of formality, profanity or brevity settings (they are echoed as applied settings),
  no parallel data (any name is `ResourceNotFoundException`), no TMX terminology, no
  encryption, and batch jobs process only text/plain and text/html (other documented content
  types end FAILED with a message saying so; .docx documents are rejected in real time).
* Faults are injected on purpose (`TranslateFaults`): `merge`, `drop` and `reorder` damage HTML
  documents that have at least three elements carrying an `id` (so re-translating a single cue
  is never sabotaged), and `throttle` answers the next calls with `TooManyRequestsException`.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import json
import logging
import math
import random
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from types import MappingProxyType
from typing import Any, Final

from botocore.exceptions import ClientError

from localcloud.core.clock import LocalClock
from localcloud.core.protocol import (
    CallContext,
    LocalEngine,
    ServiceError,
    existing,
    page_by_key,
    token_derived_id,
)

logger = logging.getLogger(__name__)

SUPPORTED_LANGUAGES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "af": "Afrikaans",
        "sq": "Albanian",
        "am": "Amharic",
        "ar": "Arabic",
        "hy": "Armenian",
        "az": "Azerbaijani",
        "bn": "Bengali",
        "bs": "Bosnian",
        "bg": "Bulgarian",
        "ca": "Catalan",
        "zh": "Chinese (Simplified)",
        "zh-TW": "Chinese (Traditional)",
        "hr": "Croatian",
        "cs": "Czech",
        "da": "Danish",
        "fa-AF": "Dari",
        "nl": "Dutch",
        "en": "English",
        "et": "Estonian",
        "fa": "Farsi (Persian)",
        "tl": "Filipino, Tagalog",
        "fi": "Finnish",
        "fr": "French",
        "fr-CA": "French (Canada)",
        "ka": "Georgian",
        "de": "German",
        "el": "Greek",
        "gu": "Gujarati",
        "ht": "Haitian Creole",
        "ha": "Hausa",
        "he": "Hebrew",
        "hi": "Hindi",
        "hu": "Hungarian",
        "is": "Icelandic",
        "id": "Indonesian",
        "ga": "Irish",
        "it": "Italian",
        "ja": "Japanese",
        "kn": "Kannada",
        "kk": "Kazakh",
        "ko": "Korean",
        "lv": "Latvian",
        "lt": "Lithuanian",
        "mk": "Macedonian",
        "ms": "Malay",
        "ml": "Malayalam",
        "mt": "Maltese",
        "mr": "Marathi",
        "mn": "Mongolian",
        "no": "Norwegian (Bokmål)",
        "ps": "Pashto",
        "pl": "Polish",
        "pt": "Portuguese (Brazil)",
        "pt-PT": "Portuguese (Portugal)",
        "pa": "Punjabi",
        "ro": "Romanian",
        "ru": "Russian",
        "sr": "Serbian",
        "si": "Sinhala",
        "sk": "Slovak",
        "sl": "Slovenian",
        "so": "Somali",
        "es": "Spanish",
        "es-MX": "Spanish (Mexico)",
        "sw": "Swahili",
        "sv": "Swedish",
        "ta": "Tamil",
        "te": "Telugu",
        "th": "Thai",
        "tr": "Turkish",
        "uk": "Ukrainian",
        "ur": "Urdu",
        "uz": "Uzbek",
        "vi": "Vietnamese",
        "cy": "Welsh",
    }
)
"""Amazon Translate's documented language codes, with their English names."""

AUTO_SOURCE: Final = "auto"
MAX_TEXT_BYTES: Final = 10_000
MAX_TARGET_LANGUAGES: Final = 10
MAX_BATCH_DOCUMENT_BYTES: Final = 20 * 1024 * 1024
MAX_BATCH_DOCUMENT_CHARACTERS: Final = 1_000_000
MIN_FAULT_ELEMENTS: Final = 3
# Job ids are uuid5 names in this namespace (see `TranslateEngine.job_id_for`).
_JOB_ID_NAMESPACE: Final = uuid.UUID("5e0a7a1c-9b4f-4c8e-8d3a-2f6b1c7e9a40")

TEXT_CONTENT_TYPES: Final = ("text/plain", "text/html")
DOCX: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DOCUMENTED_BATCH_CONTENT_TYPES: Final = frozenset(
    {
        *TEXT_CONTENT_TYPES,
        DOCX,
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/x-xliff+xml",
    }
)
FAULT_MODES: Final = frozenset({"merge", "drop", "reorder", "throttle", "expand"})
EXPANSION: Final = 1.4  # the `expand` fault's length factor, as German or French often runs
# Brevity applies to TranslateText into these languages, or from them into English; other
# pairs are translated with brevity off (Translate Developer Guide, "Using brevity").
BREVITY_LANGUAGES: Final = frozenset({"fr", "de", "it", "pt", "es"})
TERMINAL_STATUSES: Final = frozenset({"COMPLETED", "COMPLETED_WITH_ERROR", "FAILED", "STOPPED"})
COMPLETED_MESSAGE: Final = "Your job has completed successfully."

# --- Pseudo-translation -----------------------------------------------------------------------

_PLAIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOOKALIKES = "åƀçďéƒĝĥîĵķļɱñöþǫŕšţûṽŵẋýžÅƁÇĎÉƑĜĤÎĴĶĻṀÑÖÞǪŔŠŢÛṼŴẊÝŽ"
# A swap, not a one-way map: look-alikes already in the source become plain letters, so the
# same table undoes the pseudo-translation of any text exactly.
_SWAP_LETTERS = str.maketrans(_PLAIN + _LOOKALIKES, _LOOKALIKES + _PLAIN)
LANGUAGE_MARK: Final = "·"
_WORD = re.compile(r"[^\W\d_]+")
_MARKED_WORD = re.compile(
    r"([^\W\d_]+)"
    + re.escape(LANGUAGE_MARK)
    + "(?:"
    + "|".join(re.escape(code) for code in sorted(SUPPORTED_LANGUAGES, key=len, reverse=True))
    + r")(?![^\W\d_])"
)


EXPANSION_MARK: Final = "\u2053"  # swung dash: pads a word under the `expand` fault
_EXPANSION_PADDING = re.compile("\u2053+")
# `⟨n⟩` after the last word of a sentence translated across several marked inline elements
_SENTENCE_MARK = re.compile("\u27e8[0-9]+\u27e9")
_BLOCK_ELEMENTS = frozenset({"p", "div", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6"})


def pseudo_translate(text: str, target: str, *, expand: bool = False) -> str:
    """Pseudo-translate plain `text` into `target`: every word visibly changed, numbers kept.

    ASCII letters become accented look-alikes (and those look-alikes, if the source has any,
    become ASCII letters) and each word (a run of letters) gets the marker `·<target>`, so
    `Hello, world 42!` becomes `Ĥéļļö·es, ŵöŕļď·es 42!` for Spanish. With `expand` every
    word is padded with swung dashes to `EXPANSION` times its length, as languages that run
    longer than the source do, so re-wrapping is exercised.
    """

    def word(match: re.Match[str]) -> str:
        translated = match.group(0).translate(_SWAP_LETTERS) + LANGUAGE_MARK + target
        if expand:
            translated += EXPANSION_MARK * math.ceil(len(translated) * (EXPANSION - 1))
        return translated

    return _WORD.sub(word, text)


def reverse_pseudo_translation(text: str) -> str:
    """Recover the source of `pseudo_translate` output (whatever the target language).

    Exact for any source text without `<letters>·<language code>` sequences of its own; text
    the engine kept verbatim (markup, terminology targets, `translate="no"`) passes through.
    The `expand` fault's padding and the sentence marks are removed.
    """
    text = _SENTENCE_MARK.sub("", _EXPANSION_PADDING.sub("", text))
    return _MARKED_WORD.sub(lambda match: match.group(1).translate(_SWAP_LETTERS), text)


# --- Custom terminology -----------------------------------------------------------------------


def _adapt_case(matched: str, target_term: str) -> str:
    """Capitalise the target term after the matched source text, as Translate documents."""
    if matched.islower():
        return target_term
    if matched.isupper():
        return target_term.upper()
    words = matched.split()
    if words and all(word[:1].isupper() for word in words):
        return re.sub(r"(?<!\w)(\w)", lambda match: match.group(1).upper(), target_term)
    return target_term


class _TermMatcher:
    """Applies one terminology's (source term, target term) pairs to text."""

    def __init__(self, name: str, pairs: Iterable[tuple[str, str]]) -> None:
        self.name = name
        self._by_source: dict[str, tuple[str, str]] = {}
        for source, target in pairs:
            self._by_source.setdefault(source.lower(), (source, target))
        alternatives = sorted(self._by_source.values(), key=lambda pair: len(pair[0]), reverse=True)
        self._pattern = (
            re.compile(
                r"(?<!\w)(?:"
                + "|".join(re.escape(source) for source, _ in alternatives)
                + r")(?!\w)",
                re.IGNORECASE,
            )
            if alternatives
            else None
        )

    def apply(
        self,
        text: str,
        translate: Callable[[str], str],
        applied: dict[tuple[str, str], None],
    ) -> str:
        """`text` translated, with every matched source term replaced by its target term."""
        if self._pattern is None:
            return translate(text)
        pieces: list[str] = []
        position = 0
        for match in self._pattern.finditer(text):
            pair = self._by_source.get(match.group(0).lower())
            if pair is None:
                continue
            pieces.append(translate(text[position : match.start()]))
            pieces.append(_adapt_case(match.group(0), pair[1]))
            applied[pair] = None
            position = match.end()
        pieces.append(translate(text[position:]))
        return "".join(pieces)


@dataclass(frozen=True)
class _Terminology:
    name: str
    description: str | None
    arn: str
    languages: tuple[str, ...]  # header row: the first is the source of a UNI terminology
    entries: tuple[Mapping[str, str], ...]
    directionality: str
    data_format: str
    size_bytes: int
    created_at: datetime
    updated_at: datetime
    encryption_key: Mapping[str, str] | None

    def matcher(self, source: str, target: str) -> _TermMatcher | None:
        """The matcher for a source/target pair, or None if the terminology does not cover it."""
        if self.directionality == "MULTI":
            covered = source in self.languages and target in self.languages and source != target
        else:
            covered = source == self.languages[0] and target in self.languages[1:]
        if not covered:
            return None
        pairs = [
            (entry[source], entry[target])
            for entry in self.entries
            if source in entry and target in entry
        ]
        return _TermMatcher(self.name, pairs)

    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = {
            "Name": self.name,
            "Arn": self.arn,
            "SourceLanguageCode": self.languages[0],
            "TargetLanguageCodes": list(self.languages[1:]),
            "SizeBytes": self.size_bytes,
            "TermCount": len(self.entries),
            "CreatedAt": self.created_at,
            "LastUpdatedAt": self.updated_at,
            "Directionality": self.directionality,
            "SkippedTermCount": 0,
            "Format": self.data_format,
        }
        if self.description is not None:
            props["Description"] = self.description
        if self.encryption_key is not None:
            props["EncryptionKey"] = dict(self.encryption_key)
        return props

    def export(self, data_format: str) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(
            buffer, delimiter="\t" if data_format == "TSV" else ",", lineterminator="\n"
        )
        writer.writerow(self.languages)
        for entry in self.entries:
            writer.writerow([entry.get(language, "") for language in self.languages])
        return buffer.getvalue().encode("utf-8")


def _parse_terminology_file(
    data: bytes, data_format: str
) -> tuple[list[str], list[dict[str, str]]]:
    if data_format == "TMX":
        raise ServiceError(
            "InvalidParameterValueException",
            "The local Translate engine reads CSV and TSV terminology files, not TMX.",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ServiceError(
            "InvalidParameterValueException", "The terminology file must be UTF-8 encoded."
        ) from exc
    delimiter = "\t" if data_format == "TSV" else ","
    rows = [
        row
        for row in csv.reader(io.StringIO(text), delimiter=delimiter)
        if any(cell.strip() for cell in row)
    ]
    if len(rows) < 2:
        raise ServiceError(
            "InvalidParameterValueException",
            "The terminology file needs a header row of language codes and at least one term.",
        )
    header = [cell.strip() for cell in rows[0]]
    unknown = [code for code in header if code not in SUPPORTED_LANGUAGES]
    if unknown or len(set(header)) != len(header) or len(header) < 2:
        raise ServiceError(
            "InvalidParameterValueException",
            "The header row must list two or more distinct supported language codes; "
            f"got {header}.",
        )
    entries = []
    for row in rows[1:]:
        entry = {
            language: cell.strip()
            for language, cell in zip(header, row, strict=False)
            if cell.strip()
        }
        if entry:
            entries.append(entry)
    return header, entries


# --- HTML -------------------------------------------------------------------------------------

_VOID_ELEMENTS = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
_RAW_TEXT_ELEMENTS = frozenset({"script", "style"})
_MARKUP = re.compile(r"<(?:[A-Za-z][^<>]*|/[A-Za-z][^<>]*|!--.*?--)>", re.DOTALL)


def looks_like_html(text: str) -> bool:
    """Whether `text` contains markup (a tag or a comment)."""
    return _MARKUP.search(text) is not None


@dataclass(eq=False)
class _Text:
    text: str  # decoded: escaped again when serialised


@dataclass(eq=False)
class _Raw:
    markup: str  # written back verbatim: comments, declarations, script and style bodies


@dataclass(eq=False)
class _Element:
    tag: str
    start: str  # the start tag exactly as written, attributes included
    attrs: dict[str, str | None]
    children: list[_Text | _Raw | _Element] = field(default_factory=list)
    end: str | None = None  # None when the source never closed the element

    @property
    def element_id(self) -> str | None:
        return self.attrs.get("id")


class _TreeBuilder(HTMLParser):
    """A forgiving HTML parser that keeps enough of the source to write it back unchanged."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("#document", "", {}, end="")
        self._open: list[_Element] = [self.root]

    def _append(self, node: _Text | _Raw | _Element) -> None:
        self._open[-1].children.append(node)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = _Element(tag, self.get_starttag_text() or f"<{tag}>", dict(attrs))
        self._append(element)
        if tag not in _VOID_ELEMENTS:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._append(_Element(tag, self.get_starttag_text() or f"<{tag}/>", dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, 0, -1):
            element = self._open[index]
            if element.tag == tag:
                # The parser lower-cases names; reuse the spelling of the start tag.
                element.end = f"</{element.start[1 : 1 + len(tag)]}>"
                del self._open[index:]
                return
        self._append(_Raw(f"</{tag}>"))

    def handle_data(self, data: str) -> None:
        current = self._open[-1]
        if current.tag in _RAW_TEXT_ELEMENTS:
            self._append(_Raw(data))
        elif current.children and isinstance(current.children[-1], _Text):
            current.children[-1].text += data
        else:
            self._append(_Text(data))

    def handle_comment(self, data: str) -> None:
        self._append(_Raw(f"<!--{data}-->"))

    def handle_decl(self, decl: str) -> None:
        self._append(_Raw(f"<!{decl}>"))

    def handle_pi(self, data: str) -> None:
        self._append(_Raw(f"<?{data}>"))

    def unknown_decl(self, data: str) -> None:
        self._append(_Raw(f"<![{data}]>"))


def _parse_html(text: str) -> _Element:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


def _serialize(root: _Element) -> str:
    parts: list[str] = []

    def write(node: _Text | _Raw | _Element) -> None:
        if isinstance(node, _Text):
            parts.append(html.escape(node.text, quote=False))
        elif isinstance(node, _Raw):
            parts.append(node.markup)
        else:
            parts.append(node.start)
            for child in node.children:
                write(child)
            parts.append(node.end or "")

    for child in root.children:
        write(child)
    return "".join(parts)


def _is_do_not_translate(element: _Element) -> bool:
    return (element.attrs.get("translate") or "").strip().lower() == "no"


def _translate_tree(element: _Element, convert: Callable[[str], str]) -> int:
    """Translate the text nodes under `element` in place; return the characters translated."""
    characters = 0
    for child in element.children:
        if isinstance(child, _Text):
            if child.text.strip():
                characters += len(child.text)
                child.text = convert(child.text)
        elif isinstance(child, _Element) and not _is_do_not_translate(child):
            characters += _translate_tree(child, convert)
    return characters


def _text_nodes(element: _Element) -> Iterator[_Text]:
    """The translatable text nodes under `element`, in document order."""
    for child in element.children:
        if isinstance(child, _Text):
            yield child
        elif isinstance(child, _Element) and not _is_do_not_translate(child):
            yield from _text_nodes(child)


def _sentences_across_elements(root: _Element) -> list[tuple[_Text, int]]:
    """Block elements whose text runs across two or more inline elements with an id: the
    engine translates each as one sentence, which it shows by a mark after the sentence's last
    word counting the words of the whole sentence (`⟨7⟩`), as agreement and word order in a
    real translation depend on the whole sentence. Returns the text node to mark and the count.
    """
    found = []
    for _, element in _elements(root):
        if element.tag not in _BLOCK_ELEMENTS:
            continue
        marked = [c for c in element.children if isinstance(c, _Element) and c.element_id]
        if len(marked) < 2:
            continue
        nodes = [node for node in _text_nodes(element) if _WORD.search(node.text)]
        if nodes:
            words = sum(len(_WORD.findall(node.text)) for node in nodes)
            found.append((nodes[-1], words))
    return found


def _mark_sentence_end(text: str, words: int) -> str:
    """Put the sentence mark right after the text's last translated word (and its padding)."""
    matches = list(_MARKED_WORD.finditer(text))
    if not matches:
        return text
    end = matches[-1].end()
    while text[end : end + 1] == EXPANSION_MARK:
        end += 1
    return f"{text[:end]}\u27e8{words}\u27e9{text[end:]}"


def _count_tree_characters(element: _Element) -> int:
    return _translate_tree(element, lambda text: text)


def _elements(root: _Element) -> Iterator[tuple[_Element, _Element]]:
    """Every (parent, element) pair under `root`, in document order."""
    stack: list[tuple[_Element, Iterator[_Text | _Raw | _Element]]] = [(root, iter(root.children))]
    while stack:
        parent, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        if isinstance(child, _Element):
            yield parent, child
            stack.append((child, iter(child.children)))


def _id_elements(root: _Element) -> list[tuple[_Element, _Element]]:
    return [(parent, element) for parent, element in _elements(root) if element.element_id]


def _adjacent_id_pairs(root: _Element) -> list[tuple[_Element, _Element, _Element]]:
    """(parent, first, second) for consecutive id'd siblings with only whitespace between."""
    pairs = []
    for parent in [root, *(element for _, element in _elements(root))]:
        previous: _Element | None = None
        for child in parent.children:
            if isinstance(child, _Element) and child.element_id:
                if previous is not None:
                    pairs.append((parent, previous, child))
                previous = child
            elif not (isinstance(child, _Text) and not child.text.strip()):
                previous = None
    return pairs


# --- Configuration and metering ---------------------------------------------------------------


@dataclass(frozen=True)
class JobTimings:
    """How long batch jobs take, in virtual seconds of the local clock."""

    queued_seconds: float = 30.0
    base_seconds: float = 120.0
    seconds_per_character: float = 0.005
    stop_seconds: float = 15.0


@dataclass(frozen=True)
class TranslateFaults:
    """Faults to inject: a set of `merge`, `drop`, `reorder`, `throttle`, `expand`.

    `merge`, `drop` and `reorder` damage the HTML of every output document that has at least
    three elements with an `id`, at positions chosen from `seed` and the source document.
    `throttle` answers the next `throttle_calls` calls (any operation) with
    `TooManyRequestsException`. `expand` makes every translated word 1.4 times longer (words
    kept), as a translation into a longer-running language.
    """

    modes: frozenset[str] = frozenset()
    throttle_calls: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "modes", frozenset(self.modes))
        unknown = self.modes - FAULT_MODES
        if unknown:
            raise ValueError(f"unknown fault modes {sorted(unknown)}; use {sorted(FAULT_MODES)}")
        if self.throttle_calls < 0:
            raise ValueError("throttle_calls cannot be negative")


@dataclass(frozen=True)
class FaultRecord:
    """One injected document fault: which operation, which mode, which element ids."""

    operation: str
    mode: str
    element_ids: tuple[str, ...]


class UsageMeter:
    """Characters translated, as Translate bills them (per character of source text).

    Real-time operations and batch jobs are counted apart; for HTML only text content counts,
    and a batch job counts its characters once per target language.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_operation: Counter[str] = Counter()
        self.realtime_characters = 0
        self.batch_characters = 0

    def record(self, operation: str, characters: int, *, batch: bool) -> None:
        with self._lock:
            self._by_operation[operation] += characters
            if batch:
                self.batch_characters += characters
            else:
                self.realtime_characters += characters

    @property
    def total_characters(self) -> int:
        return self.realtime_characters + self.batch_characters

    def by_operation(self) -> dict[str, int]:
        with self._lock:
            return dict(self._by_operation)


# --- Batch jobs -------------------------------------------------------------------------------


@dataclass(eq=False)
class _Job:
    job_id: str
    name: str | None
    request: dict[str, Any]
    source: str
    targets: list[str]
    terminology: _Terminology | None
    content_type: str
    input_uri: str
    input_bucket: str
    input_prefix: str
    output_bucket: str
    output_folder: str  # key prefix of the job's output folder, ending with "/"
    role_arn: str
    submitted_at: float
    queued_until: float
    fingerprint: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    status: str = "SUBMITTED"
    inputs: list[tuple[str, int]] | None = None
    scan_error: str | None = None
    end_at: float | None = None
    stop_requested_at: float | None = None
    ended_at: float | None = None
    message: str | None = None
    translated_count: int = 0
    error_count: int = 0

    @property
    def output_uri(self) -> str:
        return f"s3://{self.output_bucket}/{self.output_folder}"


class _DocumentError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Rendered:
    text: str
    characters: int
    terms: list[tuple[str, str]]


def _split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _relative_path(prefix: str, key: str) -> str:
    relative = key[len(prefix) :].lstrip("/")
    return relative or key.rsplit("/", 1)[-1]


def _prefixed_name(relative: str, target: str) -> str:
    directory, _, name = relative.rpartition("/")
    return f"{directory}/{target}.{name}" if directory else f"{target}.{name}"


def _client_error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "ClientError")


# --- The engine -------------------------------------------------------------------------------


class TranslateEngine(LocalEngine):
    """Amazon Translate on the local cloud; see the module docstring for what it emulates."""

    service_name = "translate"
    # Translate reports an oversized TranslateText with its own exception, not a validation error.
    engine_enforced_limits = frozenset({("TranslateText", "Text")})

    def __init__(
        self,
        clock: LocalClock,
        s3_for_role: Callable[[str], Any],
        *,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        faults: TranslateFaults | None = None,
        timings: JobTimings | None = None,
    ) -> None:
        super().__init__(clock, account_id, region)
        self._faults = faults or TranslateFaults()
        self.timings = timings or JobTimings()
        self.usage = UsageMeter()
        self.fault_log: list[FaultRecord] = []
        self.max_batch_document_bytes = MAX_BATCH_DOCUMENT_BYTES
        self.max_batch_document_characters = MAX_BATCH_DOCUMENT_CHARACTERS
        self._s3_for_role = s3_for_role
        self._fault_lock = threading.Lock()
        self._terminologies: dict[str, _Terminology] = {}
        self._jobs: dict[str, _Job] = {}
        self._client_tokens: dict[str, _Job] = {}
        self._throttle_remaining = (
            self.faults.throttle_calls if "throttle" in self.faults.modes else 0
        )
        self._operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "TranslateText": self._translate_text,
            "TranslateDocument": self._translate_document,
            "ListLanguages": self._list_languages,
            "ImportTerminology": self._import_terminology,
            "GetTerminology": self._get_terminology,
            "ListTerminologies": self._list_terminologies,
            "DeleteTerminology": self._delete_terminology,
            "StartTextTranslationJob": self._start_job,
            "DescribeTextTranslationJob": self._describe_job,
            "ListTextTranslationJobs": self._list_jobs,
            "StopTextTranslationJob": self._stop_job,
        }

    # -- dispatch -------------------------------------------------------------------------------

    def handle(self, operation: str, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        self._consume_throttle()
        handler = self._handler(self._operations, operation)
        return handler(params)

    @property
    def faults(self) -> TranslateFaults:
        return self._faults

    @faults.setter
    def faults(self, faults: TranslateFaults) -> None:
        """Replace the fault modes; throttling starts counting anew."""
        with self._lock:
            self._faults = faults
            self._throttle_remaining = faults.throttle_calls if "throttle" in faults.modes else 0

    def arm_throttle(self, calls: int | None = None) -> None:
        """Throttle the next `calls` calls (default: the configured `throttle_calls`)."""
        with self._lock:
            self._throttle_remaining = self.faults.throttle_calls if calls is None else calls

    def _consume_throttle(self) -> None:
        with self._lock:
            if self._throttle_remaining <= 0:
                return
            self._throttle_remaining -= 1
        raise ServiceError("TooManyRequestsException", "Rate exceeded.")

    # -- translation ----------------------------------------------------------------------------

    def _check_pair(self, source: str, target: str, *, batch: bool) -> None:
        source_ok = source in SUPPORTED_LANGUAGES or (batch and source == AUTO_SOURCE)
        if source_ok and target in SUPPORTED_LANGUAGES:
            return
        message = f"Unsupported language pair: {source} to {target}."
        if source == AUTO_SOURCE and not batch:
            message += (
                " The local Translate engine does not detect languages; 'auto' is accepted"
                " only as the source of batch jobs."
            )
        raise ServiceError(
            "UnsupportedLanguagePairException",
            message,
            fields={"SourceLanguageCode": source, "TargetLanguageCode": target},
        )

    def _requested_terminology(self, names: list[str] | None) -> _Terminology | None:
        if not names:
            return None
        if len(names) > 1:
            raise ServiceError(
                "InvalidRequestException", "You can use at most one terminology per request."
            )
        return self._terminology(names[0])

    def _render(
        self,
        text: str,
        source: str,
        target: str,
        *,
        as_html: bool,
        matcher: _TermMatcher | None,
        operation: str,
        brief: bool = False,
    ) -> _Rendered:
        applied: dict[tuple[str, str], None] = {}

        # brevity gives the shorter translation: the `expand` fault's padding is left out
        expand = "expand" in self.faults.modes and not brief

        def convert(segment: str) -> str:
            if source == target:
                return segment
            if matcher is None:
                return pseudo_translate(segment, target, expand=expand)
            return matcher.apply(
                segment, lambda piece: pseudo_translate(piece, target, expand=expand), applied
            )

        if not as_html:
            return _Rendered(convert(text), len(text), list(applied))
        root = _parse_html(text)
        sentences = _sentences_across_elements(root)
        characters = _translate_tree(root, convert)
        if source != target:
            for last_text, words in sentences:
                last_text.text = _mark_sentence_end(last_text.text, words)
        self._inject_faults(root, text, operation)
        return _Rendered(_serialize(root), characters, list(applied))

    def _inject_faults(self, root: _Element, source_text: str, operation: str) -> None:
        document_modes = [
            mode for mode in ("drop", "merge", "reorder") if mode in self.faults.modes
        ]
        if not document_modes or len(_id_elements(root)) < MIN_FAULT_ELEMENTS:
            return
        digest = hashlib.sha256(source_text.encode("utf-8")).hexdigest()
        for mode in document_modes:
            rng = random.Random(f"{self.faults.seed}:{mode}:{digest}")
            ids: tuple[str, ...] = ()
            if mode == "drop":
                candidates = _id_elements(root)
                if candidates:
                    parent, victim = rng.choice(candidates)
                    parent.children.remove(victim)
                    ids = (victim.element_id or "",)
            else:
                pairs = _adjacent_id_pairs(root)
                if mode == "merge":
                    pairs = [pair for pair in pairs if pair[1].tag not in _VOID_ELEMENTS]
                if pairs:
                    parent, first, second = rng.choice(pairs)
                    if mode == "merge":
                        first.children.append(_Text(" "))
                        first.children.extend(second.children)
                        parent.children.remove(second)
                    else:
                        a, b = parent.children.index(first), parent.children.index(second)
                        parent.children[a], parent.children[b] = second, first
                    ids = (first.element_id or "", second.element_id or "")
            if ids:
                with self._fault_lock:
                    self.fault_log.append(FaultRecord(operation, mode, ids))

    @staticmethod
    def _applied_terminologies(
        matcher: _TermMatcher | None, terms: list[tuple[str, str]]
    ) -> list[dict[str, Any]] | None:
        if matcher is None:
            return None
        return [
            {
                "Name": matcher.name,
                "Terms": [{"SourceText": s, "TargetText": t} for s, t in terms],
            }
        ]

    def _translate_text(self, params: dict[str, Any]) -> dict[str, Any]:
        text: str = params["Text"]
        source, target = params["SourceLanguageCode"], params["TargetLanguageCode"]
        size = len(text.encode("utf-8"))
        if size > MAX_TEXT_BYTES:
            raise ServiceError(
                "TextSizeLimitExceededException",
                f"Input text size exceeds limit. Max length of request text allowed is "
                f"{MAX_TEXT_BYTES} bytes while in this request the text size is {size} bytes",
            )
        brief = (params.get("Settings") or {}).get("Brevity") == "ON" and (
            target in BREVITY_LANGUAGES or (source in BREVITY_LANGUAGES and target == "en")
        )
        return self._translation(
            "TranslateText",
            text,
            source,
            target,
            params,
            as_html=looks_like_html(text),
            brief=brief,
            answer=lambda translated: {"TranslatedText": translated},
        )

    def _translate_document(self, params: dict[str, Any]) -> dict[str, Any]:
        document = params["Document"]
        content_type: str = document["ContentType"]
        source, target = params["SourceLanguageCode"], params["TargetLanguageCode"]
        if content_type == DOCX:
            raise ServiceError(
                "InvalidRequestException",
                "The local Translate engine does not process Word documents; it translates "
                "text/plain and text/html only.",
            )
        if content_type not in TEXT_CONTENT_TYPES:
            raise ServiceError(
                "InvalidRequestException", f"The content type {content_type} is not supported."
            )
        try:
            text = bytes(document["Content"]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ServiceError(
                "InvalidRequestException", "The document content must be UTF-8 encoded."
            ) from exc
        return self._translation(
            "TranslateDocument",
            text,
            source,
            target,
            params,
            as_html=content_type == "text/html",
            brief=False,
            answer=lambda translated: {"TranslatedDocument": {"Content": translated.encode()}},
        )

    def _translation(
        self,
        operation: str,
        text: str,
        source: str,
        target: str,
        params: dict[str, Any],
        *,
        as_html: bool,
        brief: bool,
        answer: Callable[[str], dict[str, Any]],
    ) -> dict[str, Any]:
        """A real-time translation (TranslateText, TranslateDocument), metered, and its answer:
        `answer(translated text)`, the language pair, and the terminologies and settings that
        applied."""
        self._check_pair(source, target, batch=False)
        terminology = self._requested_terminology(params.get("TerminologyNames"))
        matcher = terminology.matcher(source, target) if terminology else None
        rendered = self._render(
            text,
            source,
            target,
            as_html=as_html,
            matcher=matcher,
            operation=operation,
            brief=brief,
        )
        self.usage.record(operation, rendered.characters, batch=False)
        result = {
            **answer(rendered.text),
            "SourceLanguageCode": source,
            "TargetLanguageCode": target,
        }
        applied = self._applied_terminologies(matcher, rendered.terms)
        if applied is not None:
            result["AppliedTerminologies"] = applied
        if params.get("Settings"):
            result["AppliedSettings"] = params["Settings"]
        return result

    def _list_languages(self, params: dict[str, Any]) -> dict[str, Any]:
        # Language names are always English: the engine has no localised names.
        languages = [
            {"LanguageName": name, "LanguageCode": code}
            for code, name in SUPPORTED_LANGUAGES.items()
        ]
        page, token = page_by_key(
            languages,
            lambda language: (language["LanguageCode"],),
            params.get("NextToken"),
            params.get("MaxResults", 500),
            "InvalidParameterValueException",
        )
        result: dict[str, Any] = {
            "Languages": page,
            "DisplayLanguageCode": params.get("DisplayLanguageCode", "en"),
        }
        if token:
            result["NextToken"] = token
        return result

    # -- terminology ----------------------------------------------------------------------------

    def _import_terminology(self, params: dict[str, Any]) -> dict[str, Any]:
        name: str = params["Name"]
        data = params["TerminologyData"]
        data_format: str = data["Format"]
        file_bytes = bytes(data["File"])
        languages, entries = _parse_terminology_file(file_bytes, data_format)
        now = self.clock.now()
        with self._lock:
            existing = self._terminologies.get(name)
            terminology = _Terminology(
                name=name,
                description=params.get("Description"),
                arn=f"arn:aws:translate:{self.region}:{self.account_id}:terminology/{name}/LATEST",
                languages=tuple(languages),
                entries=tuple(entries),
                directionality=data.get("Directionality", "UNI"),
                data_format=data_format,
                size_bytes=len(file_bytes),
                created_at=existing.created_at if existing else now,
                updated_at=now,
                encryption_key=params.get("EncryptionKey"),
            )
            self._terminologies[name] = terminology
        return {"TerminologyProperties": terminology.properties()}

    def _terminology(self, name: str) -> _Terminology:
        missing = ServiceError(
            "ResourceNotFoundException", f"The terminology {name} does not exist."
        )
        with self._lock:
            return existing(self._terminologies, name, missing)

    def _get_terminology(self, params: dict[str, Any]) -> dict[str, Any]:
        terminology = self._terminology(params["Name"])
        data_format = params.get("TerminologyDataFormat", terminology.data_format)
        if data_format == "TMX":
            raise ServiceError(
                "InvalidParameterValueException",
                "The local Translate engine exports terminologies as CSV or TSV, not TMX.",
            )
        encoded = base64.b64encode(terminology.export(data_format)).decode("ascii")
        media_type = "text/tab-separated-values" if data_format == "TSV" else "text/csv"
        return {
            "TerminologyProperties": terminology.properties(),
            # The service returns a presigned S3 URL; a data URL keeps the file readable offline.
            "TerminologyDataLocation": {
                "RepositoryType": "S3",
                "Location": f"data:{media_type};base64,{encoded}",
            },
        }

    def _list_terminologies(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            terminologies = list(self._terminologies.values())
        page, token = page_by_key(
            terminologies,
            lambda terminology: (terminology.name,),
            params.get("NextToken"),
            params.get("MaxResults", 100),
            "InvalidParameterValueException",
        )
        result: dict[str, Any] = {"TerminologyPropertiesList": [t.properties() for t in page]}
        if token:
            result["NextToken"] = token
        return result

    def _delete_terminology(self, params: dict[str, Any]) -> dict[str, Any]:
        name: str = params["Name"]
        with self._lock:
            if self._terminologies.pop(name, None) is None:
                raise ServiceError(
                    "ResourceNotFoundException", f"The terminology {name} does not exist."
                )
        return {}

    # -- batch jobs -----------------------------------------------------------------------------

    def _start_job(self, params: dict[str, Any]) -> dict[str, Any]:
        token: str = params["ClientToken"]
        request = {key: value for key, value in params.items() if key != "ClientToken"}
        fingerprint = json.dumps(request, sort_keys=True, default=str)
        with self._lock:
            previous = self._client_tokens.get(token)
            if previous is None:
                job = self._new_job(request, fingerprint, self.job_id_for(token))
                self._jobs[job.job_id] = job
                self._client_tokens[token] = job
                return {"JobId": job.job_id, "JobStatus": job.status}
        if previous.fingerprint != fingerprint:
            raise ServiceError(
                "InvalidRequestException",
                f"The ClientToken {token} was already used for a different "
                "StartTextTranslationJob request.",
            )
        # Observed outside the engine lock: a job lock is never awaited while holding it.
        return {"JobId": previous.job_id, "JobStatus": self._observe(previous)}

    def job_id_for(self, client_token: str) -> str:
        """The JobId a job started with `client_token` gets (`token_derived_id`)."""
        return token_derived_id(_JOB_ID_NAMESPACE, self.account_id, self.region, client_token)

    def _new_job(self, request: dict[str, Any], fingerprint: str, job_id: str) -> _Job:
        source: str = request["SourceLanguageCode"]
        targets = list(dict.fromkeys(request["TargetLanguageCodes"]))
        if len(targets) > MAX_TARGET_LANGUAGES:
            raise ServiceError(
                "InvalidRequestException",
                f"A batch job can translate into at most {MAX_TARGET_LANGUAGES} target "
                f"languages; {len(targets)} were requested.",
            )
        for target in targets:
            self._check_pair(source, target, batch=True)
        content_type: str = request["InputDataConfig"]["ContentType"]
        if content_type not in DOCUMENTED_BATCH_CONTENT_TYPES:
            raise ServiceError(
                "InvalidRequestException", f"The content type {content_type} is not supported."
            )
        terminology = self._requested_terminology(request.get("TerminologyNames"))
        parallel_data = request.get("ParallelDataNames") or []
        if parallel_data:
            # The engine has no parallel data, so any name refers to a missing resource.
            raise ServiceError(
                "ResourceNotFoundException", f"The parallel data {parallel_data[0]} does not exist."
            )
        input_uri: str = request["InputDataConfig"]["S3Uri"]
        input_bucket, input_prefix = _split_s3_uri(input_uri)
        output_bucket, output_prefix = _split_s3_uri(request["OutputDataConfig"]["S3Uri"])
        if output_prefix and not output_prefix.endswith("/"):
            output_prefix += "/"
        submitted_at = self.clock.time()
        return _Job(
            job_id=job_id,
            name=request.get("JobName"),
            request=request,
            source=source,
            targets=targets,
            terminology=terminology,
            content_type=content_type,
            input_uri=input_uri,
            input_bucket=input_bucket,
            input_prefix=input_prefix,
            output_bucket=output_bucket,
            output_folder=f"{output_prefix}{self.account_id}-TranslateText-{job_id}/",
            role_arn=request["DataAccessRoleArn"],
            submitted_at=submitted_at,
            queued_until=submitted_at + self.timings.queued_seconds,
            fingerprint=fingerprint,
        )

    def _job(self, job_id: str) -> _Job:
        missing = ServiceError("ResourceNotFoundException", f"The job {job_id} does not exist.")
        with self._lock:
            return existing(self._jobs, job_id, missing)

    def poll(self) -> None:
        """Bring every unfinished job up to date with the clock (writes the outputs of jobs
        that have ended). Describing or listing jobs does the same for the jobs it returns."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            self._observe(job)

    def _observe(self, job: _Job) -> str:
        with job.lock:
            return self._advance(job)

    def _advance(self, job: _Job) -> str:
        """The job's status now; runs the job the first time it is seen past its end time."""
        if job.status in TERMINAL_STATUSES:
            return job.status
        now = self.clock.time()
        if job.stop_requested_at is not None:
            stopped_at = job.stop_requested_at + self.timings.stop_seconds
            if now >= stopped_at:
                job.status, job.ended_at = "STOPPED", stopped_at
                job.message = "The job was stopped before it completed."
            else:
                job.status = "STOP_REQUESTED"
            return job.status
        if now < job.queued_until:
            job.status = "SUBMITTED"
            return job.status
        end_at = job.end_at if job.end_at is not None else self._scan_input(job)
        if now < end_at:
            job.status = "IN_PROGRESS"
            return job.status
        self._run_job(job)
        job.ended_at = end_at
        return job.status

    def _scan_input(self, job: _Job) -> float:
        """List the input when the job starts running; its size sets the job's duration."""
        inputs: list[tuple[str, int]] = []
        try:
            s3 = self._s3_for_role(job.role_arn)
            paginator = s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=job.input_bucket, Prefix=job.input_prefix):
                for item in page.get("Contents", []):
                    if not item["Key"].endswith("/"):  # skip folder placeholder objects
                        inputs.append((item["Key"], int(item["Size"])))
        except ClientError as exc:
            job.scan_error = (
                f"Amazon Translate could not read the input location {job.input_uri} with the "
                f"data access role: {_client_error_code(exc)}."
            )
        except Exception as exc:  # an unreadable location fails the job, as on AWS
            job.scan_error = f"Amazon Translate could not read {job.input_uri}: {exc}"
        job.inputs = inputs
        characters = sum(size for _, size in inputs)
        job.end_at = (
            job.queued_until
            + self.timings.base_seconds
            + characters * self.timings.seconds_per_character
        )
        return job.end_at

    def _fail(self, job: _Job, message: str) -> None:
        job.status, job.message = "FAILED", message

    def _run_job(self, job: _Job) -> None:
        if job.content_type not in TEXT_CONTENT_TYPES:
            self._fail(
                job,
                f"The local Translate engine does not process {job.content_type} documents; "
                "it translates text/plain and text/html only.",
            )
            return
        if job.scan_error:
            self._fail(job, job.scan_error)
            return
        if not job.inputs:
            self._fail(job, f"The input location {job.input_uri} contains no documents.")
            return
        s3 = self._s3_for_role(job.role_arn)
        matchers = {
            target: job.terminology.matcher(job.source, target) if job.terminology else None
            for target in job.targets
        }
        details: dict[str, list[dict[str, Any]]] = {target: [] for target in job.targets}
        characters: Counter[str] = Counter()
        for key, size in job.inputs:
            relative = _relative_path(job.input_prefix, key)
            try:
                entries, counts = self._translate_object(
                    s3, job=job, key=key, size=size, relative=relative, matchers=matchers
                )
            except _DocumentError as error:
                job.error_count += 1
                for target in job.targets:
                    details[target].append(
                        {
                            "sourceFile": relative,
                            "errorCode": error.code,
                            "errorMessage": error.message,
                        }
                    )
                continue
            job.translated_count += 1
            for target in job.targets:
                details[target].append(entries[target])
                characters[target] += counts[target]
        try:
            for target in job.targets:
                s3.put_object(
                    Bucket=job.output_bucket,
                    Key=f"{job.output_folder}details/{target}.auxiliary-translation-details.json",
                    Body=json.dumps(
                        self._details_document(job, target, characters[target], details[target]),
                        indent=2,
                        ensure_ascii=False,
                    ).encode("utf-8"),
                    ContentType="application/json",
                )
        except ClientError as exc:
            self._fail(
                job,
                f"Amazon Translate could not write to {job.output_uri} with the data access "
                f"role: {_client_error_code(exc)}.",
            )
            return
        self.usage.record("StartTextTranslationJob", sum(characters.values()), batch=True)
        if job.error_count == len(job.inputs):
            self._fail(
                job,
                f"None of the {len(job.inputs)} input documents could be translated; see the "
                f"details folder of {job.output_uri}.",
            )
        elif job.error_count:
            job.status = "COMPLETED_WITH_ERROR"
            job.message = (
                f"{job.error_count} of {len(job.inputs)} documents could not be translated; see "
                f"the details folder of {job.output_uri}."
            )
        else:
            job.status, job.message = "COMPLETED", COMPLETED_MESSAGE

    def _translate_object(
        self,
        s3: Any,
        *,
        job: _Job,
        key: str,
        size: int,
        relative: str,
        matchers: Mapping[str, _TermMatcher | None],
    ) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
        """Translate one input object into every target; raises `_DocumentError`."""
        if size > self.max_batch_document_bytes:
            raise _DocumentError(
                "DOCUMENT_SIZE_LIMIT_EXCEEDED",
                f"The document is {size} bytes; documents are limited to "
                f"{self.max_batch_document_bytes} bytes.",
            )
        try:
            body = s3.get_object(Bucket=job.input_bucket, Key=key)["Body"].read()
        except ClientError as exc:
            raise _DocumentError(
                _client_error_code(exc), f"The data access role could not read {key}."
            ) from exc
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _DocumentError("INVALID_UTF8", "The document is not valid UTF-8.") from exc
        as_html = job.content_type == "text/html"
        translatable = _count_tree_characters(_parse_html(text)) if as_html else len(text)
        if translatable >= self.max_batch_document_characters:
            raise _DocumentError(
                "TEXT_SIZE_LIMIT_EXCEEDED",
                f"The document has {translatable} characters of text; documents must have "
                f"fewer than {self.max_batch_document_characters}.",
            )
        entries: dict[str, dict[str, Any]] = {}
        counts: dict[str, int] = {}
        for target in job.targets:
            matcher = matchers[target]
            rendered = self._render(
                text,
                job.source,
                target,
                as_html=as_html,
                matcher=matcher,
                operation="StartTextTranslationJob",
            )
            target_file = _prefixed_name(relative, target)
            try:
                s3.put_object(
                    Bucket=job.output_bucket,
                    Key=f"{job.output_folder}{target_file}",
                    Body=rendered.text.encode("utf-8"),
                    ContentType=job.content_type,
                )
            except ClientError as exc:
                raise _DocumentError(
                    _client_error_code(exc),
                    f"The data access role could not write {job.output_folder}{target_file}.",
                ) from exc
            entry: dict[str, Any] = {"sourceFile": relative, "targetFile": target_file}
            if matcher is not None and rendered.terms:
                entry["auxiliaryData"] = {
                    "appliedTerminologies": [
                        {
                            "name": matcher.name,
                            "terms": [
                                {"sourceText": s, "targetText": t} for s, t in rendered.terms
                            ],
                        }
                    ]
                }
            entries[target] = entry
            counts[target] = rendered.characters
        return entries, counts

    def _details_document(
        self, job: _Job, target: str, characters: int, details: list[dict[str, Any]]
    ) -> dict[str, Any]:
        # Counts are strings, as in the documented example of the auxiliary file.
        return {
            "sourceLanguageCode": job.source,
            "targetLanguageCode": target,
            "charactersTranslated": str(characters),
            "documentCountWithCustomerError": str(job.error_count),
            "documentCountWithServerError": "0",
            "inputDataPrefix": job.input_uri,
            "outputDataPrefix": job.output_uri,
            "details": details,
        }

    def _job_properties(self, job: _Job) -> dict[str, Any]:
        request = job.request
        props: dict[str, Any] = {
            "JobId": job.job_id,
            "JobStatus": job.status,
            "JobDetails": {
                "TranslatedDocumentsCount": job.translated_count,
                "DocumentsWithErrorsCount": job.error_count,
                "InputDocumentsCount": len(job.inputs or []),
            },
            "SourceLanguageCode": job.source,
            "TargetLanguageCodes": list(job.targets),
            "TerminologyNames": list(request.get("TerminologyNames") or []),
            "ParallelDataNames": list(request.get("ParallelDataNames") or []),
            "SubmittedTime": datetime.fromtimestamp(job.submitted_at, UTC),
            "InputDataConfig": dict(request["InputDataConfig"]),
            "OutputDataConfig": {**request["OutputDataConfig"], "S3Uri": job.output_uri},
            "DataAccessRoleArn": job.role_arn,
        }
        if job.name is not None:
            props["JobName"] = job.name
        if job.message is not None:
            props["Message"] = job.message
        if job.ended_at is not None:
            props["EndTime"] = datetime.fromtimestamp(job.ended_at, UTC)
        if request.get("Settings"):
            props["Settings"] = request["Settings"]
        return props

    def _describe_job(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self._job(params["JobId"])
        with job.lock:
            self._advance(job)
            return {"TextTranslationJobProperties": self._job_properties(job)}

    def _list_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        filters = params.get("Filter") or {}
        kinds = {
            kind
            for kind, keys in (
                ("name", ("JobName",)),
                ("status", ("JobStatus",)),
                ("time", ("SubmittedBeforeTime", "SubmittedAfterTime")),
            )
            if any(key in filters for key in keys)
        }
        if len(kinds) > 1:
            raise ServiceError(
                "InvalidFilterException",
                "Filter by job name, job status or submission time, one at a time.",
            )
        with self._lock:
            jobs = list(self._jobs.values())
        selected: list[dict[str, Any]] = []
        for job in jobs:
            with job.lock:
                self._advance(job)
                props = self._job_properties(job)
            if self._matches(props, filters):
                selected.append(props)
        page, token = page_by_key(
            selected,
            # Newest first; the job id breaks ties between jobs submitted at the same moment.
            lambda props: (-props["SubmittedTime"].timestamp(), props["JobId"]),
            params.get("NextToken"),
            params.get("MaxResults", 100),
            "InvalidRequestException",
        )
        result: dict[str, Any] = {"TextTranslationJobPropertiesList": page}
        if token:
            result["NextToken"] = token
        return result

    @staticmethod
    def _matches(props: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
        if "JobName" in filters and props.get("JobName") != filters["JobName"]:
            return False
        if "JobStatus" in filters and props["JobStatus"] != filters["JobStatus"]:
            return False
        submitted: datetime = props["SubmittedTime"]
        if "SubmittedBeforeTime" in filters and not submitted < filters["SubmittedBeforeTime"]:
            return False
        return not (
            "SubmittedAfterTime" in filters and not submitted > filters["SubmittedAfterTime"]
        )

    def _stop_job(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self._job(params["JobId"])
        with job.lock:
            status = self._advance(job)
            if status in ("SUBMITTED", "IN_PROGRESS"):
                job.stop_requested_at = self.clock.time()
                job.status = status = "STOP_REQUESTED"
        return {"JobId": job.job_id, "JobStatus": status}
