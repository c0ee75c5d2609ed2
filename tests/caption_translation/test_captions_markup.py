"""Cue text <-> HTML, segmentation into documents, and reading translated HTML."""

from __future__ import annotations

import pytest

from lambdas.caption_translation.captions import (
    CaptionFormat,
    CueTooLargeError,
    cue_text_to_html,
    has_translatable_text,
    html_to_cue_text,
    parse_captions,
    parse_translated_html,
    plain_text,
    tidy_translated_text,
    to_html_documents,
)
from lambdas.shared.errors import InputError
from tests.caption_translation.test_captions_support import make_vtt

OPAQUE_TS = '<span translate="no" data-x="&lt;00:00:01.500&gt;">&lt;00:00:01.500&gt;</span>'


WEBVTT_CUE_TEXTS = [
    ("Plain words", "Plain words"),
    ("one\ntwo", "one<br>two"),
    ("<i>it</i> <b>bo</b> <u>un</u>", "<i>it</i> <b>bo</b> <u>un</u>"),
    ("<c.x.y>classy</c>", '<span data-vtt="c" class="x y">classy</span>'),
    ("<c>bare</c>", '<span data-vtt="c">bare</span>'),
    ("<v Speaker>Hi</v>", '<span data-vtt="v" data-voice="Speaker">Hi</span>'),
    (
        "<v.loud Ann Lee>Hi</v>",
        '<span data-vtt="v" class="loud" data-voice="Ann Lee">Hi</span>',
    ),
    ("<lang en>Hello</lang>", '<span data-vtt="lang" lang="en">Hello</span>'),
    ("<ruby>漢<rt>kan</rt></ruby>", "<ruby>漢<rt>kan</rt></ruby>"),
    ("<00:00:01.500>now", f"{OPAQUE_TS}now"),
    ("&amp; &lt; &gt; &nbsp;&lrm;&rlm;", "&amp; &lt; &gt; &nbsp;&lrm;&rlm;"),
    ("Tom & Jerry > cats", "Tom &amp; Jerry > cats"),
    # unclosed voice: closed in HTML, marked so no end tag is written back
    ("<v Bob>Hi\nthere", '<span data-vtt="v" data-voice="Bob" data-e="">Hi<br>there</span>'),
    ("<i.a foo>x</i>", '<i class="a" data-t="i.a foo">x</i>'),
    ("a </b> b", 'a <span translate="no" data-x="&lt;/b&gt;">&lt;/b&gt;</span> b'),
    ("<ruby>a<rt>b</ruby>", '<ruby>a<rt data-e="">b</rt></ruby>'),
    ("unterminated <tag", 'unterminated <span translate="no" data-x="&lt;tag">&lt;tag</span>'),
]
SRT_CUE_TEXTS = [
    ("<i>a</i> <b>b</b> <u>c</u>", "<i>a</i> <b>b</b> <u>c</u>"),
    (
        '<font color="#ff0">y</font>',
        '<span data-srt="font" data-t="font color=&quot;#ff0&quot;">y</span>',
    ),
    ("{\\an8}Top", '<span translate="no" data-x="{\\an8}">{\\an8}</span>Top'),
    ("AT&T <3 x<y", "AT&amp;T &lt;3 x&lt;y"),
    ("&amp; stays literal", "&amp;amp; stays literal"),
    ("<I>loud</I>", '<i data-t="I" data-e="/I">loud</i>'),
    ("a\n\nb", "a<br><br>b"),
]


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [("vtt", *case) for case in WEBVTT_CUE_TEXTS] + [("srt", *case) for case in SRT_CUE_TEXTS],
)
def test_cue_text_to_html(fmt: CaptionFormat, text: str, expected: str) -> None:
    assert cue_text_to_html(text, fmt) == expected
    # a bare "&" in WebVTT text is written back as the entity
    assert html_to_cue_text(expected, fmt) == text.replace("Tom & Jerry", "Tom &amp; Jerry")


def test_html_from_translation_is_read_leniently() -> None:
    translated = (
        '<span data-vtt="v" data-voice="Speaker">Hola \n a todos</span><br/>'
        "<em>énfasis</em> &quot;citas&quot; &#39;x&#39; &copy; AT&T a &lt; b"
    )

    assert html_to_cue_text(translated, "vtt") == (
        "<v Speaker>Hola   a todos</v>\nénfasis \"citas\" 'x' © AT&amp;T a &lt; b"
    )
    assert html_to_cue_text(translated, "srt") == (
        "Hola   a todos\nénfasis \"citas\" 'x' © AT&T a < b"
    )


def test_lost_attributes_fall_back_to_canonical_tags() -> None:
    # a translation that dropped data-e closes the voice explicitly, which reads the same
    assert html_to_cue_text('<span data-vtt="v" data-voice="Bob">Hi</span>', "vtt") == (
        "<v Bob>Hi</v>"
    )
    # the raw text of a do-not-translate element comes from its attribute, not its content
    assert html_to_cue_text('<span translate="no" data-x="{\\an8}">{\\AN8}</span>', "srt") == (
        "{\\an8}"
    )
    # tags of the other format are dropped, their text kept
    assert html_to_cue_text('<span data-vtt="c">x</span><ruby>y</ruby>', "srt") == "xy"


def test_plain_text_and_translatable_text() -> None:
    text = "<v Bob><i>Hi</i> &amp; <00:00:01.000>bye\n{\\an8}"

    assert plain_text(text, "vtt") == "Hi & bye\n{\\an8}"
    assert plain_text("{\\an8}<i>Hi</i> AT&amp;T", "srt") == "Hi AT&amp;T"
    assert has_translatable_text(text, "vtt")
    assert not has_translatable_text("♪ <i>♪</i> &nbsp;", "vtt")
    assert not has_translatable_text("<00:00:01.000>", "vtt")
    assert not has_translatable_text("{\\an8}", "srt")
    assert not has_translatable_text("", "srt")


def test_tidy_keeps_structure_safe() -> None:
    assert tidy_translated_text(" Hola \n\n  mundo --> fin ", "vtt") == "Hola\nmundo --&gt; fin"
    assert tidy_translated_text("Hola\n \nmundo\n\n", "srt") == "Hola\n\nmundo"
    assert tidy_translated_text("a --> b", "srt") == "a -> b"


# --- documents --------------------------------------------------------------------------------


def test_documents_respect_the_byte_limit_and_keep_whole_cues_in_order() -> None:
    doc = parse_captions(make_vtt(300), "x.vtt")

    documents = to_html_documents(doc, 2_000)
    indices = [
        index
        for document in documents
        for index in sorted(parse_translated_html(document).fragments)
    ]

    assert len(documents) > 10
    assert all(len(document.encode()) <= 2_000 for document in documents)
    assert all(
        d.startswith("<html><body><p id=") and d.endswith("</p></body></html>") for d in documents
    )
    assert indices == list(range(300))
    assert '<p id="c0"><span data-vtt="v" data-voice="Speaker 0" data-e="">line 0 ' in documents[0]
    assert len(to_html_documents(doc, 1_000_000)) == 1


def test_cues_without_text_to_translate_are_not_sent() -> None:
    data = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n♪ ♪\n\n00:00:03.000 --> 00:00:04.000\nWords\n"
    doc = parse_captions(data.encode(), "x.vtt")

    assert to_html_documents(doc, 10_000) == ['<html><body><p id="c1">Words</p></body></html>']


def test_a_cue_too_large_for_one_request_is_rejected() -> None:
    big = "word " * 3_000
    data = (
        f"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nsmall\n\n00:00:03.000 --> 00:00:09.000\n{big}\n"
    )
    doc = parse_captions(data.encode(), "x.vtt")

    with pytest.raises(CueTooLargeError) as raised:
        to_html_documents(doc, 10_000)

    assert isinstance(raised.value, InputError)
    assert raised.value.code == "cue-too-large"
    assert raised.value.cue_index == 1
    assert raised.value.size > 10_000
    assert "cue 2" in raised.value.reason
    assert "10000-byte limit" in raised.value.reason
    with pytest.raises(ValueError, match="max_bytes"):
        to_html_documents(doc, 20)


# --- reading translated HTML ------------------------------------------------------------------


def test_translated_html_is_parsed_by_id() -> None:
    found = parse_translated_html(
        '<html><body><p id="c0">A</p><p id="c2">B<br>b</p><p id="c2">B2</p>'
        '<p id="c3">C <p id="c4">D</p></p><div id="c5"/><p id="other">x</p></body></html>'
    )

    assert found.fragments == {
        0: ["A"],
        2: ["B<br>b", "B2"],
        4: ["D"],
        3: ['C <p id="c4">D</p>'],
        5: [""],
    }
    assert found.containing_nested == {3}
    assert found.nested == {4}
    assert found.text_of(2, "vtt") == "B\nb"


def test_unclosed_and_mismatched_translated_markup_is_tolerated() -> None:
    found = parse_translated_html('<html><body><p id="c0"><i>a</b></p><p id="c1">b')

    assert found.fragments == {0: ["<i>a</i>"], 1: ["b"]}
    assert found.text_of(0, "vtt") == "<i>a</i>"
