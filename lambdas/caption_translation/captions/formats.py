"""Reading and writing WebVTT and SRT files.

WebVTT is read with webvtt-py's block rule, its non-cue block classes (`WebVTTCommentBlock`,
`WebVTTStyleBlock`, `WebVTTRegionBlock`) and `CueSettings`. Cue timing lines are read here by
the WebVTT specification's rule, which webvtt-py's `WebVTTCueBlock` bends: only space, tab and
form feed may surround the timestamps and the arrow (its whitespace class also takes U+000B and
Unicode spaces) and timestamps are ASCII digits (its digit class takes any script's digits);
https://www.w3.org/TR/webvtt1/#collect-webvtt-cue-timings-and-settings.
Its file-level reader is not used because it loses what this workflow must keep:
the byte order mark and line endings, where NOTE/STYLE/REGION blocks sit between cues (it moves
every STYLE and REGION to the top and re-flows comments and region settings), and the line of a
malformed cue (the lenient reader drops such cues silently, the strict one raises without a line
number and also rejects unknown cue settings).

SRT is read here: webvtt-py's SRT reader drops cue numbers, empty cues, blank lines inside a cue
and the text after the timings, skips malformed cues and reads `00:00:01,5` as 5 milliseconds.
Both formats are written here too, as webvtt-py's writers reorder blocks, renumber SRT cues and
strip SRT tags; cue blocks are written in the same layout as webvtt-py's `WebVTTCueBlock`.
"""

from __future__ import annotations

import codecs
import functools
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from webvtt.models import CueSettings
from webvtt.vtt import (
    WebVTTCommentBlock,
    WebVTTRegionBlock,
    WebVTTStyleBlock,
)

from .errors import (
    BinaryContentError,
    EmptyFileError,
    EndBeforeStartError,
    MalformedTimestampError,
    NoCuesError,
    NotUtf8Error,
    UnknownFormatError,
)
from .markup import cue_text_to_html, html_to_cue_text
from .model import Block, BlockKind, CaptionFile, CaptionFormat, Cue, format_timestamp

_UTF8_BOM = codecs.BOM_UTF8
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# control characters that never occur in caption text (tab, LF, FF and CR do)
_CONTROL = re.compile("[\x01-\x08\x0b\x0e-\x1f\x7f]")
_SAMPLE_CHARS = 65_536
_MAX_CONTROL_SHARE = 0.10
_MAX_UNDECODABLE_SHARE = 0.30

_SRT_INDEX = re.compile(r"[0-9]+")
_SRT_TIMESTAMP = r"([0-9]+):([0-9]{2}):([0-9]{2})[,.]([0-9]{3})"
_SRT_TIMING = re.compile(
    rf"[ \t]*{_SRT_TIMESTAMP}[ \t]*-->[ \t]*{_SRT_TIMESTAMP}(?:[ \t]+(.*?))?[ \t]*"
)
# groups: (the whole cue with the empty lines after it, number, start, end, settings, text
# lines each after a line break); the timing line as `_SRT_TIMING` reads it. A cue starts a
# line, so a search never retries inside a line (which would take quadratic time)
_SRT_BODY_CUE = re.compile(
    rf"(?<![^\n])(([0-9]+)\n[ \t]*{_SRT_TIMESTAMP}[ \t]*-->[ \t]*{_SRT_TIMESTAMP}"
    r"(?:[ \t]+([^\n]*?))?[ \t]*((?:\n[^\S\n]*+[^\s][^\n]*+)*)(?:\n\n+|\Z))"
)
_VTT_TIMESTAMP = r"(?:([0-9]{2,10}):)?([0-9]{2}):([0-9]{2})\.([0-9]{3})"
_VTT_TIMING = re.compile(
    rf"[ \t\f]*{_VTT_TIMESTAMP}[ \t\f]*-->[ \t\f]*{_VTT_TIMESTAMP}(?=[ \t\f]|$)"
)
_RUN = re.compile("[^\n]+(?:\n[^\n]+)*")
# a block that is one cue: identifier line (optional), timing line (with the settings after
# the timings, as `_VTT_TIMING` reads it) and text lines
_VTT_CUE_BLOCK = re.compile(
    rf"(?:([^\n]*)\n)?[ \t\f]*{_VTT_TIMESTAMP}[ \t\f]*-->[ \t\f]*{_VTT_TIMESTAMP}"
    r"(?=[ \t\f\n]|\Z)([^\n]*)(?:\n([\s\S]*))?"
)
# groups: (the whole cue with the empty lines before it, identifier, start, end, settings,
# text lines each after a line break); the empty lines are taken from the first, so a search
# never retries inside them (which would take quadratic time). A first line with "-->" is
# never tried as the identifier: a cue with such an identifier is read block by block anyway
_VTT_BODY_CUE = re.compile(
    rf"(?<!\n)(\n\n+(?:(?![^\n]*-->)([^\n]+)\n)?"
    rf"[ \t\f]*{_VTT_TIMESTAMP}[ \t\f]*-->[ \t\f]*{_VTT_TIMESTAMP}"
    r"(?=[ \t\f\n]|\Z)([^\n]*)((?:\n[^\n]++)*))"
)
_VTT_EXPECTED = "'hh:mm:ss.ttt --> hh:mm:ss.ttt' (hours optional, at most 59 minutes and seconds)"
_SRT_EXPECTED = "'hh:mm:ss,ttt --> hh:mm:ss,ttt' (at most 59 minutes and seconds)"


def declared_format(name: str) -> CaptionFormat | None:
    """The format a file name claims by its extension, or None for any other extension."""
    lowered = name.lower()
    if lowered.endswith((".vtt", ".webvtt")):
        return "vtt"
    if lowered.endswith(".srt"):
        return "srt"
    return None


def parse_captions(data: bytes, name: str) -> CaptionFile:
    """Read a WebVTT or SRT file, choosing the format from the content, not the name.

    Raises a `CaptionInputError` subclass naming the problem for empty, binary or non-UTF-8
    data, content that is neither format, malformed timings (with the line number), a cue
    ending before it starts, and files without cues.
    """
    text, bom = _decode(data)
    newline = _newline_style(text)
    # the lines joined by "\n", without the line break that ends the last one
    joined = text if "\r" not in text else _LINE_BREAK.sub("\n", text)
    if joined.endswith("\n"):
        joined = joined[:-1]
    fmt = _detect_format(_leading_lines(joined))
    reader = _VttReader(joined) if fmt == "vtt" else _SrtReader(joined)
    cues, header, metadata, blocks = reader.read()
    if not cues:
        raise NoCuesError(
            "the file has no cues: a cue needs a timing line such as "
            + (
                "'00:00:01.000 --> 00:00:02.000'"
                if fmt == "vtt"
                else "'00:00:01,000 --> 00:00:02,000'"
            )
        )
    return CaptionFile(
        format=fmt,
        declared_format=declared_format(name),
        cues=tuple(cues),
        header=header,
        metadata=tuple(metadata),
        blocks=tuple(blocks),
        bom=bom,
        newline=newline,
    )


def render_captions(doc: CaptionFile) -> bytes:
    """Write the file back in its own format, BOM and line endings, ending with a line break."""
    text = _vtt_text(doc) if doc.format == "vtt" else _srt_text(doc)
    if doc.newline != "\n":
        # cue texts hold "\n" between their lines, so line endings are converted once, here
        text = text.replace("\n", doc.newline)
    data = text.encode("utf-8")
    return _UTF8_BOM + data if doc.bom else data


def as_format(doc: CaptionFile, target: CaptionFormat) -> CaptionFile:
    """The same cues in the other format: timings and text kept, inline markup carried over
    where the target has it (through the same HTML form translation uses), WebVTT-only parts
    (cue settings, NOTE/STYLE/REGION blocks, header text) dropped when writing SRT."""
    if doc.format == target:
        return doc
    cues = tuple(
        replace(
            cue,
            settings="",
            text=html_to_cue_text(cue_text_to_html(cue.text, doc.format), target),
        )
        for cue in doc.cues
    )
    if target == "vtt":
        return replace(doc, format="vtt", cues=cues, header="WEBVTT", metadata=(), blocks=())
    numbered = tuple(replace(cue, identifier=str(n)) for n, cue in enumerate(cues, start=1))
    return replace(doc, format="srt", cues=numbered, header="", metadata=(), blocks=())


# --- decoding ---------------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, bool]:
    """Decode UTF-8 (with or without BOM), rejecting empty, binary and non-UTF-8 data."""
    bom = data.startswith(_UTF8_BOM)
    body = data[len(_UTF8_BOM) :] if bom else data
    if not body.strip():
        raise EmptyFileError("the file is empty" if not body else "the file holds only whitespace")
    # UTF-16/32 text starts with a byte-order mark or has zero bytes; UTF-8 text has neither,
    # so it is never scanned for them
    wide = _wide_encoding(body) if body.startswith(_BOM_PREFIXES) or b"\x00" in body else None
    if wide is not None:
        raise NotUtf8Error(
            f"the file is {wide}; captions must be UTF-8: convert it, e.g. "
            f"`iconv -f {wide.split()[0]} -t UTF-8 in.srt > out.srt`",
            offset=0,
        )
    nul = body.find(b"\x00")
    if nul >= 0:
        raise BinaryContentError(
            f"the file contains a NUL byte at offset {nul + len(data) - len(body)}: "
            "it is binary data, not a caption file"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        sample = body[:_SAMPLE_CHARS].decode("utf-8", errors="replace")
        bad = sample.count("\ufffd") + len(_CONTROL.findall(sample))
        offset = error.start + len(data) - len(body)
        line = data.count(b"\n", 0, offset) + 1
        where = f"byte 0x{body[error.start]:02X} at offset {offset} (line {line})"
        legacy = _legacy_encoding(body)
        if legacy is not None:
            named = re.search(r"Windows-\d{4}|CP949", legacy)
            source = named.group().upper() if named else "<encoding>"
            raise NotUtf8Error(
                f"the file is not valid UTF-8 ({where} cannot be decoded): it is caption text "
                f"in {legacy}; captions must be UTF-8: convert it, e.g. "
                f"`iconv -f {source} -t UTF-8 in.srt > out.srt`",
                offset=offset,
            ) from None
        if bad > _MAX_UNDECODABLE_SHARE * len(sample):
            raise BinaryContentError(
                "the file is mostly not text: it is binary data, not a caption file"
            ) from None
        raise NotUtf8Error(
            f"the file is not valid UTF-8: {where} cannot be decoded; save it as UTF-8",
            offset=offset,
        ) from None
    sample = text[:_SAMPLE_CHARS]
    if len(_CONTROL.findall(sample)) > _MAX_CONTROL_SHARE * len(sample):
        raise BinaryContentError(
            "the file is mostly control characters: it is binary data, not a caption file"
        )
    return text, bom


# Byte-order marks, longest first: UTF-32LE's starts with UTF-16LE's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32LE (with a byte-order mark)"),
    (codecs.BOM_UTF32_BE, "UTF-32BE (with a byte-order mark)"),
    (codecs.BOM_UTF16_LE, "UTF-16LE (with a byte-order mark)"),
    (codecs.BOM_UTF16_BE, "UTF-16BE (with a byte-order mark)"),
)
_BOM_PREFIXES = tuple(bom for bom, _ in _BOMS)
# Where a wide encoding puts the zero bytes of ASCII characters: (unit size, zero positions).
_WIDE_LAYOUTS = (
    ("UTF-32LE", 4, (1, 2, 3)),
    ("UTF-32BE", 4, (0, 1, 2)),
    ("UTF-16LE", 2, (1,)),
    ("UTF-16BE", 2, (0,)),
)
_CAPTION_MARKERS = ("-->", "WEBVTT")


def _wide_encoding(body: bytes) -> str | None:
    """UTF-16 or UTF-32, with or without a byte-order mark: caption text (mostly ASCII
    timings and digits) shows as zero bytes at fixed positions of each code unit."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    sample = body[: _SAMPLE_CHARS * 4]
    for name, unit, zeros in _WIDE_LAYOUTS:
        units = len(sample) // unit
        if units < 8:
            continue
        zero_units = sum(all(sample[i * unit + z] == 0 for z in zeros) for i in range(units))
        if zero_units < 0.6 * units:
            continue
        text = sample[: units * unit].decode(name.replace("-", "_").lower(), errors="replace")
        if any(marker in text for marker in _CAPTION_MARKERS):
            return f"{name} (without a byte-order mark)"
    return None


# Legacy code pages and the letters that make up most of their languages' text (lowercase);
# the code page that turns a file's non-ASCII bytes into the largest share of its own common
# letters is the one the file is named as (the first listed wins a tie).
_CODE_PAGES: tuple[tuple[str, str, str], ...] = (
    ("cp1252", "Windows-1252 (Western European)", "éèàçñüöäßâêîôûëïáíóúœ"),
    ("cp1250", "Windows-1250 (Central European)", "ąćčďěłńňřśšťůźżžáéíóúýőű"),
    ("cp1257", "Windows-1257 (Baltic)", "ąčęėįšųūžāēīļņķģ"),
    ("cp1253", "Windows-1253 (Greek)", "αοειτνσηρυκπμλςάέίόήύώ"),
    ("cp1251", "Windows-1251 (Cyrillic)", "оеаинтсрвлкмдпуяыьзбгчй"),
    ("cp1255", "Windows-1255 (Hebrew)", "יוהלארמתבנשעדכק"),
    ("cp1256", "Windows-1256 (Arabic)", "الیمونهرتبعدسفك"),
)


def _legacy_encoding(body: bytes) -> str | None:
    """The legacy encoding a non-UTF-8 caption file is most likely in, named as precisely as
    its bytes allow; None when the data is not caption text at all (no cue timing, or
    control bytes). Text statistics only, on the cue text lines."""
    sample = body[:_SAMPLE_CHARS]
    if b"-->" not in sample or _CONTROL.search(sample.decode("latin-1")):
        return None
    lines = [line for line in sample.splitlines() if b"-->" not in line]
    text = b" ".join(lines)
    high = bytes(b for b in text if b >= 0x80)
    if not high:
        return None
    if _mostly_double_byte(sample):
        return "a Korean double-byte encoding such as CP949 (EUC-KR)"
    vietnamese = high.decode("cp1258", errors="replace")
    marks = sum(unicodedata.category(ch) == "Mn" for ch in vietnamese)
    if marks and "\ufffd" not in vietnamese and marks >= 0.2 * len(vietnamese):
        return "Windows-1258 (Vietnamese)"
    name, share = _best_code_page(high, _CODE_PAGES)
    if share >= 0.5:
        return f"most likely {name}, or another single-byte code page"
    return "a legacy single-byte code page (such as Windows-1252, Windows-1250 or Windows-1257)"


def _best_code_page(high: bytes, pages: tuple[tuple[str, str, str], ...]) -> tuple[str, float]:
    """The code page whose decoding of `high` has the largest share of its common letters
    (the first listed wins a tie), and that share."""
    best_name, best_share = pages[0][1], -1.0
    for codec, name, common in pages:
        decoded = high.decode(codec, errors="replace").lower()
        share = sum(ch in common for ch in decoded) / len(decoded)
        if share > best_share:
            best_name, best_share = name, share
    return best_name, best_share


def _mostly_double_byte(sample: bytes) -> bool:
    """CP949/EUC-KR Hangul: non-ASCII bytes come in pairs, both in 0xA1-0xFE, and the whole
    sample decodes as CP949."""
    try:
        text = sample.decode("cp949")
    except UnicodeDecodeError:
        return False
    hangul = sum("\uac00" <= ch <= "\ud7a3" for ch in text)
    wide = sum(ord(ch) >= 0x80 for ch in text)
    return wide > 0 and hangul >= 0.8 * wide


def _newline_style(text: str) -> str:
    """The line ending used most often (LF when the file has a single line)."""
    if "\r" not in text:
        return "\n"
    crlf = text.count("\r\n")
    cr = text.count("\r") - crlf
    lf = text.count("\n") - crlf
    if crlf >= lf and crlf >= cr and crlf:
        return "\r\n"
    if cr > lf:
        return "\r"
    return "\n"


def _leading_lines(text: str) -> list[str]:
    """The lines of `text` up to the first with more than whitespace and the one after it:
    all `_detect_format` reads, without splitting a whole file."""
    visible = len(text) - len(text.lstrip())  # `strip` and `lstrip` take the same whitespace
    end = text.find("\n", visible)
    if end >= 0:
        end = text.find("\n", end + 1)
    return (text if end < 0 else text[:end]).split("\n")


def _detect_format(lines: list[str]) -> CaptionFormat:
    """WebVTT starts with the `WEBVTT` signature; SRT with a cue number and a timing line."""
    first = lines[0] if lines else ""
    if first.startswith("WEBVTT") and first[6:7] in ("", " ", "\t"):
        return "vtt"
    position = next((n for n, line in enumerate(lines) if line.strip()), None)
    if position is not None:
        line = lines[position]
        following = lines[position + 1] if position + 1 < len(lines) else ""
        if "-->" in line or (_SRT_INDEX.fullmatch(line.strip()) and "-->" in following):
            return "srt"
    shown = lines[position][:60] if position is not None else ""
    if shown.lstrip().startswith("WEBVTT"):
        raise UnknownFormatError(
            f"the content is neither WebVTT nor SRT: line {(position or 0) + 1} is "
            f"{shown!r}, but a WebVTT file must start with 'WEBVTT' on its very first line, "
            "followed by a space, a tab or the end of the line"
        )
    raise UnknownFormatError(
        "the content is neither WebVTT nor SRT: a WebVTT file starts with 'WEBVTT' and an SRT "
        f"file with a cue number and a timing line, but the first line is {shown!r}"
    )


# --- WebVTT -----------------------------------------------------------------------------------


@dataclass
class _VttReader:
    """Split WebVTT lines into blocks like webvtt-py, remembering line numbers and positions."""

    text: str  # the file's lines joined by "\n"
    cues: list[Cue] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)

    def read(self) -> tuple[list[Cue], str, list[str], list[Block]]:
        """Return the cues, signature line, metadata lines and non-cue blocks."""
        plain = _plain_vtt(self.text)
        if plain is not None:
            self.cues, header = plain
            return self.cues, header[0], header[1:], self.blocks
        return self.read_blocks()

    def read_blocks(self) -> tuple[list[Cue], str, list[str], list[Block]]:
        """`read` for any file, block by block."""
        header: list[str] = []
        for number, block in self._blocks():
            if not header:
                header = block
            else:
                self._read_block(number, block)
        return self.cues, header[0], header[1:], self.blocks

    def _blocks(self) -> Iterator[tuple[int, list[str]]]:
        # The same rule as webvtt-py: an empty line ends a block, and a line with "-->" that
        # cannot be the timing line of the current block starts a new one. Runs of non-empty
        # lines are found in the joined text, then split by that rule.
        text = self.text
        counted_to, line_number = 0, 1
        in_header = True
        for run in _RUN.finditer(text):
            value = run.group()
            line_number += text.count("\n", counted_to, run.start())
            counted_to = run.start()
            yield from _split_run(line_number, value.split("\n"), in_header)
            in_header = False

    def _read_block(self, number: int, block: list[str]) -> None:
        if "-->" in block[0]:
            arrow: int | None = 0
        elif len(block) > 1 and "-->" in block[1]:
            arrow = 1
        else:
            arrow = next((n for n, line in enumerate(block) if "-->" in line), None)
        if arrow is None:
            self.blocks.append(Block(_block_kind(block), tuple(block), len(self.cues)))
            return
        timing_number = number + arrow
        line = block[arrow]
        match, start_ms, end_ms = _timing(
            _VTT_TIMING.match(line) if arrow <= 1 else None, line, timing_number, "vtt"
        )
        self.cues.append(
            Cue(
                index=len(self.cues),
                identifier=block[0] if arrow == 1 else None,
                start_ms=start_ms,
                end_ms=end_ms,
                settings=_normalized_settings(line[match.end() :]),
                text="\n".join(block[arrow + 1 :]),
            )
        )


def _plain_vtt(text: str) -> tuple[list[Cue], list[str]] | None:
    """The cues and header lines of a file that is a header and cues only, each cue with an
    identifier (or none), a well-formed timing line and text lines without "-->"; None for
    any other file, which is read block by block. One search finds every cue."""
    header_end = text.find("\n\n")
    # a file that is a header alone may end in a newline: an empty line, not a header line
    header = text.rstrip("\n") if header_end < 0 else text[:header_end]
    if "-->" in header:
        return None
    body = text[len(header) :].rstrip("\n")
    cues = _plain_cues(_VTT_BODY_CUE, body, _normalized_settings)
    return None if cues is None else (cues, header.split("\n"))


def _plain_cues(
    pattern: re.Pattern[str], body: str, settings_read: Callable[[str], str]
) -> list[Cue] | None:
    """The cues `pattern` finds one after another in `body`, from its groups (the whole cue,
    the identifier or number, the two timestamps' hours, minutes, seconds and milliseconds,
    the settings, the text lines after their newline); None where a timestamp is out of
    range, a cue ends before it starts, a text line holds "-->" or no cue matches part of the
    body."""
    cues: list[Cue] = []
    covered = 0
    # one match at a time: a list of every cue's groups would keep the garbage collector busy
    for match in pattern.finditer(body):
        whole, identifier, h1, m1, s1, f1, h2, m2, s2, f2, settings, lines = match.groups("")
        covered += len(whole)
        if m1 > "59" or s1 > "59" or m2 > "59" or s2 > "59" or "-->" in lines:
            return None
        # each timestamp read as one number, hhmmssttt (any number of hours)
        start = int(h1 + m1 + s1 + f1)
        end = int(h2 + m2 + s2 + f2)
        start_ms = (
            start // 10_000_000 * 3_600_000 + start // 100_000 % 100 * 60_000 + start % 100_000
        )
        end_ms = end // 10_000_000 * 3_600_000 + end // 100_000 % 100 * 60_000 + end % 100_000
        if end_ms < start_ms:
            return None
        cues.append(
            Cue(
                len(cues),
                identifier or None,
                start_ms,
                end_ms,
                settings and settings_read(settings),
                lines[1:],
            )
        )
    # the search skips what no cue matches: a gap means the file holds something else
    return cues if covered == len(body) else None


def _split_run(number: int, lines: list[str], in_header: bool) -> Iterator[tuple[int, list[str]]]:
    """The blocks of a run of non-empty lines starting at line `number`: a line with "-->"
    starts a new block unless it can be the timing line of the current one (in the header
    block, it always does)."""
    current: list[str] = []
    start = number
    for line in lines:
        if current and "-->" in line and (in_header or len(current) > 1 or "-->" in current[0]):
            yield start, current
            current = []
            in_header = False
            start = number
        current.append(line)
        number += 1
    if current:
        yield start, current


@functools.lru_cache(maxsize=1024)
def _normalized_settings(settings: str) -> str:
    """Cue settings separated by single spaces, read like webvtt-py's `CueSettings`.

    Cached: a file repeats a handful of setting lines, and building `CueSettings` is slow.
    """
    if not settings or settings.isspace():
        return ""
    return str(CueSettings.from_string(settings))


def _block_kind(block: list[str]) -> BlockKind:
    first = block[0]
    if WebVTTCommentBlock.is_valid(block) and first[4:5] in ("", " ", "\t"):
        return "note"
    if WebVTTStyleBlock.is_valid(block):
        return "style"
    if WebVTTRegionBlock.is_valid(block):
        return "region"
    return "other"


def _vtt_text(doc: CaptionFile) -> str:
    """The file's text with "\n" line endings: header, then each cue and block after an empty
    line (blocks before the cue they preceded), ending with a line break."""
    parts = ["\n".join((doc.header or "WEBVTT", *doc.metadata))]
    blocks = iter(doc.blocks)
    pending = next(blocks, None)
    timing = _TIMING_FORMATS["vtt"]
    for cue in doc.cues:
        while pending is not None and pending.before_cue <= cue.index:
            parts.append("\n\n" + "\n".join(pending.lines))
            pending = next(blocks, None)
        parts.append(_cue_text(cue, timing, "\n\n", cue.identifier or None))
    while pending is not None:
        parts.append("\n\n" + "\n".join(pending.lines))
        pending = next(blocks, None)
    parts.append("\n")
    return "".join(parts)


# --- SRT --------------------------------------------------------------------------------------


@dataclass
class _PendingCue:
    number: int
    identifier: str | None
    start_ms: int
    end_ms: int
    settings: str
    lines: list[str]


@dataclass
class _SrtReader:
    """Read SRT line by line.

    A line with `-->` always starts a cue (a digit-only line just before it is the cue number);
    other lines belong to the current cue, blank lines inside a cue included, as in files
    whose captions hold an empty line.
    """

    text: str  # the file's lines joined by "\n"

    def read(self) -> tuple[list[Cue], str, list[str], list[Block]]:
        """Return the cues; SRT has no header, metadata or other blocks."""
        plain = _plain_srt(self.text)
        if plain is not None:
            return plain, "", [], []
        return self.read_lines()

    def read_lines(self) -> tuple[list[Cue], str, list[str], list[Block]]:
        """`read` for any file, line by line."""
        pending: list[_PendingCue] = []
        preamble: list[str] = []
        blank = 0
        for number, line in enumerate(self.text.split("\n"), 1):
            target = pending[-1].lines if pending else preamble
            if "-->" in line:
                identifier = None
                if blank == 0 and target and _SRT_INDEX.fullmatch(target[-1].strip()):
                    identifier = target.pop().strip()
                while target and not target[-1]:
                    target.pop()
                pending.append(_srt_cue(number, line, identifier))
                blank = 0
            elif not line.strip():
                blank += 1
            else:
                target.extend([""] * blank if target or pending else ())
                target.append(line)
                blank = 0
        if pending:
            while pending[-1].lines and not pending[-1].lines[-1]:
                pending[-1].lines.pop()
        cues = [
            Cue(
                index=index,
                identifier=item.identifier,
                start_ms=item.start_ms,
                end_ms=item.end_ms,
                settings=item.settings,
                text="\n".join(item.lines),
            )
            for index, item in enumerate(pending)
        ]
        return cues, "", [], []


def _plain_srt(text: str) -> list[Cue] | None:
    """The cues of a file that is numbered cues only, one or more empty lines apart, each with
    a well-formed timing line and text lines that are not blank and have no "-->"; None for
    any other file, which is read line by line. One search finds every cue."""
    return _plain_cues(_SRT_BODY_CUE, text.rstrip("\n"), str)


def _srt_cue(number: int, line: str, identifier: str | None) -> _PendingCue:
    match, start_ms, end_ms = _timing(_SRT_TIMING.fullmatch(line), line, number, "srt")
    return _PendingCue(number, identifier, start_ms, end_ms, match.group(9) or "", [])


def _timing(
    match: re.Match[str] | None, line: str, number: int, fmt: CaptionFormat
) -> tuple[re.Match[str], int, int]:
    """The match of the timing line at line `number` of a file with `_VTT_TIMING` or
    `_SRT_TIMING` (None where it did not match), and its start and end in milliseconds."""
    fields = [int(value or 0) for value in match.groups()[:8]] if match else []
    if not match or max(fields[1], fields[2], fields[5], fields[6]) > 59:
        expected = _VTT_EXPECTED if fmt == "vtt" else _SRT_EXPECTED
        raise MalformedTimestampError(
            f"line {number}: cannot read the cue timing {line!r}; expected {expected}",
            line=number,
        )
    start_ms = ((fields[0] * 60 + fields[1]) * 60 + fields[2]) * 1000 + fields[3]
    end_ms = ((fields[4] * 60 + fields[5]) * 60 + fields[6]) * 1000 + fields[7]
    if end_ms < start_ms:
        raise EndBeforeStartError(
            f"line {number}: the cue ends ({format_timestamp(end_ms, fmt)}) before it starts "
            f"({format_timestamp(start_ms, fmt)})",
            line=number,
        )
    return match, start_ms, end_ms


def _srt_text(doc: CaptionFile) -> str:
    """The file's text with "\n" line endings: each cue, an empty line between two, ending
    with a line break."""
    timing = _TIMING_FORMATS["srt"]
    parts = [
        _cue_text(cue, timing, "\n\n" if position else "", cue.identifier)
        for position, cue in enumerate(doc.cues)
    ]
    parts.append("\n")
    return "".join(parts)


# both timestamps of a timing line: hours (two digits at least), minutes, seconds, milliseconds
_TIMING_FORMATS = {
    "vtt": "%02d:%02d:%02d.%03d --> %02d:%02d:%02d.%03d",
    "srt": "%02d:%02d:%02d,%03d --> %02d:%02d:%02d,%03d",
}


def _cue_text(cue: Cue, timing_format: str, before: str, identifier: str | None) -> str:
    """A cue block as written: identifier line (if any), timing line with its settings, text."""
    start, end = cue.start_ms, cue.end_ms
    timing = timing_format % (
        start // 3_600_000,
        start // 60_000 % 60,
        start // 1000 % 60,
        start % 1000,
        end // 3_600_000,
        end // 60_000 % 60,
        end // 1000 % 60,
        end % 1000,
    )
    if cue.settings:
        timing = f"{timing} {cue.settings}"
    if identifier is not None:
        timing = f"{identifier}\n{timing}"
    return f"{before}{timing}\n{cue.text}" if cue.text else before + timing
