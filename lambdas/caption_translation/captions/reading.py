"""Reading standard: re-wrap translated cues to a reading profile and list the cues that exceed it.

Translated text is often 20-40% longer than its source, so a cue that fitted two lines of 42
characters may come back as three long lines. `rewrap` breaks such a cue again into balanced
lines, at word boundaries (never inside a tag, an entity or a word), preferring to break after
punctuation and never after a short function word; dialogue lines (starting with a dash) stay
separate lines. Chinese and Japanese are broken between characters, except before closing
and after opening punctuation; Thai and every other script only at spaces. Counting ignores
combining marks and format characters (Thai vowel and tone marks, bidi marks), so right-to-left
and Thai text is measured by what a viewer sees; text order is never changed.

Timing is never changed: `check_cue` lists what still exceeds the profile (line length, line
count, characters per second, minimum duration) for the translation's report.

Defaults follow professional timed-text practice (e.g. Netflix's and the BBC's subtitle
guidelines): 42 characters per line, 2 lines, 17 characters per second for adults, at least
5/6 of a second on screen; Chinese 16 and Japanese 13 characters per line at 9 and 4
characters per second, Korean 16 characters per line at 12 per second.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .markup import plain_text
from .model import CaptionFormat, Cue, format_timestamp

DEFAULT_MAX_CHARS_PER_LINE = 42
DEFAULT_MAX_LINES = 2
DEFAULT_MAX_CHARS_PER_SECOND = 17.0
DEFAULT_MIN_DURATION_MS = 833

# Per-language defaults where the script is read differently (see the module docstring).
LANGUAGE_DEFAULTS: Mapping[str, Mapping[str, float]] = {
    "ja": {"maxCharsPerLine": 13, "maxCharsPerSecond": 4},
    "zh": {"maxCharsPerLine": 16, "maxCharsPerSecond": 9},
    "zh-TW": {"maxCharsPerLine": 16, "maxCharsPerSecond": 9},
    "ko": {"maxCharsPerLine": 16, "maxCharsPerSecond": 12},
}
_FIELDS = {
    "maxCharsPerLine": (1, 200),
    "maxLines": (1, 10),
    "maxCharsPerSecond": (1, 100),
    "minDurationMs": (0, 60_000),
}


class ReadingProfileError(ValueError):
    """A reading profile setting is missing, unknown or out of range."""


@dataclass(frozen=True)
class ReadingProfile:
    """Limits for one target language; `for_language` applies the per-language overrides."""

    max_chars_per_line: int = DEFAULT_MAX_CHARS_PER_LINE
    max_lines: int = DEFAULT_MAX_LINES
    max_chars_per_second: float = DEFAULT_MAX_CHARS_PER_SECOND
    min_duration_ms: int = DEFAULT_MIN_DURATION_MS
    languages: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    language: str | None = None  # set by `for_language`
    brevity: bool = False  # re-translate cues read too fast with Translate's brevity setting

    @property
    def breaks_between_characters(self) -> bool:
        """Chinese and Japanese lines break between characters; others only at spaces."""
        return (self.language or "").split("-", maxsplit=1)[0] in ("ja", "zh")

    @classmethod
    def from_json(cls, document: Any, base: ReadingProfile | None = None) -> ReadingProfile:
        """Read `{"maxCharsPerLine": 42, "maxLines": 2, "maxCharsPerSecond": 17,
        "minDurationMs": 833, "languages": {"fr": {"maxCharsPerSecond": 15}}}` (every key
        optional) over `base`; raise ReadingProfileError naming the bad setting."""
        base = base or cls()
        if document is None:
            return base
        if not isinstance(document, dict):
            raise ReadingProfileError("the reading profile must be a JSON object")
        unknown = set(document) - set(_FIELDS) - {"languages", "brevity"}
        if unknown:
            raise ReadingProfileError(
                f"unknown reading profile settings: {', '.join(sorted(unknown))}; use "
                f"{', '.join([*_FIELDS, 'languages', 'brevity'])}"
            )
        values = _checked(document, "readingProfile")
        brevity = document.get("brevity", base.brevity)
        if not isinstance(brevity, bool):
            raise ReadingProfileError("readingProfile.brevity must be true or false")
        languages = dict(base.languages)
        raw_languages = document.get("languages", {})
        if not isinstance(raw_languages, dict):
            raise ReadingProfileError("readingProfile.languages must map language codes to limits")
        for code, overrides in raw_languages.items():
            if not isinstance(overrides, dict) or set(overrides) - set(_FIELDS):
                raise ReadingProfileError(
                    f"readingProfile.languages.{code} must be an object with {', '.join(_FIELDS)}"
                )
            languages[str(code)] = {
                **languages.get(str(code), {}),
                **_checked(overrides, f"readingProfile.languages.{code}"),
            }
        return replace(
            base,
            max_chars_per_line=int(values.get("maxCharsPerLine", base.max_chars_per_line)),
            max_lines=int(values.get("maxLines", base.max_lines)),
            max_chars_per_second=float(values.get("maxCharsPerSecond", base.max_chars_per_second)),
            min_duration_ms=int(values.get("minDurationMs", base.min_duration_ms)),
            languages=languages,
            brevity=brevity,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "maxCharsPerLine": self.max_chars_per_line,
            "maxLines": self.max_lines,
            "maxCharsPerSecond": self.max_chars_per_second,
            "minDurationMs": self.min_duration_ms,
            "languages": {code: dict(values) for code, values in self.languages.items()},
            "brevity": self.brevity,
        }

    def for_language(self, language: str) -> ReadingProfile:
        """The limits for `language`: built-in script defaults, then the profile's overrides."""
        overrides = {
            **LANGUAGE_DEFAULTS.get(language, {}),
            **LANGUAGE_DEFAULTS.get(language.split("-", maxsplit=1)[0], {}),
            **self.languages.get(language.split("-", maxsplit=1)[0], {}),
            **self.languages.get(language, {}),
        }
        return replace(
            self,
            language=language,
            max_chars_per_line=int(overrides.get("maxCharsPerLine", self.max_chars_per_line)),
            max_lines=int(overrides.get("maxLines", self.max_lines)),
            max_chars_per_second=float(
                overrides.get("maxCharsPerSecond", self.max_chars_per_second)
            ),
            min_duration_ms=int(overrides.get("minDurationMs", self.min_duration_ms)),
        )


def _checked(values: Mapping[str, Any], where: str) -> dict[str, float]:
    checked: dict[str, float] = {}
    for key, (low, high) in _FIELDS.items():
        if key not in values:
            continue
        value = values[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise ReadingProfileError(f"{where}.{key} must be a number from {low} to {high}")
        checked[key] = value
    return checked


# --- measuring --------------------------------------------------------------------------------


def visible_length(text: str) -> int:
    """Characters a viewer sees: combining marks and format characters (bidi marks, zero-width
    joiners) take no room of their own."""
    if text.isascii():
        return len(text)
    return sum(1 for char in text if unicodedata.category(char) not in ("Mn", "Me", "Cf"))


@dataclass(frozen=True)
class CueReading:
    """How one cue reads: characters per line, line count and characters per second."""

    chars_per_line: tuple[int, ...]
    chars_per_second: float

    @property
    def lines(self) -> int:
        return len(self.chars_per_line)


def measure(cue: Cue, fmt: CaptionFormat) -> CueReading:
    lines = [line.strip() for line in plain_text(cue.text, fmt).split("\n")]
    lengths = tuple([visible_length(line) for line in lines if line])
    seconds = max(cue.end_ms - cue.start_ms, 1) / 1000
    return CueReading(lengths, round(sum(lengths) / seconds, 1))


def _within_by_raw_text(text: str, fmt: CaptionFormat, max_lines: int, max_chars: int) -> bool:
    """Whether the written text proves the cue fits `max_lines` lines of `max_chars`
    characters without measuring it: tags and references only shorten what a viewer reads and
    the stripped lines are no longer than the written ones. In WebVTT a reference may decode
    to a line break, so text with references is measured."""
    if fmt == "vtt" and "&" in text:
        return False
    if "\n" not in text:
        return len(text) <= max_chars
    lines = text.split("\n")
    return len(lines) <= max_lines and max(map(len, lines)) <= max_chars


def _proves_within(text: str, duration: int, profile: ReadingProfile) -> bool:
    """Whether `text`, whose lines hold every character a viewer reads of the cue's lines
    (the written text, or the plain text), proves the cue reads within the profile's line
    length, line count and reading rate over `duration` ms: its lines are no more, no longer
    and hold no fewer characters than the stripped lines measured."""
    lines = text.split("\n")
    characters = len(text) - len(lines) + 1  # line breaks aside
    return (
        len(lines) <= profile.max_lines
        and max(map(len, lines)) <= profile.max_chars_per_line
        and round(characters / (max(duration, 1) / 1000), 1) <= profile.max_chars_per_second
    )


def check_cue(cue: Cue, fmt: CaptionFormat, profile: ReadingProfile) -> dict[str, Any] | None:
    """The report entry of a cue over the profile's limits, or None when it reads well."""
    text = cue.text
    duration = cue.end_ms - cue.start_ms
    if duration >= profile.min_duration_ms:
        # in WebVTT a reference may decode to a line break: the written lines prove nothing
        if not (fmt == "vtt" and "&" in text) and _proves_within(text, duration, profile):
            return None
        if ("<" in text or "&" in text or "{" in text) and _proves_within(
            plain_text(text, fmt), duration, profile
        ):
            return None
    return _measured_check(cue, fmt, profile)


def _measured_check(cue: Cue, fmt: CaptionFormat, profile: ReadingProfile) -> dict[str, Any] | None:
    reading = measure(cue, fmt)
    reasons = []
    longest = max(reading.chars_per_line, default=0)
    if longest > profile.max_chars_per_line:
        reasons.append(
            f"a line has {longest} characters (at most {profile.max_chars_per_line}); no "
            "break within the limit was possible"
            if reading.lines >= profile.max_lines
            else f"a line has {longest} characters (at most {profile.max_chars_per_line})"
        )
    if reading.lines > profile.max_lines:
        reasons.append(f"{reading.lines} lines (at most {profile.max_lines})")
    if reading.chars_per_second > profile.max_chars_per_second:
        reasons.append(
            f"{reading.chars_per_second} characters per second (at most "
            f"{profile.max_chars_per_second:g}); the timing was kept"
        )
    duration = cue.end_ms - cue.start_ms
    if duration < profile.min_duration_ms:
        reasons.append(
            f"on screen {duration} ms (at least {profile.min_duration_ms}); the timing was kept"
        )
    if not reasons:
        return None
    return {
        "cue": cue.identifier if cue.identifier is not None else str(cue.index + 1),
        "index": cue.index,
        "start": format_timestamp(cue.start_ms, fmt),
        "charsPerLine": list(reading.chars_per_line),
        "lines": reading.lines,
        "cps": reading.chars_per_second,
        "reasons": reasons,
    }


# --- re-wrapping ------------------------------------------------------------------------------

_VTT_PIECE = re.compile(r"<[^>\n]*>?|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_SRT_PIECE = re.compile(r"<[ \t]*/?[ \t]*(?:i|b|u|font)(?=[\s/>])[^>]*>|\{\\[^}]*\}", re.IGNORECASE)
_DIALOGUE = re.compile(r"^(?:<[^>]*>|\{\\[^}]*\})*[-\u2010\u2013\u2014]")
_SENTENCE_END = ".!?\u2026:;\u3002\uff01\uff1f"
_CLOSING = set(
    "\u3001\u3002\uff0c\uff0e\uff01\uff1f\uff09\u300d\u300f\u3011\u3009\u300b\u3015\uff3d\uff5d,.!?:;)]}\u2026\u30fc\u3005\u3083\u3085\u3087\u3063\u3041\u3043\u3045\u3047\u3049\u30e3\u30e5\u30e7\u30c3\u30a1\u30a3\u30a5\u30a7\u30a9"
)
_OPENING = set("\u300c\u300e\u3010\u3008\u300a\u3014\uff3b\uff5b\uff08([{")
_FUNCTION_WORD_MAX = 3


def _breaks_anywhere(char: str) -> bool:
    """Chinese and Japanese: a line may break between any two such characters."""
    code = ord(char)
    return 0x3040 <= code <= 0x30FF or 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF


@dataclass
class _Unit:
    """A piece of text no line break may enter: a word, or one CJK character, with its tags."""

    raw: str
    width: int
    visible: str
    space_before: bool


def _units(line_texts: list[str], fmt: CaptionFormat, by_character: bool) -> list[_Unit]:
    pattern = _VTT_PIECE if fmt == "vtt" else _SRT_PIECE
    units: list[_Unit] = []
    pending_space = False
    current: _Unit | None = None

    def flush() -> None:
        nonlocal current
        if current is not None and current.raw:
            units.append(current)
        current = None

    for line_number, line in enumerate(line_texts):
        if line_number:
            pending_space = True  # lines are joined by a space before re-breaking
            flush()
        position = 0
        for piece, is_markup in _pieces(line, pattern):
            position += len(piece)
            if is_markup:
                if current is None:
                    current = _Unit("", 0, "", pending_space and bool(units))
                    pending_space = False
                current.raw += piece
                if piece.startswith("&"):
                    decoded = html.unescape(piece) if fmt == "vtt" else piece
                    current.visible += decoded
                    current.width += visible_length(decoded)
                continue
            for char in piece:
                if char in " \t":
                    flush()
                    pending_space = True
                    continue
                anywhere = by_character and _breaks_anywhere(char)
                if (
                    current is not None
                    and current.visible
                    and (
                        anywhere
                        and _breaks_anywhere(current.visible[-1])
                        and char not in _CLOSING
                        and current.visible[-1] not in _OPENING
                    )
                ):
                    flush()
                if current is None:
                    current = _Unit("", 0, "", pending_space and bool(units))
                    pending_space = False
                current.raw += char
                current.visible += char
                current.width += visible_length(char)
    flush()
    return units


def _pieces(line: str, pattern: re.Pattern[str]) -> list[tuple[str, bool]]:
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in pattern.finditer(line):
        if match.start() > position:
            pieces.append((line[position : match.start()], False))
        pieces.append((match.group(0), True))
        position = match.end()
    if position < len(line):
        pieces.append((line[position:], False))
    return pieces


def _break_penalty(unit: _Unit, following: _Unit) -> float:
    """Cost of ending a line after `unit` (lower is better): after punctuation is good, after
    an article or preposition bad, and before closing punctuation impossible (handled by units)."""
    word = unit.visible.rstrip("\"'\u201d\u2019\u00bb)")
    if word and word[-1] in _SENTENCE_END:
        return -40.0
    if word.endswith((",", "\u060c", "\u3001", "\uff0c")):
        return -20.0
    if word.isalpha() and word.islower() and len(word) <= _FUNCTION_WORD_MAX:
        return 60.0
    if following.visible[:1].isupper():
        return -5.0
    return 0.0


def _layout(units: list[_Unit], lines: int, limit: int) -> tuple[float, list[int]] | None:
    """Best break points for `units` in exactly `lines` lines, each at most `limit` wide (a
    unit wider than the limit alone on its line is allowed); None when impossible."""
    count = len(units)
    if lines > count:
        return None
    prefix = [0]
    for unit in units:
        prefix.append(prefix[-1] + unit.width + (1 if unit.space_before else 0))

    def width(start: int, end: int) -> int:  # units[start:end] on one line
        first = units[start]
        return prefix[end] - prefix[start] - (1 if first.space_before else 0)

    target = width(0, count) / lines
    infinity = float("inf")
    best: list[list[float]] = [[infinity] * (count + 1) for _ in range(lines + 1)]
    choice: list[list[int]] = [[0] * (count + 1) for _ in range(lines + 1)]
    best[0][0] = 0.0
    for line in range(1, lines + 1):
        for end in range(line, count + 1):
            for start in range(line - 1, end):
                if best[line - 1][start] == infinity:
                    continue
                used = width(start, end)
                if used > limit and end - start > 1:
                    continue
                cost = best[line - 1][start] + (used - target) ** 2
                if used > limit:
                    cost += 10_000 * (used - limit)
                if end < count:
                    cost += _break_penalty(units[end - 1], units[end])
                if cost < best[line][end]:
                    best[line][end] = cost
                    choice[line][end] = start
    if best[lines][count] == infinity:
        return None
    breaks: list[int] = []
    end = count
    for line in range(lines, 0, -1):
        start = choice[line][end]
        if start:
            breaks.append(start)
        end = start
    return best[lines][count], sorted(breaks)


def _join(units: list[_Unit], breaks: list[int]) -> str:
    out: list[str] = []
    for position, unit in enumerate(units):
        if position in breaks:
            out.append("\n")
        elif unit.space_before and position:
            out.append(" ")
        out.append(unit.raw)
    return "".join(out)


def _wrap_turn(line_texts: list[str], fmt: CaptionFormat, profile: ReadingProfile) -> str:
    """Break one speaker's text into the fewest lines within the limit, balanced."""
    units = _units(line_texts, fmt, profile.breaks_between_characters)
    limit = profile.max_chars_per_line
    for lines in range(1, len(units) + 1):
        found = _layout(units, lines, limit)
        if found is not None:
            return _join(units, found[1])
    return "\n".join(line_texts)


def rewrap(text: str, fmt: CaptionFormat, profile: ReadingProfile) -> str:
    """Re-break a cue's text to the profile, or return it unchanged when it already fits.

    Words, tags and entities are kept as written and in order; only the line breaks (and the
    spaces they replace) move. A dialogue cue keeps one line per speaker, each re-broken on
    its own only when it is too long.
    """
    if _within_by_raw_text(text, fmt, profile.max_lines, profile.max_chars_per_line):
        return text
    return _measured_rewrap(text, fmt, profile)


def _measured_rewrap(text: str, fmt: CaptionFormat, profile: ReadingProfile) -> str:
    lines = text.split("\n")
    widths = [visible_length(line.strip()) for line in plain_text(text, fmt).split("\n")]
    if len(lines) <= profile.max_lines and all(w <= profile.max_chars_per_line for w in widths):
        return text
    turns: list[list[str]] = []
    for line in lines:
        if not turns or _DIALOGUE.match(line.lstrip()):
            turns.append([line])
        else:
            turns[-1].append(line)
    return "\n".join(_wrap_turn(turn, fmt, profile) for turn in turns)
