"""The caption model: immutable cues and everything needed to write a file back as it was read."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

CaptionFormat = Literal["vtt", "srt"]
# control characters a caption file never holds (tab and form feed it may); a file with them
# reads as binary data
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
BlockKind = Literal["note", "style", "region", "other"]
_CONTROL_OR_CR = re.compile("[\r\x00-\x08\x0b\x0e-\x1f\x7f]")
_WHITESPACE_LINE = re.compile(r"^\s+$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Cue:
    """One cue.

    `text` is the payload exactly as written in the file: inline tags, entities and `\\n`
    between lines. Times are whole milliseconds, so no float ever touches a timestamp.
    """

    index: int
    identifier: str | None
    start_ms: int
    end_ms: int
    settings: str
    text: str

    @property
    def lines(self) -> list[str]:
        """The payload lines (none for an empty cue)."""
        return self.text.split("\n") if self.text else []


@dataclass(frozen=True, slots=True)
class Block:
    """A WebVTT block that is not a cue (NOTE, STYLE, REGION or unknown), kept verbatim.

    `before_cue` is the index of the cue it precedes (the cue count when it ends the file), so
    the block is written back where it was.
    """

    kind: BlockKind
    lines: tuple[str, ...]
    before_cue: int


@dataclass(frozen=True, slots=True)
class CaptionFile:
    """A parsed caption file.

    `format` is what the content really is; `declared_format` is what the file name says (None
    when the extension is neither .vtt nor .srt), so callers can warn about a mismatch.
    `header` is the WebVTT signature line as written (empty for SRT), `metadata` the header
    lines after it. `bom` and `newline` record the byte order mark and line ending style, which
    rendering reproduces.
    """

    format: CaptionFormat
    declared_format: CaptionFormat | None
    cues: tuple[Cue, ...]
    header: str = ""
    metadata: tuple[str, ...] = ()
    blocks: tuple[Block, ...] = ()
    bom: bool = False
    newline: str = "\n"

    @property
    def cue_count(self) -> int:
        """Number of cues."""
        return len(self.cues)

    @property
    def header_text(self) -> str:
        """The text after `WEBVTT` on the signature line, without its separator."""
        return self.header[len("WEBVTT") + 1 :] if len(self.header) > len("WEBVTT") else ""

    @property
    def format_mismatch(self) -> bool:
        """True when the file name declares a different format than the content has."""
        return self.declared_format is not None and self.declared_format != self.format


def format_timestamp(ms: int, fmt: CaptionFormat = "vtt") -> str:
    """Write milliseconds as `hh:mm:ss.ttt` (WebVTT) or `hh:mm:ss,ttt` (SRT); hours can pass 99."""
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    separator = "," if fmt == "srt" else "."
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def text_problem(text: str, fmt: CaptionFormat) -> str | None:
    """Say why `text` cannot be written as a cue payload, or return None when it can.

    A payload must not change the file's structure when read back: no carriage returns and no
    `-->` (it would start a cue), no control character (the file would read as binary); in
    WebVTT no empty line (it ends the cue); in SRT no line of only whitespace and no empty last
    line (both read back as the cue's end).
    """
    if _surely_writable(text, fmt):
        return None  # the common case, proved without splitting the text
    return _text_problem(text, fmt)


def _text_problem(text: str, fmt: CaptionFormat) -> str | None:
    if "\r" in text:
        return "it contains a carriage return"
    if _CONTROL.search(text):
        return "it contains a control character"
    if "-->" in text:
        return "it contains '-->'"
    if not text:
        return None
    lines = text.split("\n")
    if fmt == "vtt":
        if any(not line for line in lines):
            return "it contains an empty line"
        return None
    if any(line and not line.strip() for line in lines):
        return "it contains a line of only whitespace"
    if not lines[-1]:
        return "it ends with an empty line"
    return None


def _surely_writable(text: str, fmt: CaptionFormat) -> bool:
    """True only for text `text_problem` accepts: no carriage return or control character,
    no "-->", and no empty line (WebVTT) or no line of only whitespace and no empty last line
    (SRT, where a whitespace line ends with a space, a tab, a form feed or, outside ASCII,
    another space)."""
    if not text or _CONTROL_OR_CR.search(text) or "-->" in text:
        return False
    if fmt == "vtt":
        return not (text[0] == "\n" or text[-1] == "\n" or "\n\n" in text)
    return not (
        text[-1] in " \t\f\n"
        or " \n" in text
        or "\t\n" in text
        or "\f\n" in text
        or (not text.isascii() and _WHITESPACE_LINE.search(text))
    )


def with_texts(doc: CaptionFile, texts: Mapping[int, str]) -> CaptionFile:
    """Return `doc` with every cue's text replaced, keeping identifiers, settings and timings.

    Raises ValueError when an index is missing or unknown, or a text could not be written
    without changing the file's structure (see `text_problem`).
    """
    expected = range(len(doc.cues))
    missing = [index for index in expected if index not in texts]
    extra = sorted(index for index in texts if not 0 <= index < len(doc.cues))
    if missing or extra:
        raise ValueError(
            f"texts must cover cues 0..{len(doc.cues) - 1} exactly: "
            f"missing {missing[:10]}, unknown {extra[:10]}"
        )
    cues = []
    fmt = doc.format
    for cue in doc.cues:
        text = texts[cue.index]
        problem = text_problem(text, fmt)
        if problem is not None:
            raise ValueError(f"cue {cue.index}: the new text cannot be written because {problem}")
        if text == cue.text:
            cues.append(cue)
        else:
            cues.append(
                Cue(cue.index, cue.identifier, cue.start_ms, cue.end_ms, cue.settings, text)
            )
    return dataclasses.replace(doc, cues=tuple(cues))


def same_structure(a: CaptionFile, b: CaptionFile) -> str | None:
    """Compare everything but cue texts; return the first difference found, or None."""
    if a.format != b.format:
        return f"format {a.format!r} != {b.format!r}"
    if len(a.cues) != len(b.cues):
        return f"{len(a.cues)} cues != {len(b.cues)} cues"
    for x, y in zip(a.cues, b.cues, strict=True):
        if x is y:
            continue
        if (x.index, x.identifier, x.start_ms, x.end_ms, x.settings) != (
            y.index,
            y.identifier,
            y.start_ms,
            y.end_ms,
            y.settings,
        ):
            return f"cue {x.index} differs: {x!r} != {y!r}"
    if (a.header, a.metadata, a.blocks) != (b.header, b.metadata, b.blocks):
        return "header, metadata or non-cue blocks differ"
    return None
