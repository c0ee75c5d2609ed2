"""HTML documents for translation, and matching translated documents back to cues by id.

Each cue with something to translate becomes `<p id="c{index}">...</p>`; cues with no letter
or digit (empty, only tags, only music notes) are not sent and keep their text. A sentence that
runs over several cues is sent as one paragraph, `<p id="s{first}">`, with each cue's part
marked `<span id="c{index}">`, so Translate sees the whole sentence (word order, agreement) and
the markers bring each part back to its own cue. Translated documents that kept the shape they
were sent in are read by one regular expression that proves that shape (`shaped`), any other
with `html.parser`'s callbacks, never split on strings; text Translate moved outside the
markers is attached to the neighbouring cue, and every cue whose translation cannot be trusted
(lost or duplicated marker, nesting, empty) is reported as a suspect to re-translate on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from .errors import CueTooLargeError
from .html_events import FastParser
from .markup import (
    ON_CHARREF,
    ON_DATA,
    ON_END,
    ON_ENTITY,
    ON_START,
    VOID_ELEMENTS,
    Attributes,
    HtmlEvent,
    cue_text_from_events,
    cue_text_to_html,
    depth_after_end_tag,
    has_translatable_text,
    has_visible_text,
    tidy_translated_text,
    translatable_plain_text,
)
from .model import CaptionFile, CaptionFormat, Cue, format_timestamp
from .shaped import (
    DOCUMENT_END,
    DOCUMENT_START,
    Content,
    shaped_elements,
    simple_cue_text,
    voiced_cue_text,
)

_WRAPPER_BYTES = len((DOCUMENT_START + DOCUMENT_END).encode("utf-8"))
_CUE_ID = re.compile(r"c(0|[1-9][0-9]*)")
_SENTENCE_ID = re.compile(r"s(0|[1-9][0-9]*)")
MAX_SENTENCE_CUES = 5
# what ends a sentence, once closing quotes and brackets are set aside
_SENTENCE_END = frozenset(".!?\u2026\u3002\uff01\uff1f\u266a\u266b:;")
_TRAILING_CLOSERS = "\"'\u201d\u2019\u00bb)]}\u300d\u300f \t\n"
_DIALOGUE_LINE = re.compile(r"^[ \t]*[-\u2010\u2013\u2014]", re.MULTILINE)
_VOICE = re.compile(r"<v(?:\.[^ \t\f>]*)?[ \t\f]+([^>]*)>")


def cue_element(cue: Cue, fmt: CaptionFormat) -> str:
    """The HTML element of one cue."""
    return f'<p id="c{cue.index}">{cue_text_to_html(cue.text, fmt)}</p>'


def sentence_element(cues: Sequence[Cue], fmt: CaptionFormat) -> str:
    """One paragraph for cues that form one sentence, each cue's part in a marked span."""
    if len(cues) == 1:
        return cue_element(cues[0], fmt)
    parts = " ".join(
        [f'<span id="c{cue.index}">{cue_text_to_html(cue.text, fmt)}</span>' for cue in cues]
    )
    return f'<p id="s{cues[0].index}">{parts}</p>'


def _ends_sentence(visible: str) -> bool:
    """Whether the text a viewer reads (`plain_text`) ends with sentence punctuation."""
    text = visible.rstrip(_TRAILING_CLOSERS)
    return not text or text[-1] in _SENTENCE_END


def _is_dialogue(text: str) -> bool:
    """Whether a line starts with a dash (the search runs only when the text has one)."""
    return (
        "-" in text or "\u2010" in text or "\u2013" in text or "\u2014" in text
    ) and _DIALOGUE_LINE.search(text) is not None


def _voice(text: str) -> str | None:
    match = _VOICE.search(text)
    return match.group(1).strip() if match else None


def sentence_groups(doc: CaptionFile) -> list[list[int]]:
    """The translatable cues grouped into sentences, in order.

    A cue continues the previous one's sentence when that one does not end with sentence
    punctuation, the two are consecutive cues, and neither is a dialogue cue (a line starting
    with a dash: each speaker's line is its own sentence) and both have the same WebVTT voice
    (or none), the same cue settings and no SRT position override (a positioned cue is a sign
    or a title, not dialogue); a group holds at most
    `MAX_SENTENCE_CUES` cues.
    """
    return list(_sentence_groups(doc))


def _sentence_groups(doc: CaptionFile) -> Iterator[list[int]]:
    """`sentence_groups` one at a time, each once it is complete (so a long file's groups
    are not all kept)."""
    fmt = doc.format
    group: list[int] = []
    # what the next cue needs to know of the previous one: whether a sentence may run on
    # from it, and its voice and settings
    previous_index = -2
    runs_on = False
    previous_voice: str | None = None
    previous_settings = ""
    for cue in doc.cues:
        text = cue.text
        visible = translatable_plain_text(text, fmt)
        if visible is None:  # not sent
            continue
        index = cue.index
        alone = _is_dialogue(text) or "{\\" in text
        voice = _voice(text) if "<v" in text else None
        if (
            runs_on
            and previous_index == index - 1
            and len(group) < MAX_SENTENCE_CUES
            and not alone
            and previous_voice == voice
            and previous_settings == cue.settings
        ):
            group.append(index)
        else:
            if group:
                yield group
            group = [index]
        previous_index = index
        runs_on = not alone and not _ends_sentence(visible)
        previous_voice = voice
        previous_settings = cue.settings
    if group:
        yield group


def wrap_document(elements: Sequence[str]) -> str:
    """Wrap cue elements in an HTML document."""
    return DOCUMENT_START + "".join(elements) + DOCUMENT_END


def translatable_indices(doc: CaptionFile) -> list[int]:
    """Indices of the cues sent for translation, in order."""
    fmt = doc.format
    return [cue.index for cue in doc.cues if has_translatable_text(cue.text, fmt)]


def to_html_documents(doc: CaptionFile, max_bytes: int) -> list[str]:
    """Split the translatable cues into HTML documents of at most `max_bytes` UTF-8 bytes.

    Documents hold whole cues, in order. Raises `CueTooLargeError` when one cue alone cannot
    fit, and ValueError when `max_bytes` cannot even hold the document wrapper.
    """
    room = max_bytes - _WRAPPER_BYTES
    if room <= 0:
        raise ValueError(f"max_bytes must exceed {_WRAPPER_BYTES}, got {max_bytes}")
    documents: list[str] = []
    current: list[str] = []
    used = 0
    for element, size in _paragraphs(doc, room, max_bytes):
        if used + size > room:
            documents.append(wrap_document(current))
            current, used = [], 0
        current.append(element)
        used += size
    if current:
        documents.append(wrap_document(current))
    return documents


def _paragraphs(doc: CaptionFile, room: int, max_bytes: int) -> Iterator[tuple[str, int]]:
    """Each paragraph to send and its UTF-8 size: a sentence's cues as one paragraph, or on
    their own when it is over `room` bytes; `CueTooLargeError` for a cue over it alone."""
    fmt = doc.format
    cues = doc.cues
    for group in _sentence_groups(doc):
        if len(group) == 1:
            element = cue_element(cues[group[0]], fmt)
        else:
            element = sentence_element([cues[index] for index in group], fmt)
        size = len(element) if element.isascii() else len(element.encode("utf-8"))
        if size <= room:
            yield element, size
            continue
        for index in group:  # too long as one paragraph: its cues on their own
            cue = cues[index]
            element = cue_element(cue, fmt)
            size = len(element.encode("utf-8"))
            if size > room:
                raise CueTooLargeError(
                    f"cue {cue.index + 1} (starting {format_timestamp(cue.start_ms, fmt)}) "
                    f"is {size + _WRAPPER_BYTES} bytes as an HTML document, more than the "
                    f"{max_bytes}-byte limit of one translation request; split it into shorter "
                    "cues",
                    cue_index=cue.index,
                    size=size + _WRAPPER_BYTES,
                )
            yield element, size


# --- reading translated HTML ------------------------------------------------------------------


@dataclass
class TranslatedElements:
    """What a translated document holds, by cue index.

    `fragments` lists the inner HTML of every element with that id (more than one when the id
    is duplicated) and `events` the same content as parser events, so it is read without
    parsing it again; `containing_nested` are cue elements with another cue element inside (a
    merge), `nested` the cue elements found inside another one. Text of a sentence paragraph
    outside its cue markers is attached to the cue before it (the cue after it when it comes
    first): `attached` names the cues that received only punctuation, `strayed` those that
    received words, which may belong to another cue and make them suspects.
    """

    fragments: dict[int, list[str]] = field(default_factory=dict)
    events: dict[int, list[list[HtmlEvent]]] = field(default_factory=dict)
    containing_nested: set[int] = field(default_factory=set)
    nested: set[int] = field(default_factory=set)
    attached: set[int] = field(default_factory=set)  # got punctuation found outside markers
    strayed: set[int] = field(default_factory=set)  # got words found outside markers

    def text_of(self, index: int, fmt: CaptionFormat, occurrence: int = 0) -> str:
        """The cue text of one element with that id, tidied for writing back."""
        return tidy_translated_text(cue_text_from_events(self.events[index][occurrence], fmt), fmt)


def parse_translated_html(document: str) -> TranslatedElements:
    """Collect the cue elements of a translated HTML document."""
    collector = _Collector()
    collector.read(document)
    return collector.found


def _cue_id(attrs: Attributes) -> int | None:
    for key, value in attrs:
        if key == "id" and value is not None:
            match = _CUE_ID.fullmatch(value.strip())
            if match:
                return int(match.group(1))
    return None


def _is_sentence(attrs: Attributes) -> bool:
    return any(
        key == "id" and value is not None and _SENTENCE_ID.fullmatch(value.strip())
        for key, value in attrs
    )


@dataclass
class _OpenCue:
    index: int
    html: list[str] = field(default_factory=list)
    events: list[HtmlEvent] = field(default_factory=list)


class _Collector(FastParser):
    """Record the content of every open cue element, as HTML text and as parser events."""

    def __init__(self) -> None:
        super().__init__()
        self.found = TranslatedElements()
        self.stack: list[tuple[str, int | None]] = []
        self.open_cues: list[_OpenCue] = []
        self.sentence_depth = 0  # open sentence paragraphs
        self.last_in_sentence: int | None = None  # the sentence's last closed cue
        self.stray: list[tuple[str, HtmlEvent]] = []  # text before the sentence's first cue

    def _emit(self, html_text: str, event: HtmlEvent) -> None:
        for cue in self.open_cues:
            cue.html.append(html_text)
            cue.events.append(event)

    def _store(self, index: int, html_text: str, events: list[HtmlEvent]) -> None:
        self.found.fragments.setdefault(index, []).append(html_text)
        self.found.events.setdefault(index, []).append(events)

    def _open_cue(self, index: int, tag: str, attrs: Attributes) -> None:
        if self.open_cues:
            self.found.nested.add(index)
            self.found.containing_nested.update(cue.index for cue in self.open_cues)
            self._emit(self.get_starttag_text() or "", (ON_START, tag, attrs))

    def _outside(self, html_text: str, event: HtmlEvent) -> bool:
        """Keep text found in a sentence paragraph outside every cue marker; False elsewhere."""
        if self.open_cues or not self.sentence_depth:
            return False
        if event[0] == ON_DATA and not event[1].strip():
            return True
        if self.last_in_sentence is None:
            self.stray.append((html_text, event))
            return True
        index = self.last_in_sentence
        self.found.fragments[index][-1] += html_text
        self.found.events[index][-1].append(event)
        self._note_attached(index, [event])
        return True

    def _note_attached(self, index: int, events: list[HtmlEvent]) -> None:
        words = any(
            kind == ON_DATA and has_translatable_text(text, "srt") for kind, text, _ in events
        )
        (self.found.strayed if words else self.found.attached).add(index)

    def handle_starttag(self, tag: str, attrs: Attributes) -> None:
        index = _cue_id(attrs)
        if index is None:
            if _is_sentence(attrs) and not self.open_cues:
                self.sentence_depth += 1
                self.last_in_sentence = None
                self.stray = []
                self.stack.append((tag, -1))
                return
            if self.open_cues:
                self._emit(self.get_starttag_text() or "", (ON_START, tag, attrs))
            if tag not in VOID_ELEMENTS:
                self.stack.append((tag, None))
            return
        self._open_cue(index, tag, attrs)
        cue = _OpenCue(index)
        if self.stray and not self.open_cues:
            cue.html.extend(html_text for html_text, _ in self.stray)
            cue.events.extend(event for _, event in self.stray)
            self._note_attached(index, cue.events)
            self.stray = []
        self.open_cues.append(cue)
        self.stack.append((tag, index))

    def handle_startendtag(self, tag: str, attrs: Attributes) -> None:
        index = _cue_id(attrs)
        if index is None:
            if self.open_cues:
                self._emit(self.get_starttag_text() or "", (ON_START, tag, attrs))
                if tag not in VOID_ELEMENTS:
                    self._emit("", (ON_END, tag, None))
            return
        self._open_cue(index, tag, attrs)
        self._store(index, "", [])
        self._emit(f"</{tag}>", (ON_END, tag, None))

    def handle_endtag(self, tag: str) -> None:
        depth = depth_after_end_tag(self.stack, tag)
        while len(self.stack) > depth:
            self._close()

    def _close(self) -> None:
        tag, index = self.stack.pop()
        if index == -1:
            self.sentence_depth -= 1
            self.stray = []
            return
        if index is not None:
            cue = self.open_cues.pop()
            self._store(cue.index, "".join(cue.html), cue.events)
            if not self.open_cues and self.sentence_depth:
                self.last_in_sentence = cue.index
        if self.open_cues:
            self._emit(f"</{tag}>", (ON_END, tag, None))

    def _text(self, html_text: str, event: HtmlEvent) -> None:
        if self.open_cues:
            self._emit(html_text, event)
        else:
            self._outside(html_text, event)

    def handle_data(self, data: str) -> None:
        self._text(data.replace("&", "&amp;").replace("<", "&lt;"), (ON_DATA, data, None))

    def handle_entityref(self, name: str) -> None:
        self._text(f"&{name};", (ON_ENTITY, name, None))

    def handle_charref(self, name: str) -> None:
        self._text(f"&#{name};", (ON_CHARREF, name, None))

    def close(self) -> None:
        super().close()
        while self.stack:
            self._close()


# --- alignment --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alignment:
    """Translated text per cue, and the cues whose translation cannot be trusted.

    `texts` holds every cue that is not a suspect: its tidied translation, or its own text
    when it was not sent. `suspects` is the union of the fault sets below plus `neighbours`,
    the nearest present cues on each side of a missing one (a merge moves the missing cue's
    text into a neighbour and looks exactly like a drop). `unexpected_ids` are cue ids found
    in the translation that were never sent. Cues that received words found outside
    their sentence's markers are suspects too: the words may be another cue's.
    """

    texts: Mapping[int, str]
    sent: tuple[int, ...]
    suspects: frozenset[int]
    missing: frozenset[int]
    duplicated: frozenset[int]
    nested: frozenset[int]
    empty: frozenset[int]
    neighbours: frozenset[int]
    unexpected_ids: tuple[int, ...]
    attached: frozenset[int] = frozenset()


@dataclass
class _Contents:
    """Every cue element's content across the documents, read the fast way where possible:
    the first element with each id, and the ids found more than once."""

    first: dict[int, Content] = field(default_factory=dict)
    repeated: set[int] = field(default_factory=set)
    nested: set[int] = field(default_factory=set)
    attached: set[int] = field(default_factory=set)
    strayed: set[int] = field(default_factory=set)


def _read_documents(documents: Sequence[str], *, fast: bool) -> _Contents:
    read = _Contents()
    first = read.first
    repeated = read.repeated
    for document in documents:
        shaped = shaped_elements(document) if fast else None
        if shaped is not None:
            for index, content in shaped:
                if index in first:
                    repeated.add(index)
                else:
                    first[index] = content
            continue
        found = parse_translated_html(document)
        for index, events in found.events.items():
            if index in first or len(events) > 1:
                repeated.add(index)
            first.setdefault(index, events[0])
        read.nested |= found.containing_nested | found.nested
        read.attached |= found.attached
        read.strayed |= found.strayed
    return read


def _content_text(content: Content, fmt: CaptionFormat) -> str:
    if isinstance(content, str):
        return tidy_translated_text(simple_cue_text(content, fmt), fmt)
    if isinstance(content, tuple):
        return tidy_translated_text(voiced_cue_text(content, fmt), fmt)
    return tidy_translated_text(cue_text_from_events(content, fmt), fmt)


def align_documents(
    doc: CaptionFile, translated_documents: Sequence[str], *, fast: bool = True
) -> Alignment:
    """Match translated documents back to the cues of `doc` by element id.

    Documents that kept the shape they were sent in are read by `shaped_elements`, others by
    the general reader; `fast=False` reads every document generally (the results are equal).
    """
    fmt = doc.format
    sent = translatable_indices(doc)
    sent_set = set(sent)
    found = _read_documents(translated_documents, fast=fast)
    contents = found.first
    missing = sent_set - contents.keys()
    duplicated = found.repeated & sent_set
    nested = found.nested & sent_set
    unread = missing | duplicated | nested
    texts: dict[int, str] = {cue.index: cue.text for cue in doc.cues if cue.index not in sent_set}
    empty: set[int] = set()
    for index in sent:
        if index in unread:
            continue
        text = _content_text(contents[index], fmt)
        if has_visible_text(text, fmt):
            texts[index] = text
        else:
            empty.add(index)
    neighbours = _present_neighbours(sent, missing)
    strayed = found.strayed & sent_set
    suspects = missing | duplicated | nested | empty | neighbours | strayed
    for index in suspects:
        texts.pop(index, None)
    return Alignment(
        texts=texts,
        sent=tuple(sent),
        suspects=frozenset(suspects),
        missing=frozenset(missing),
        duplicated=frozenset(duplicated),
        nested=frozenset(nested),
        empty=frozenset(empty),
        neighbours=frozenset(neighbours),
        unexpected_ids=tuple(sorted(set(contents) - sent_set)),
        attached=frozenset(found.attached & sent_set - suspects),
    )


def _present_neighbours(sent: Sequence[int], missing: set[int]) -> set[int]:
    """The nearest present cue before and after each run of missing cues, in document order."""
    neighbours: set[int] = set()
    if not missing:
        return neighbours
    run_start: int | None = None
    for position, index in enumerate([*sent, None]):
        if index is not None and index in missing:
            if run_start is None:
                run_start = position
            continue
        if run_start is not None:
            if run_start > 0:
                neighbours.add(sent[run_start - 1])
            if index is not None:
                neighbours.add(index)
            run_start = None
    return neighbours
