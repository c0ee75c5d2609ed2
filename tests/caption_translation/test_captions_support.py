"""Shared helpers for the caption tests: file generators, fake translators and fault injectors.

The module holds no tests; the test modules import it as
`tests.caption_translation.test_captions_support`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from lambdas.caption_translation.captions import CaptionFile, CaptionFormat, format_timestamp

# --- generated caption files ------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedCue:
    identifier: str | None
    start_ms: int
    end_ms: int
    settings: str
    text: str


@dataclass(frozen=True)
class GeneratedFile:
    data: bytes
    format: CaptionFormat
    cues: tuple[ExpectedCue, ...]
    bom: bool
    newline: str
    blocks: tuple[tuple[str, ...], ...] = ()


def assert_cues_match(doc: CaptionFile, expected: tuple[ExpectedCue, ...]) -> None:
    assert doc.cue_count == len(expected)
    for cue, want in zip(doc.cues, expected, strict=True):
        got = (cue.identifier, cue.start_ms, cue.end_ms, cue.settings, cue.text)
        assert got == (want.identifier, want.start_ms, want.end_ms, want.settings, want.text)


_WORD_CHARS = st.characters(
    blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"),
    blacklist_characters="<&\r\n\x85",
)
_plain_words = st.text(_WORD_CHARS, min_size=1, max_size=8).filter(lambda w: "-->" not in w)
_fixed_words = st.sampled_from(
    ["hello", "world", "Grüße", "日本語", "naïve", "it's", "ok?", "¡sí!", "42", "—", "a>b", "♪"]
)
_words = st.one_of(_fixed_words, _plain_words)
_STYLE_TAGS = ("i", "b", "u")  # italic, bold, underline: in both formats
_entities = st.sampled_from(["&amp;", "&lt;", "&gt;", "&nbsp;", "&lrm;", "&rlm;"])


def _text_lines(segments: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """One to three lines of a cue's text, each one to four segments apart by spaces."""
    line = st.lists(segments, min_size=1, max_size=4).map(" ".join)
    return st.lists(line, min_size=1, max_size=3)


@st.composite
def _vtt_segment(draw: st.DrawFn) -> str:
    word = draw(_words)
    kind = draw(st.integers(0, 11))
    if kind < len(_STYLE_TAGS):
        return f"<{_STYLE_TAGS[kind]}>{word}</{_STYLE_TAGS[kind]}>"
    if kind == 3:
        return f"<c.{draw(st.sampled_from(['yellow', 'loud', 'x.y']))}>{word}</c>"
    if kind == 4:
        return f"<lang {draw(st.sampled_from(['en', 'fr-CA']))}>{word}</lang>"
    if kind == 5:
        return f"<ruby>{word}<rt>{draw(_fixed_words)}</rt></ruby>"
    if kind == 6:
        return f"<00:00:{draw(st.integers(0, 59)):02d}.{draw(st.integers(0, 999)):03d}>{word}"
    if kind == 7:
        return f"{draw(_entities)}{word}"
    if kind == 8:
        return f"<v.loud Ann Lee>{word}</v>"
    return word


@st.composite
def vtt_texts(draw: st.DrawFn) -> str:
    lines = draw(_text_lines(_vtt_segment()))
    if draw(st.booleans()):
        lines[0] = f"{draw(st.sampled_from(['<v Bob>', '<v.loud Ann>', '<i>']))}{lines[0]}"
    return "\n".join(lines)


@st.composite
def _srt_segment(draw: st.DrawFn) -> str:
    word = draw(st.one_of(_words, st.sampled_from(["<3", "AT&T", "&amp;", "x<y", "{braces}"])))
    kind = draw(st.integers(0, 7))
    if kind < len(_STYLE_TAGS):
        return f"<{_STYLE_TAGS[kind]}>{word}</{_STYLE_TAGS[kind]}>"
    if kind == 3:
        return f'<font color="#ffcc00">{word}</font>'
    return word


@st.composite
def srt_texts(draw: st.DrawFn) -> str:
    lines = draw(_text_lines(_srt_segment()))
    if draw(st.booleans()):
        lines[0] = "{\\an8}" + lines[0]
    if len(lines) > 1 and draw(st.integers(0, 4)) == 0:
        lines.insert(1, "")
    return "\n".join(lines)


_identifiers = st.one_of(
    st.none(),
    st.sampled_from(["intro", "cue-7", "scene 2 / take 1", "日本", "1"]),
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85"),
        min_size=1,
        max_size=12,
    ).filter(lambda s: "-->" not in s and s.strip() == s and s != ""),
)
_vtt_settings = st.lists(
    st.sampled_from(
        ["align:start", "line:0", "line:-1,end", "position:10%", "size:80%", "region:r1"]
    ),
    unique=True,
    max_size=3,
).map(" ".join)
_times = st.tuples(st.integers(0, 500 * 3_600_000), st.integers(0, 9_999))


@st.composite
def vtt_files(draw: st.DrawFn, max_cues: int = 8) -> GeneratedFile:
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    bom = draw(st.booleans())
    header = "WEBVTT" + draw(st.sampled_from(["", " - Sample", "\tKind"]))
    lines = [header, *draw(st.sampled_from([[], ["Kind: captions", "Language: en"]]))]
    blocks: list[tuple[str, ...]] = []

    def add_block(block: tuple[str, ...]) -> None:
        lines.extend([""] * draw(st.integers(1, 2)))
        lines.extend(block)
        blocks.append(block)

    if draw(st.booleans()):
        add_block(
            ("STYLE", "::cue(.yellow) { color: yellow; }", "::cue(.loud) { font-weight: bold; }")
        )
    if draw(st.booleans()):
        add_block(("REGION", "id:r1", "width:40%", "regionanchor:0%,100%"))
    cues = []
    for _ in range(draw(st.integers(1, max_cues))):
        if draw(st.integers(0, 4)) == 0:
            add_block(draw(st.sampled_from([("NOTE a note",), ("NOTE", "two", "lines")])))
        identifier = draw(_identifiers)
        start, duration = draw(_times)
        settings = draw(_vtt_settings)
        text = draw(vtt_texts())
        timing = f"{format_timestamp(start)} --> {format_timestamp(start + duration)}"
        lines.extend([""] * draw(st.integers(1, 2)))
        if identifier is not None:
            lines.append(identifier)
        lines.append(f"{timing} {settings}" if settings else timing)
        lines.extend(text.split("\n"))
        cues.append(ExpectedCue(identifier, start, start + duration, settings, text))
    if draw(st.booleans()):
        add_block(("NOTE the end",))
    body = newline.join(lines) + (newline if draw(st.booleans()) else "")
    data = ("\ufeff" if bom else "") + body
    return GeneratedFile(data.encode(), "vtt", tuple(cues), bom, newline, tuple(blocks))


@st.composite
def srt_files(draw: st.DrawFn, max_cues: int = 8) -> GeneratedFile:
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    bom = draw(st.booleans())
    numbered = draw(st.booleans())
    lines: list[str] = []
    cues = []
    for number in range(1, draw(st.integers(1, max_cues)) + 1):
        if lines:
            lines.extend([""] * draw(st.integers(1, 2)))
        start, duration = draw(_times)
        separator = draw(st.sampled_from([",", "."]))
        timing = (
            f"{format_timestamp(start, 'srt')} --> {format_timestamp(start + duration, 'srt')}"
        ).replace(",", separator)
        settings = draw(st.sampled_from(["", "X1:40 X2:600 Y1:20 Y2:50"]))
        text = draw(srt_texts())
        identifier = str(number) if numbered else None
        if identifier is not None:
            lines.append(identifier)
        lines.append(f"{timing} {settings}" if settings else timing)
        lines.extend(text.split("\n"))
        cues.append(ExpectedCue(identifier, start, start + duration, settings, text))
    body = newline.join(lines) + newline
    data = ("\ufeff" if bom else "") + body
    return GeneratedFile(data.encode(), "srt", tuple(cues), bom, newline)


caption_files = st.one_of(vtt_files(), srt_files())


def generated_file_profile(max_examples: int) -> settings:
    """Hypothesis settings for tests on generated files, which may be large and slow to make."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def make_vtt(count: int, words: int = 3, rich: bool = True) -> bytes:
    """A WebVTT file whose cue texts are all different, for alignment checks.

    `rich` cues carry a voice, italics, a class, an entity and an inline timestamp; the others
    only a line break, for size tests that should not spend their time on markup.
    """
    lines = ["WEBVTT", ""]
    vocabulary = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    for index in range(count):
        start = index * 2_000
        spoken = " ".join(vocabulary[(index + k) % len(vocabulary)] for k in range(words))
        timing = f"{format_timestamp(start)} --> {format_timestamp(start + 1_500)} align:start"
        if rich:
            text = [
                f"<v Speaker {index % 3}>line {index} {spoken}",
                f"<i>second</i> line &amp; <c.x>{index}</c> <00:00:01.500>end",
            ]
        else:
            text = [f"line {index} {spoken}", "second line"]
        lines += [f"cue-{index}", timing, *text, ""]
    return "\n".join(lines).encode()


# --- fake translators -------------------------------------------------------------------------


class _MarkingRewriter(HTMLParser):
    """Re-serialize HTML with the text upper-cased, except inside translate="no" elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self.get_starttag_text() or "")
        if tag != "br":
            self.stack.append(
                dict(attrs).get("translate") == "no" or bool(self.stack and self.stack[-1])
            )

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        self.out.append(f"</{tag}>")
        if self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        kept = self.stack and self.stack[-1]
        self.out.append(html.escape(data if kept else data.upper(), quote=False))


def mark_html(document: str) -> str:
    """Fake translation of an HTML document: text upper-cased, markup and attributes kept."""
    rewriter = _MarkingRewriter()
    rewriter.feed(document)
    rewriter.close()
    return "".join(rewriter.out)


Fault = Callable[[str], str]


@dataclass
class FakeTranslator:
    """Upper-cases text; `fault` damages documents of two or more cues (or every one)."""

    fault: Fault | None = None
    fault_single_cue_documents: bool = False
    text_result: Callable[[str], str] = str.upper
    html_calls: list[str] = field(default_factory=list)
    text_calls: list[str] = field(default_factory=list)

    def translate_html(self, html_document: str) -> str:
        self.html_calls.append(html_document)
        translated = mark_html(html_document)
        many = len(elements(html_document)) > 1
        if self.fault is not None and (many or self.fault_single_cue_documents):
            translated = self.fault(translated)
        return translated

    def translate_text(self, text: str) -> str:
        self.text_calls.append(text)
        return self.text_result(text)


class IdentityTranslator:
    """Returns its input: translating with it must give back the source file."""

    def __init__(self) -> None:
        self.calls = 0

    def translate_html(self, html_document: str) -> str:
        self.calls += 1
        return html_document

    def translate_text(self, text: str) -> str:
        self.calls += 1
        return text


# --- faults on translated documents (tests may split strings; the code under test may not) ----

_ELEMENT = re.compile(r'<p id="c(\d+)">(.*?)</p>', re.DOTALL)
_WRAP = ("<html><body>", "</body></html>")


def elements(document: str) -> list[tuple[int, str]]:
    return [(int(match.group(1)), match.group(2)) for match in _ELEMENT.finditer(document)]


def build(items: list[tuple[int, str]]) -> str:
    body = "".join(f'<p id="c{index}">{content}</p>' for index, content in items)
    return _WRAP[0] + body + _WRAP[1]


def _at(position: int, items: list[tuple[int, str]]) -> int:
    return position % len(items)


def merge_fault(position: int) -> Fault:
    """Move the next element's content into this one and remove the next element."""

    def apply(document: str) -> str:
        items = elements(document)
        k = _at(position, items[:-1]) if len(items) > 1 else 0
        if len(items) < 2:
            return document
        (first, a), (_, b) = items[k], items[k + 1]
        return build([*items[:k], (first, f"{a} {b}"), *items[k + 2 :]])

    return apply


def drop_fault(position: int) -> Fault:
    def apply(document: str) -> str:
        items = elements(document)
        del items[_at(position, items)]
        return build(items)

    return apply


def duplicate_fault(position: int) -> Fault:
    def apply(document: str) -> str:
        items = elements(document)
        k = _at(position, items)
        return build([*items[: k + 1], items[k], *items[k + 1 :]])

    return apply


def reorder_fault(document: str) -> str:
    return build(list(reversed(elements(document))))


def nest_fault(position: int) -> Fault:
    """Put the next element inside this one."""

    def apply(document: str) -> str:
        items = elements(document)
        if len(items) < 2:
            return document
        k = _at(position, items[:-1])
        (first, a), (second, b) = items[k], items[k + 1]
        nested = f'{a} <p id="c{second}">{b}</p>'
        return build([*items[:k], (first, nested), *items[k + 2 :]])

    return apply


def empty_fault(position: int) -> Fault:
    def apply(document: str) -> str:
        items = elements(document)
        k = _at(position, items)
        items[k] = (items[k][0], "")
        return build(items)

    return apply
