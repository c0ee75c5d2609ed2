"""Every shortcut of the caption code gives exactly what the general code gives.

Reading files, writing cue HTML, reading translated documents, tidying, checking and
re-wrapping cues each have a fast path for the common case that steps aside for anything else;
these properties compare both paths on generated input, damaged input and the local Translate
engine's output under its fault modes, and check that the fast paths are really taken.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdas.caption_translation.captions import (
    CaptionFile,
    cue_element,
    parse_captions,
    parse_translated_html,
    tidy_translated_text,
    to_html_documents,
)
from lambdas.caption_translation.captions.formats import (
    _LINE_BREAK,
    _decode,
    _plain_srt,
    _plain_vtt,
    _SrtReader,
    _VttReader,
)
from lambdas.caption_translation.captions.markup import (
    _cue_text_to_html_tokens,
    _tidied,
    cue_text_to_html,
)
from lambdas.caption_translation.captions.model import (
    Cue,
    _surely_writable,
    _text_problem,
    text_problem,
)
from lambdas.caption_translation.captions.reading import (
    ReadingProfile,
    _measured_check,
    _measured_rewrap,
    check_cue,
    rewrap,
)
from lambdas.caption_translation.captions.segments import _content_text, align_documents
from lambdas.caption_translation.captions.shaped import shaped_elements
from lambdas.caption_translation.captions.translation import _term_pattern
from lambdas.caption_translation.translator import TranslateTextTranslator
from localcloud.core.clock import LocalClock
from localcloud.core.protocol import register_on_client
from localcloud.services.translate.engine import TranslateEngine, TranslateFaults, pseudo_translate
from tests.caption_translation.test_captions_support import (
    GeneratedFile,
    caption_files,
    generated_file_profile,
    mark_html,
    srt_files,
    srt_texts,
    vtt_files,
    vtt_texts,
)

PROFILE = generated_file_profile(60)

# --- reading files ----------------------------------------------------------------------------


def _lines(data: bytes) -> list[str]:
    text, _ = _decode(data)
    lines = text.split("\n") if "\r" not in text else _LINE_BREAK.split(text)
    if lines and not lines[-1]:
        lines.pop()
    return lines


def _outcome(read: Any) -> Any:
    try:
        return read()
    except Exception as error:  # the same error, with the same message, on both paths
        return (type(error), str(error))


_line_edits = st.lists(
    st.tuples(
        st.integers(0, 200),
        st.sampled_from(["", " ", "\t", "12", "NOTE x", "a --> b", "00:61.000 --> 00:62.000"]),
        st.sampled_from(["insert", "replace", "delete"]),
    ),
    max_size=3,
)


def _edited(lines: list[str], edits: list[tuple[int, str, str]]) -> list[str]:
    lines = list(lines)
    for position, line, kind in edits:
        at = position % (len(lines) + 1)
        if kind == "insert":
            lines.insert(at, line)
        elif at < len(lines) and (at or kind == "replace"):
            if kind == "replace":
                lines[at] = line
            else:
                del lines[at]
    return lines


@PROFILE
@given(st.one_of(vtt_files(max_cues=6), srt_files(max_cues=6)), _line_edits)
def test_a_file_read_at_once_reads_as_line_by_line(
    generated: GeneratedFile, edits: list[tuple[int, str, str]]
) -> None:
    lines = _edited(_lines(generated.data), edits)
    if not lines or (generated.format == "vtt" and not lines[0].startswith("WEBVTT")):
        return
    if generated.format == "vtt":
        fast = _outcome(lambda: _VttReader("\n".join(lines)).read())
        general = _outcome(lambda: _VttReader("\n".join(lines)).read_blocks())
    else:
        fast = _outcome(lambda: _SrtReader("\n".join(lines)).read())
        general = _outcome(lambda: _SrtReader("\n".join(lines)).read_lines())

    assert fast == general


@pytest.mark.parametrize("text", ["WEBVTT\n", "WEBVTT\nKind: captions\nLanguage: en\n"])
def test_a_header_alone_ending_in_a_newline_reads_at_once_as_line_by_line(text: str) -> None:
    # A file of a header and one empty line, its last line break dropped as `_lines` does.
    cues, signature, metadata, blocks = _VttReader(text).read()
    assert (cues, signature, metadata, blocks) == _VttReader(text).read_blocks()
    assert "" not in metadata


@PROFILE
@given(st.one_of(vtt_files(max_cues=6), srt_files(max_cues=6)))
def test_files_of_cues_only_are_read_at_once(generated: GeneratedFile) -> None:
    text = "\n".join(_lines(generated.data))
    plain = _plain_vtt(text) if generated.format == "vtt" else _plain_srt(text)
    # the generator adds NOTE, STYLE and REGION blocks to some WebVTT files, leaves some SRT
    # files unnumbered and puts empty lines in some SRT cues: those are read line by line
    others = bool(generated.blocks) or (
        generated.format == "srt"
        and not all(c.identifier and "\n\n" not in c.text for c in generated.cues)
    )
    if not others:
        assert plain is not None


# --- cue text to HTML -------------------------------------------------------------------------

_MARKUP_PIECES = [
    "word",
    " ",
    "\n",
    "<i>",
    "</i>",
    "<b>",
    "</b>",
    "<u>",
    "</u>",
    "<I>",
    "&amp;",
    "&lt;",
    "&nbsp;",
    "&",
    "&x;",
    ">",
    "<",
    "<v Ann>",
    "<v  Ann >",
    "</v>",
    "<c.x>",
    "</c>",
    ":",
    "BOB: ",
    "\u266a",
    "{\\an8}",
    "<00:01.000>",
    "Grüße",
]
markup_texts = st.lists(st.sampled_from(_MARKUP_PIECES), max_size=8).map("".join)


@PROFILE
@given(st.one_of(vtt_texts().map(lambda t: ("vtt", t)), srt_texts().map(lambda t: ("srt", t))))
def test_simple_cue_html_is_the_tokenized_html(case: tuple[str, str]) -> None:
    fmt = "vtt" if case[0] == "vtt" else "srt"
    assert cue_text_to_html(case[1], fmt) == _cue_text_to_html_tokens(case[1], fmt)


@PROFILE
@given(markup_texts, st.sampled_from(["vtt", "srt"]))
def test_any_cue_html_is_the_tokenized_html(text: str, fmt: Any) -> None:
    assert cue_text_to_html(text, fmt) == _cue_text_to_html_tokens(text, fmt)


# --- reading translated documents -------------------------------------------------------------


@cache
def _engine_translator(modes: frozenset[str], seed: int) -> TranslateTextTranslator:
    engine = TranslateEngine(
        LocalClock(speed=1e-9), lambda role: None, faults=TranslateFaults(modes, seed=seed)
    )
    client = boto3.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    ).client("translate")
    register_on_client(client, engine)
    return TranslateTextTranslator(client, "en", "es")


_DAMAGE = [
    " ",
    "\n",
    "x",
    ".",
    "<i>",
    "</i>",
    "</span>",
    '<span class="x">',
    "<br/>",
    "<B>",
    "</p>",
    '<p id="c1">',
    '<span id="c0">',
    '<p id="s0">',
    "&",
    "&amp;",
    "&#65;",
    "<!-- c -->",
    '<span translate="no" data-x="a">a</span>',
]
translations = st.one_of(
    st.just(("identity", 0)),
    st.just(("marked", 0)),
    st.tuples(
        st.sampled_from(["", "merge", "drop", "reorder", "expand", "merge drop"]),
        st.integers(0, 5),
    ),
)
damages = st.lists(
    st.tuples(st.integers(0, 10_000), st.sampled_from([*_DAMAGE, "DELETE"])), max_size=3
)


def _translate(documents: list[str], kind: str, seed: int) -> list[str]:
    if kind == "identity":
        return list(documents)
    if kind == "marked":
        return [mark_html(document) for document in documents]
    translator = _engine_translator(frozenset(kind.split()), seed)
    return [translator.translate_html(document) for document in documents]


def _damaged(document: str, damage: list[tuple[int, str]]) -> str:
    for position, piece in damage:
        at = position % (len(document) + 1)
        if piece == "DELETE":
            document = document[:at] + document[at + 3 :]
        else:
            document = document[:at] + piece + document[at:]
    return document


def _assert_shaped_reads_as_general(document: str, fmt: Any) -> bool:
    """Compare one document's fast reading with the general one; True when it was fast."""
    shaped = shaped_elements(document)
    if shaped is None:
        return False
    general = parse_translated_html(document)
    assert not (general.nested or general.containing_nested)
    assert not (general.attached or general.strayed)
    contents: dict[int, list[Any]] = {}
    for index, content in shaped:
        contents.setdefault(index, []).append(content)
    assert set(contents) == set(general.fragments)
    for index, found in contents.items():
        assert len(found) == len(general.events[index])
        for occurrence, content in enumerate(found):
            assert _content_text(content, fmt) == general.text_of(index, fmt, occurrence)
    return True


@generated_file_profile(50)
@given(caption_files, translations, damages, st.sampled_from(["small", "large"]))
def test_translated_documents_read_fast_as_the_general_reader_reads_them(
    generated: GeneratedFile, translation: tuple[str, int], damage: list[Any], size: str
) -> None:
    doc = parse_captions(generated.data, f"generated.{generated.format}")
    largest = max(len(cue_element(cue, doc.format).encode()) for cue in doc.cues)
    limit = 2 * largest + 26 if size == "small" else 1_000_000
    documents = to_html_documents(doc, limit)
    translated = _translate(documents, *translation)
    if damage and translated:
        translated[0] = _damaged(translated[0], damage)

    fast = [_assert_shaped_reads_as_general(d, doc.format) for d in translated]

    assert align_documents(doc, translated) == align_documents(doc, translated, fast=False)
    if translation[0] in ("identity", "marked", "", "expand") and not damage:
        assert all(fast), "an undamaged translation keeps the documents' shape"


def _sentence_document(doc: CaptionFile) -> list[str]:
    return to_html_documents(doc, 1_000_000)


def test_sentences_with_voices_and_markup_are_read_fast() -> None:
    doc = parse_captions(
        b"WEBVTT\n\n00:01.000 --> 00:02.000\n<v Ann>we could <i>take</i>\n\n"
        b"00:02.000 --> 00:03.000\n<v Ann>the train &amp; <b>go</b>\nhome.\n",
        "s.vtt",
    )
    documents = _sentence_document(doc)
    assert '<p id="s0">' in documents[0]

    for translated in (documents, [mark_html(d) for d in documents]):
        assert all(_assert_shaped_reads_as_general(d, "vtt") for d in translated)
        assert align_documents(doc, translated) == align_documents(doc, translated, fast=False)


# --- tidying, writing, checking and re-wrapping -----------------------------------------------

awkward_texts = st.lists(
    st.sampled_from(
        [*"ab -->\t\n\r\x01\x0b\x0c\x1c\x85\xa0\u2028\u3000.\u00e9", "-->", " \n", "\n\n", "word"]
    ),
    max_size=12,
).map("".join)


@PROFILE
@given(awkward_texts, st.sampled_from(["vtt", "srt"]))
def test_tidy_shortcut_changes_nothing_the_full_tidy_would(text: str, fmt: Any) -> None:
    assert tidy_translated_text(text, fmt) == _tidied(text, fmt)


@PROFILE
@given(awkward_texts, st.sampled_from(["vtt", "srt"]))
def test_text_problem_shortcut_accepts_only_what_the_full_check_accepts(
    text: str, fmt: Any
) -> None:
    if _surely_writable(text, fmt):
        assert _text_problem(text, fmt) is None
    assert text_problem(text, fmt) == _text_problem(text, fmt)


def _longer(text: str) -> str:
    return pseudo_translate(text, "de", expand=True)


cue_texts = st.one_of(
    vtt_texts().map(lambda t: ("vtt", t)),
    srt_texts().map(lambda t: ("srt", t)),
    vtt_texts().map(lambda t: ("vtt", _longer(t))),
    markup_texts.map(lambda t: ("vtt", t)),
    st.text(st.sampled_from(list("ab &#10;x\n<>")), max_size=60).map(lambda t: ("vtt", t)),
)
profiles = st.sampled_from(
    [
        ReadingProfile().for_language("es"),
        ReadingProfile().for_language("ja"),
        ReadingProfile(max_chars_per_line=12, max_lines=1, max_chars_per_second=5),
    ]
)


@PROFILE
@given(cue_texts, st.integers(0, 8_000), profiles)
def test_cue_checks_and_rewraps_proved_by_length_are_the_measured_ones(
    case: tuple[str, str], duration: int, profile: ReadingProfile
) -> None:
    fmt: Any = case[0]
    cue = Cue(0, None, 1_000, 1_000 + duration, "", case[1])

    assert check_cue(cue, fmt, profile) == _measured_check(cue, fmt, profile)
    assert rewrap(case[1], fmt, profile) == _measured_rewrap(case[1], fmt, profile)


@PROFILE
@given(
    st.text(st.sampled_from(list("aAbß_-\n 1\u017fK\u212a.")), min_size=1, max_size=4),
    st.text(st.sampled_from(list("aAbß_-\n 1\u017fK\u212a.")), max_size=30),
)
def test_term_search_finds_what_the_plain_pattern_finds(term: str, text: str) -> None:
    plain = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)

    assert bool(_term_pattern(term).search(text)) == bool(plain.search(text))


def test_tags_crossing_a_cue_marker_are_read_as_the_parser_reads_them() -> None:
    doc = parse_captions(
        b"WEBVTT\n\n00:01.000 --> 00:02.000\nwe could\n\n00:02.000 --> 00:03.000\ngo home.\n",
        "s.vtt",
    )
    crossed = [
        '<html><body><p id="s0"><span id="c0"><i><span class="x">we</i> could</span> x'
        '</span> <span id="c1">go home.</span></p></body></html>',
        '<html><body><p id="s0"><span id="c0"><i>we</span> could</i></span> '
        '<span id="c1">go home.</span></p></body></html>',
        '<html><body><p id="c0"><i><b>we</i> could</b></span></p>'
        '<p id="c1">go\r</i>\nhome.</p></body></html>',
    ]
    for document in crossed:
        _assert_shaped_reads_as_general(document, "vtt")
        assert align_documents(doc, [document]) == align_documents(doc, [document], fast=False)
