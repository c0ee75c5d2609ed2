"""Reading and writing WebVTT and SRT: what is kept, what is rejected and why."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
import webvtt

from lambdas.caption_translation.captions import (
    BinaryContentError,
    CaptionInputError,
    EmptyFileError,
    EndBeforeStartError,
    MalformedTimestampError,
    NoCuesError,
    NotUtf8Error,
    UnknownFormatError,
    as_format,
    parse_captions,
    render_captions,
    to_html_documents,
    translate_captions,
    with_texts,
)
from lambdas.shared.errors import InputError
from tests.caption_translation.test_captions_support import IdentityTranslator, make_vtt

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "caption_translation"

FULL_VTT = (
    "WEBVTT - Ferry crossing\n"
    "Kind: captions\n"
    "Language: en\n"
    "\n"
    "STYLE\n"
    "::cue(.loud) { color: red; }\n"
    "\n"
    "REGION\n"
    "id:top\n"
    "width:50%\n"
    "\n"
    "NOTE\n"
    "Two-line note\n"
    "before the first cue.\n"
    "\n"
    "dock\n"
    "00:00:01.001 --> 00:00:02.500 align:start line:0\n"
    "<v.loud Captain Ana>All aboard,\n"
    "<i>quickly</i> &amp; quietly.</v>\n"
    "\n"
    "NOTE between cues\n"
    "\n"
    "00:01.000 --> 00:03.000\n"
    "<c.loud.big>Horn</c> <00:00:02.000>sounds &lt;twice&gt;&nbsp;&lrm;\n"
    "\n"
    "123:04:05.006 --> 123:04:06.000 region:top\n"
    "<ruby>船<rt>fune</rt></ruby> <lang fr>bon voyage</lang>\n"
)


def test_webvtt_keeps_header_metadata_blocks_identifiers_settings_and_payloads() -> None:
    doc = parse_captions(FULL_VTT.encode(), "ferry.vtt")

    assert doc.format == "vtt"
    assert doc.declared_format == "vtt"
    assert doc.header == "WEBVTT - Ferry crossing"
    assert doc.header_text == "- Ferry crossing"
    assert doc.metadata == ("Kind: captions", "Language: en")
    assert [(b.kind, b.lines, b.before_cue) for b in doc.blocks] == [
        ("style", ("STYLE", "::cue(.loud) { color: red; }"), 0),
        ("region", ("REGION", "id:top", "width:50%"), 0),
        ("note", ("NOTE", "Two-line note", "before the first cue."), 0),
        ("note", ("NOTE between cues",), 1),
    ]
    first, second, third = doc.cues
    assert (first.index, first.identifier, first.start_ms, first.end_ms) == (0, "dock", 1001, 2500)
    assert first.settings == "align:start line:0"
    assert first.text == "<v.loud Captain Ana>All aboard,\n<i>quickly</i> &amp; quietly.</v>"
    assert (second.identifier, second.start_ms, second.end_ms, second.settings) == (
        None,
        1000,
        3000,
        "",
    )
    assert second.text == "<c.loud.big>Horn</c> <00:00:02.000>sounds &lt;twice&gt;&nbsp;&lrm;"
    assert third.start_ms == ((123 * 60 + 4) * 60 + 5) * 1000 + 6
    assert third.text == "<ruby>船<rt>fune</rt></ruby> <lang fr>bon voyage</lang>"


def test_webvtt_renders_back_with_exact_times_and_blocks_in_place() -> None:
    doc = parse_captions(FULL_VTT.encode(), "ferry.vtt")
    rendered = render_captions(doc).decode()

    # the short form `00:01.000` is written with hours; everything else is as it was
    assert rendered == FULL_VTT.replace("00:01.000 --> 00:03.000", "00:00:01.000 --> 00:00:03.000")
    assert "00:00:01.001 --> 00:00:02.500" in rendered
    assert "123:04:05.006 --> 123:04:06.000 region:top" in rendered
    assert parse_captions(rendered.encode(), "ferry.vtt") == doc


def test_rendered_webvtt_reads_the_same_in_webvtt_py() -> None:
    doc = parse_captions(FULL_VTT.encode(), "ferry.vtt")
    reference = webvtt.from_string(render_captions(doc).decode(), strict=True)

    assert [
        (c.identifier, c.start_time.in_milliseconds(), c.raw_text) for c in reference.captions
    ] == [(cue.identifier, cue.start_ms, cue.text) for cue in doc.cues]
    assert reference.header_text == doc.header_text
    assert reference.metadata == list(doc.metadata)


def test_millisecond_timestamps_round_trip_exactly() -> None:
    vtt = b"WEBVTT\n\n00:00:01.001 --> 00:00:01.999\nOne\n\n99:59:59.999 --> 100:00:00.000\nTwo\n"
    srt = b"1\n00:00:01,001 --> 00:00:02,003\nOne\n\n2\n100:00:00,001 --> 100:00:00,002\nTwo\n"

    vtt_doc = parse_captions(vtt, "a.vtt")
    srt_doc = parse_captions(srt, "a.srt")

    assert [(c.start_ms, c.end_ms) for c in vtt_doc.cues] == [
        (1001, 1999),
        (359_999_999, 360_000_000),
    ]
    assert [(c.start_ms, c.end_ms) for c in srt_doc.cues] == [
        (1001, 2003),
        (360_000_001, 360_000_002),
    ]
    assert render_captions(vtt_doc) == vtt
    assert render_captions(srt_doc) == srt


def test_srt_keeps_numbers_tags_override_tags_coordinates_and_blank_lines() -> None:
    source = (
        "1\r\n"
        "00:00:01,000 --> 00:00:02,500 X1:40 X2:600 Y1:20 Y2:50\r\n"
        "{\\an8}<i>Upstairs</i>, <b>now</b>!\r\n"
        "\r\n"
        "2\r\n"
        "00:00:03.000 --> 00:00:04.000\r\n"
        '<font color="#00ff00">Green</font> <u>light</u>\r\n'
        "\r\n"
        "after a blank line\r\n"
        "\r\n"
        "3\r\n"
        "00:00:05,000 --> 00:00:06,000\r\n"
        "\r\n"
        "4\r\n"
        "00:00:07,000 --> 00:00:08,000\r\n"
        "1999\r\n"
    )
    doc = parse_captions(source.encode(), "lift.srt")

    assert doc.format == "srt"
    assert doc.newline == "\r\n"
    assert [(c.identifier, c.start_ms, c.end_ms, c.settings, c.text) for c in doc.cues] == [
        ("1", 1000, 2500, "X1:40 X2:600 Y1:20 Y2:50", "{\\an8}<i>Upstairs</i>, <b>now</b>!"),
        (
            "2",
            3000,
            4000,
            "",
            '<font color="#00ff00">Green</font> <u>light</u>\n\nafter a blank line',
        ),
        ("3", 5000, 6000, "", ""),
        ("4", 7000, 8000, "", "1999"),
    ]
    # the "." separator of cue 2 is written as the standard ","
    assert (
        render_captions(doc)
        == source.replace("00:00:03.000 --> 00:00:04.000", "00:00:03,000 --> 00:00:04,000").encode()
    )


def test_srt_cues_without_numbers_are_read() -> None:
    doc = parse_captions(
        b"00:00:01,000 --> 00:00:02,000\nNo number\n\n00:00:03,000 --> 00:00:04,000\n42\n", "x.srt"
    )

    assert [(c.identifier, c.text) for c in doc.cues] == [(None, "No number"), (None, "42")]
    assert parse_captions(render_captions(doc), "x.srt") == doc


@pytest.mark.parametrize(
    ("data", "bom", "newline"),
    [
        (b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n", False, "\n"),
        (b"\xef\xbb\xbfWEBVTT\r\n\r\n00:00:01.000 --> 00:00:02.000\r\nHi\r\n", True, "\r\n"),
        (b"WEBVTT\r\r00:00:01.000 --> 00:00:02.000\rHi\r", False, "\r"),
        (b"\xef\xbb\xbf1\r\n00:00:01,000 --> 00:00:02,000\r\nHi\r\n", True, "\r\n"),
    ],
)
def test_bom_and_line_endings_are_kept(data: bytes, bom: bool, newline: str) -> None:
    doc = parse_captions(data, "x.vtt")

    assert (doc.bom, doc.newline) == (bom, newline)
    assert doc.cues[0].text == "Hi"
    assert render_captions(doc) == data


def test_format_comes_from_the_content_not_the_name() -> None:
    data = (SAMPLES / "really-webvtt.srt").read_bytes()
    doc = parse_captions(data, "really-webvtt.srt")

    assert (doc.format, doc.declared_format, doc.format_mismatch) == ("vtt", "srt", True)
    assert render_captions(doc).startswith(b"WEBVTT\n")

    srt_named_vtt = parse_captions(b"1\n00:00:01,000 --> 00:00:02,000\nHi\n", "odd.vtt")
    assert (srt_named_vtt.format, srt_named_vtt.declared_format) == ("srt", "vtt")
    assert (
        parse_captions(b"1\n00:00:01,000 --> 00:00:02,000\nHi\n", "odd.txt").declared_format is None
    )


# --- files in other encodings: each named, with the conversion to UTF-8 ---------------------

_SRT = "1\n00:00:01,000 --> 00:00:02,000\n{}\n\n2\n00:00:03,000 --> 00:00:04,000\n{}\n"
_VIETNAMESE = (
    "Xin ch\u00e0o th\u00ea\u0301 gi\u01a1\u0301i",
    "T\u00f4i la\u0300 ng\u01b0\u01a1\u0300i Vi\u00ea\u0323t",
)


@pytest.mark.parametrize(
    ("data", "named", "command"),
    [
        (_SRT.format("Hello there", "Bye").encode("utf-16-le"), "UTF-16LE (without a byte-order",
         "iconv -f UTF-16LE"),
        (_SRT.format("Hello there", "Bye").encode("utf-16-be"), "UTF-16BE (without a byte-order",
         "iconv -f UTF-16BE"),
        (_SRT.format("Hello", "World").encode("utf-32"), "UTF-32LE (with a byte-order mark)",
         "iconv -f UTF-32LE"),
        (_SRT.format("Hello", "World").encode("utf-32-be"), "UTF-32BE (without a byte-order",
         "iconv -f UTF-32BE"),
        (_SRT.format("Καλημέρα κόσμε", "Πώς είσαι σήμερα;").encode("cp1253"),
         "Windows-1253 (Greek)", "iconv -f WINDOWS-1253"),
        (_SRT.format("Labas rytas, pasauli", "Ąžuolas ir šuo").encode("cp1257"),
         "Windows-1257 (Baltic)", "iconv -f WINDOWS-1257"),
        (_SRT.format(*_VIETNAMESE).encode("cp1258"), "Windows-1258 (Vietnamese)",
         "iconv -f WINDOWS-1258"),
        (_SRT.format("안녕하세요 세계", "오늘은 좋은 날입니다").encode("cp949"),
         "Korean double-byte encoding such as CP949", "iconv -f CP949"),
        (_SRT.format("Zażółć gęślą jaźń", "Łódź i Kraków").encode("cp1250"),
         "Windows-1250 (Central European)", "iconv -f WINDOWS-1250"),
        (_SRT.format("Привет мир", "Как дела").encode("cp1251"), "Windows-1251 (Cyrillic)",
         "iconv -f WINDOWS-1251"),
    ],
)  # fmt: skip
def test_a_file_in_another_encoding_is_named_with_its_conversion(
    data: bytes, named: str, command: str
) -> None:
    with pytest.raises(NotUtf8Error) as raised:
        parse_captions(data, "captions.srt")
    reason = str(raised.value)
    assert named in reason and "must be UTF-8" in reason and command in reason
    assert "binary" not in reason


# --- rejected inputs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "error", "code", "words"),
    [
        (b"", EmptyFileError, "empty-file", ["empty"]),
        (b" \r\n\t\n", EmptyFileError, "empty-file", ["whitespace"]),
        (codecs.BOM_UTF8, EmptyFileError, "empty-file", ["empty"]),
        (b"WEBVTT\x00\n\n", BinaryContentError, "binary-content", ["NUL", "offset 6"]),
        (bytes(range(1, 32)) * 20 + b"WEBVTT", BinaryContentError, "binary-content", ["binary"]),
        (bytes(range(128, 256)) * 8, BinaryContentError, "binary-content", ["binary"]),
        (
            "1\n00:00:01,000 --> 00:00:02,000\nCafé\n".encode("latin-1"),
            NotUtf8Error,
            "not-utf8",
            ["UTF-8", "0xE9", "offset 35", "line 3"],
        ),
        ("WEBVTT".encode("utf-16"), NotUtf8Error, "not-utf8", ["UTF-16"]),
        (
            b"Hello there\nGeneral Kenobi\n",
            UnknownFormatError,
            "unknown-format",
            ["neither", "'Hello there'"],
        ),
        (
            b"WEBVTTX\n\n00:00:01.000 --> 00:00:02.000\nHi\n",
            UnknownFormatError,
            "unknown-format",
            ["very first line", "'WEBVTTX'"],
        ),
        (
            b"\n\nWEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n",
            UnknownFormatError,
            "unknown-format",
            ["line 3", "very first line"],
        ),
        (b"WEBVTT\n\nNOTE only a note\n", NoCuesError, "no-cues", ["no cues"]),
        (
            b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nok\n\n00:00:01,000 --> 00:00:02.000\nbad\n",
            MalformedTimestampError,
            "malformed-timestamp",
            ["line 6", "00:00:01,000"],
        ),
        (
            b"WEBVTT\n\n00:00:61.000 --> 00:01:02.000\nbad\n",
            MalformedTimestampError,
            "malformed-timestamp",
            ["line 3"],
        ),
        (
            b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nfine\nthen --> a stray arrow\n",
            MalformedTimestampError,
            "malformed-timestamp",
            ["line 5"],
        ),
        (
            b"1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,5 --> 00:00:04,000\nbad\n",
            MalformedTimestampError,
            "malformed-timestamp",
            ["line 6", "00:00:03,5"],
        ),
        (
            b"WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nback\n",
            EndBeforeStartError,
            "end-before-start",
            ["line 3", "before it starts"],
        ),
        (
            b"1\n00:00:02,000 --> 00:00:01,999\nback\n",
            EndBeforeStartError,
            "end-before-start",
            ["line 2"],
        ),
    ],
)
def test_bad_inputs_are_rejected_with_a_reason(
    data: bytes, error: type[CaptionInputError], code: str, words: list[str]
) -> None:
    with pytest.raises(error) as raised:
        parse_captions(data, "input.vtt")

    assert isinstance(raised.value, InputError)
    assert raised.value.code == code
    for word in words:
        assert word in raised.value.reason
    assert raised.value.as_dict() == {"error": code, "reason": raised.value.reason}


def test_error_attributes_locate_the_problem() -> None:
    with pytest.raises(NotUtf8Error) as not_utf8:
        parse_captions(b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n\xff\n", "x.vtt")
    with pytest.raises(MalformedTimestampError) as malformed:
        parse_captions(b"WEBVTT\n\nid\n0:0:1.0 --> 0:0:2.0\nx\n", "x.vtt")

    assert not_utf8.value.offset == len(b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n") == 38
    assert malformed.value.line == 4


def test_zero_duration_cues_are_accepted() -> None:
    doc = parse_captions(b"WEBVTT\n\n00:00:01.000 --> 00:00:01.000\nblink\n", "x.vtt")

    assert (doc.cues[0].start_ms, doc.cues[0].end_ms) == (1000, 1000)


# --- with_texts -------------------------------------------------------------------------------


def test_with_texts_replaces_every_text_and_nothing_else() -> None:
    doc = parse_captions(FULL_VTT.encode(), "ferry.vtt")
    new = with_texts(doc, {0: "Uno", 1: "<i>Dos</i>", 2: "Tres\nlíneas"})

    assert [c.text for c in new.cues] == ["Uno", "<i>Dos</i>", "Tres\nlíneas"]
    assert [(c.identifier, c.start_ms, c.end_ms, c.settings) for c in new.cues] == [
        (c.identifier, c.start_ms, c.end_ms, c.settings) for c in doc.cues
    ]
    assert (new.header, new.metadata, new.blocks, new.bom) == (
        doc.header,
        doc.metadata,
        doc.blocks,
        doc.bom,
    )


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ({0: "a", 1: "b"}, "missing [2]"),
        ({0: "a", 1: "b", 2: "c", 3: "d"}, "unknown [3]"),
        ({0: "a", 1: "b\n\nc", 2: "c"}, "cue 1"),
        ({0: "a --> b", 1: "b", 2: "c"}, "'-->'"),
        ({0: "a", 1: "b\r\nc", 2: "c"}, "carriage return"),
    ],
)
def test_with_texts_rejects_missing_extra_and_unwritable_texts(
    texts: dict[int, str], message: str
) -> None:
    doc = parse_captions(FULL_VTT.encode(), "ferry.vtt")

    with pytest.raises(ValueError) as raised:
        with_texts(doc, texts)

    assert message in str(raised.value)


def test_srt_text_may_hold_blank_lines_but_not_end_with_one() -> None:
    doc = parse_captions(b"1\n00:00:01,000 --> 00:00:02,000\nHi\n", "x.srt")

    assert with_texts(doc, {0: "a\n\nb"}).cues[0].text == "a\n\nb"
    with pytest.raises(ValueError, match="empty line"):
        with_texts(doc, {0: "a\n"})
    with pytest.raises(ValueError, match="whitespace"):
        with_texts(doc, {0: "a\n  \nb"})


# --- samples and size -------------------------------------------------------------------------

GOOD_SAMPLES = {
    "lighthouse.en.vtt": ("vtt", 5, False, "\n"),
    "bakery-karaoke.vtt": ("vtt", 5, False, "\n"),
    "garden.srt": ("srt", 4, False, "\r\n"),
    "train-station.srt": ("srt", 4, True, "\n"),
    "really-webvtt.srt": ("vtt", 2, False, "\n"),
}


@pytest.mark.parametrize("name", sorted(GOOD_SAMPLES))
def test_good_samples_parse_and_render_byte_for_byte(name: str) -> None:
    data = (SAMPLES / name).read_bytes()
    doc = parse_captions(data, name)

    assert (doc.format, doc.cue_count, doc.bom, doc.newline) == GOOD_SAMPLES[name]
    assert render_captions(doc) == data
    assert len(data) < 5_000


def test_lighthouse_sample_has_every_webvtt_feature() -> None:
    doc = parse_captions((SAMPLES / "lighthouse.en.vtt").read_bytes(), "lighthouse.en.vtt")

    assert {b.kind for b in doc.blocks} == {"style", "region", "note"}
    assert [c.identifier for c in doc.cues] == ["opening", None, "stairs-1", None, "closing"]
    assert doc.cues[1].end_ms == 7001
    assert doc.cues[0].settings == "region:upper align:start"
    assert any("\n" in c.text for c in doc.cues)
    for tag in (
        "<v Marta>",
        "<v.whisper Tomas>",
        "<i>",
        "<c.alarm>",
        "<lang es>",
        "<00:01:59.000>",
    ):
        assert any(tag in c.text for c in doc.cues), tag


BAD_SAMPLES = {
    "empty.srt": EmptyFileError,
    "binary.vtt": BinaryContentError,
    "latin1.srt": NotUtf8Error,
    "malformed-timestamp.vtt": MalformedTimestampError,
    "end-before-start.vtt": EndBeforeStartError,
    "no-cues.vtt": NoCuesError,
}


@pytest.mark.parametrize("name", sorted(BAD_SAMPLES))
def test_bad_samples_are_rejected(name: str) -> None:
    with pytest.raises(BAD_SAMPLES[name]):
        parse_captions((SAMPLES / "bad" / name).read_bytes(), name)


def test_ten_thousand_cues() -> None:
    data = make_vtt(10_000, rich=False)
    doc = parse_captions(data, "long.vtt")
    outcome = translate_captions(doc, IdentityTranslator())

    assert doc.cue_count == 10_000
    assert doc.cues[-1].identifier == "cue-9999"
    assert doc.cues[-1].start_ms == 9_999 * 2_000
    assert outcome.retranslated == 0
    assert outcome.documents == len(to_html_documents(doc, 10_000)) > 50
    assert outcome.captions == doc
    assert render_captions(outcome.captions) == data


# --- a file named for one format holding the other --------------------------------------------


def test_srt_cues_in_a_vtt_named_file_are_written_as_valid_webvtt() -> None:
    data = (
        b"1\n00:00:01,000 --> 00:00:02,500\n<i>Hello</i> & welcome\n\n"
        b"2\n00:00:03,000 --> 00:00:04,000\nBye\n"
    )
    doc = parse_captions(data, "no-header.vtt")
    assert (doc.format, doc.declared_format) == ("srt", "vtt")

    written = render_captions(as_format(doc, "vtt"))

    assert written == (
        b"WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.500\n<i>Hello</i> &amp; welcome\n\n"
        b"2\n00:00:03.000 --> 00:00:04.000\nBye\n"
    )
    assert parse_captions(written, "no-header.vtt").format == "vtt"


def test_webvtt_in_an_srt_named_file_is_written_as_numbered_srt_without_webvtt_parts() -> None:
    data = (
        b"WEBVTT\n\nNOTE a note\n\nintro\n00:00:01.000 --> 00:00:02.000 align:start\n"
        b"<c.yellow>Hi</c>\n"
    )
    doc = parse_captions(data, "really.srt")

    written = render_captions(as_format(doc, "srt"))

    assert written == b"1\n00:00:01,000 --> 00:00:02,000\nHi\n"
