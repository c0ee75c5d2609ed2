"""Cue text <-> HTML for Amazon Translate.

Cue text is tokenized (text, line breaks, tags) and written as HTML that Translate translates
while keeping the markup:

- `<i>`, `<b>`, `<u>`, `<ruby>`, `<rt>` stay themselves (classes become `class`);
- `<c.x.y>` becomes `<span data-vtt="c" class="x y">`, `<v.loud Bob>` becomes
  `<span data-vtt="v" class="loud" data-voice="Bob">` (the speaker is an attribute, so it is
  never translated while the spoken text is), `<lang en>` becomes
  `<span data-vtt="lang" lang="en">`;
  SRT `<font ...>` becomes `<span data-srt="font" data-t="...">`;
- inline timestamps, SRT override tags such as `{\\an8}`, unknown tags, end tags that close
  nothing and unterminated `<` become `<span translate="no" data-x="RAW">RAW</span>`, so
  Translate leaves them alone and the raw text is restored from the attribute;
- a start tag written differently from its canonical form keeps its raw text in `data-t`, a
  non-canonical end tag in `data-e` (`data-e=""` when the source never closed the tag).

So `html_to_cue_text(cue_text_to_html(t, f), f) == t` for cue text with the common entities.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from html.entities import html5
from typing import NamedTuple

from .html_events import FastParser
from .model import CaptionFormat

# entities every WebVTT player knows: kept as written; other references become characters
BASIC_ENTITIES = frozenset({"amp", "lt", "gt", "nbsp", "lrm", "rlm"})
VTT_TAGS = frozenset({"c", "i", "b", "u", "ruby", "rt", "v", "lang"})
SRT_TAGS = frozenset({"i", "b", "u", "font"})
_SELF_MAPPED = frozenset({"i", "b", "u", "ruby", "rt"})
VOID_ELEMENTS = frozenset(
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
        "source",
        "track",
        "wbr",
    }
)


_TEXT, _BREAK, _START, _END, _OPAQUE, _PROTECTED = range(6)
# What a viewer reads but Translate must not touch: a speaker label in capitals at the start of
# a line (`BOB:`, `- DR. SMITH:`; a name, never translated) and music symbols, which mark sung
# lines and would otherwise drift within the sentence.
_SPEAKER_LABEL = re.compile(
    r"^([ \t]*(?:[-\u2010\u2013\u2014][ \t]*)?)([A-Z][A-Z0-9 .'-]*[A-Z0-9.]:)(?=[ \t]|$)"
)
_MUSIC = re.compile("[\u266a\u266b]+")
# characters without which cue text is plain text, the same in HTML (but `>` in SRT)
_MAY_NEED_MARKUP = re.compile("[<&{:\u266a\u266b]")
# cue text whose only markup is `<i>`, `<b>`, `<u>` (and in WebVTT the common references): its
# HTML is itself, once escaped, when those tags pair up
_SIMPLE_VTT = re.compile("(?:[^<&{:\u266a\u266b]++|</?[ibu]>|&(?:amp|lt|gt|nbsp|lrm|rlm);)*")
_SIMPLE_SRT = re.compile("(?:[^<>{:\u266a\u266b]++|</?[ibu]>)*")
_SIMPLE_TAG = re.compile("<(/?)([ibu])>")
# a WebVTT voice written canonically (`<v Name>`), leading the cue; the name needs no escaping
_LEADING_VOICE = re.compile(r"""<v ([^\s<>&"'][^<>&"'\n]*)>""")
_TAG_SPACE = re.compile(r"[ \t\f]")
_REFERENCE = re.compile(r"&(?:#[0-9]+;|#[xX][0-9a-fA-F]+;|([A-Za-z][A-Za-z0-9]*;))")
_SRT_MARKUP = re.compile(
    r"<[ \t]*(/?)[ \t]*(i|b|u|font)(?=[\s/>])[^>]*>|\{\\[^}]*\}", re.IGNORECASE
)
_HTML_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# a tag, or a "<" without ">" that hides the rest of its line, as `_vtt_line_tokens` reads them
_VTT_MARKUP = re.compile(r"<[^>\n]*(?:>|$)", re.MULTILINE)
_ALPHANUMERIC = re.compile(r"[^\W_]")
_CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
# control characters, line breaks but "\n" and ASCII whitespace but " " and "\t"
_CONTROL_OR_BREAK = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_WHITESPACE_LINE = re.compile(r"^\s+$", re.MULTILINE)


class _Token(NamedTuple):
    kind: int
    value: str  # text, raw tag content between < and >, or the raw text of an opaque token
    name: str = ""
    classes: tuple[str, ...] = ()
    annotation: str | None = None


# --- tokenizing cue text ----------------------------------------------------------------------


def _tokens(text: str, fmt: CaptionFormat) -> list[_Token]:
    tokens: list[_Token] = []
    for number, line in enumerate(text.split("\n")):
        if number:
            tokens.append(_Token(_BREAK, "\n"))
        start = len(tokens)
        if fmt == "vtt":
            _vtt_line_tokens(line, tokens)
        else:
            _srt_line_tokens(line, tokens)
        if "\u266a" in line or "\u266b" in line or ":" in line:
            tokens[start:] = _protect(tokens[start:])
    return tokens


def _protect(line_tokens: list[_Token]) -> list[_Token]:
    """Split a line's speaker label and music symbols out of its text tokens."""
    out: list[_Token] = []
    at_line_start = True
    for token in line_tokens:
        if token.kind != _TEXT:
            out.append(token)
            at_line_start = at_line_start and token.kind == _START
            continue
        text = token.value
        if at_line_start:
            label = _SPEAKER_LABEL.match(text)
            if label:
                if label.group(1):
                    out.append(_Token(_TEXT, label.group(1)))
                out.append(_Token(_PROTECTED, label.group(2)))
                text = text[label.end() :]
        at_line_start = False
        position = 0
        for music in _MUSIC.finditer(text):
            if music.start() > position:
                out.append(_Token(_TEXT, text[position : music.start()]))
            out.append(_Token(_PROTECTED, music.group(0)))
            position = music.end()
        if position < len(text):
            out.append(_Token(_TEXT, text[position:]))
    return out


def _vtt_line_tokens(line: str, tokens: list[_Token]) -> None:
    position = 0
    while position < len(line):
        opening = line.find("<", position)
        if opening < 0:
            tokens.append(_Token(_TEXT, line[position:]))
            return
        if opening > position:
            tokens.append(_Token(_TEXT, line[position:opening]))
        closing = line.find(">", opening + 1)
        if closing < 0:
            # a WebVTT renderer reads the rest as a tag and hides it: keep it untouched
            tokens.append(_Token(_OPAQUE, line[opening:]))
            return
        tokens.append(_vtt_tag(line[opening + 1 : closing]))
        position = closing + 1


def _vtt_tag(content: str) -> _Token:
    if content.startswith("/"):
        return _Token(_END, content, content[1:])
    if not content or content[0].isdigit():
        return _Token(_OPAQUE, f"<{content}>")
    split = _TAG_SPACE.search(content)
    head = content[: split.start()] if split else content
    annotation = content[split.end() :].strip(" \t\f") if split else None
    name, *classes = head.split(".")
    if name not in VTT_TAGS:
        return _Token(_OPAQUE, f"<{content}>")
    return _Token(_START, content, name, tuple(classes), annotation)


def _srt_line_tokens(line: str, tokens: list[_Token]) -> None:
    position = 0
    for match in _SRT_MARKUP.finditer(line):
        if match.start() > position:
            tokens.append(_Token(_TEXT, line[position : match.start()]))
        raw = match.group(0)
        if raw.startswith("{"):
            tokens.append(_Token(_OPAQUE, raw))
        else:
            name = match.group(2).lower()
            kind = _END if match.group(1) else _START
            tokens.append(_Token(kind, raw[1:-1], name))
        position = match.end()
    if position < len(line):
        tokens.append(_Token(_TEXT, line[position:]))


def _pair(
    tokens: list[_Token], fmt: CaptionFormat
) -> tuple[dict[int, str | None], dict[int, list[int]]]:
    """Match end tags to start tags the way a WebVTT renderer does.

    Returns the raw end tag of each start tag (None when it is never closed) and, for end tags
    that close more than their own start tag (`</ruby>` after an open `<rt>`), the start tags
    they close first. End tags missing from the first mapping's values close nothing.
    """
    ends: dict[int, str | None] = {}
    closes_first: dict[int, list[int]] = {}
    stack: list[int] = []
    for position, token in enumerate(tokens):
        if token.kind == _START:
            stack.append(position)
        elif token.kind == _END:
            if stack and tokens[stack[-1]].name == token.name:
                ends[stack.pop()] = token.value
                closes_first[position] = []
            elif (
                fmt == "vtt"
                and token.name == "ruby"
                and len(stack) >= 2
                and tokens[stack[-1]].name == "rt"
                and tokens[stack[-2]].name == "ruby"
            ):
                rt = stack.pop()
                ends[rt] = None
                ends[stack.pop()] = token.value
                closes_first[position] = [rt]
    for position in stack:
        ends[position] = None
    return ends, closes_first


# --- cue text -> HTML -------------------------------------------------------------------------


def cue_text_to_html(text: str, fmt: CaptionFormat) -> str:
    """Write cue text as an HTML fragment (the inside of a cue's `<p>`)."""
    if not _MAY_NEED_MARKUP.search(text) and (fmt == "vtt" or ">" not in text):
        return text.replace("\n", "<br>")  # plain text: nothing to escape, tag or protect
    if (_SIMPLE_VTT if fmt == "vtt" else _SIMPLE_SRT).fullmatch(text) and simple_tags_pair(text):
        if fmt == "srt" and "&" in text:
            text = text.replace("&", "&amp;")
        return text.replace("\n", "<br>")
    if fmt == "vtt" and text.startswith("<v "):
        voiced = _voiced_html(text)
        if voiced is not None:
            return voiced
    return _cue_text_to_html_tokens(text, fmt)


def _voiced_html(text: str) -> str | None:
    """The HTML of `<v Name>` and simple text, closed by `</v>` at its end or never."""
    voice = _LEADING_VOICE.match(text)
    if voice is None:
        return None
    name = voice.group(1)
    rest = text[voice.end() :]
    closed = rest.endswith("</v>")
    if closed:
        rest = rest[: -len("</v>")]
    if name[-1] in " \t\f" or not _SIMPLE_VTT.fullmatch(rest) or not simple_tags_pair(rest):
        return None
    never_closed = "" if closed else ' data-e=""'
    content = rest.replace("\n", "<br>")
    return f'<span data-vtt="v" data-voice="{name}"{never_closed}>{content}</span>'


def simple_tags_pair(text: str) -> bool:
    """Whether every `<i>`, `<b>`, `<u>` in the text is closed, in order, and every end tag
    closes one."""
    open_tags: list[str] = []
    for end, name in _SIMPLE_TAG.findall(text):
        if not end:
            open_tags.append(name)
        elif not open_tags or open_tags.pop() != name:
            return False
    return not open_tags


def _cue_text_to_html_tokens(text: str, fmt: CaptionFormat) -> str:
    """`cue_text_to_html` for any cue text, token by token."""
    tokens = _tokens(text, fmt)
    ends, closes_first = _pair(tokens, fmt)
    out: list[str] = []
    open_tags: list[str] = []
    for position, token in enumerate(tokens):
        kind = token.kind
        if kind == _TEXT:
            out.append(
                _vtt_text_to_html(token.value)
                if fmt == "vtt"
                else html.escape(token.value, quote=False)
            )
        elif kind == _BREAK:
            out.append("<br>")
        elif kind == _START:
            tag, opening = _start_element(token, ends[position], fmt)
            out.append(opening)
            open_tags.append(tag)
        elif kind == _END and position in closes_first:
            for _ in range(len(closes_first[position]) + 1):
                out.append(f"</{open_tags.pop()}>")
        elif kind == _END:
            out.append(_opaque_element(f"<{token.value}>"))
        else:  # opaque markup and protected text: kept exactly as written
            out.append(_opaque_element(token.value))
    while open_tags:
        out.append(f"</{open_tags.pop()}>")
    return "".join(out)


def _vtt_text_to_html(text: str) -> str:
    # WebVTT text already writes & and < as HTML references; only a bare & needs escaping
    if "&" not in text:
        return text
    out: list[str] = []
    position = 0
    while (ampersand := text.find("&", position)) >= 0:
        out.append(text[position:ampersand])
        match = _REFERENCE.match(text, ampersand)
        if match and (match.group(1) is None or match.group(1) in html5):
            out.append(match.group(0))
            position = match.end()
        else:
            out.append("&amp;")
            position = ampersand + 1
    out.append(text[position:])
    return "".join(out)


def _canonical_start(name: str, classes: str, annotation: str | None) -> str:
    dotted = "".join(f".{cls}" for cls in classes.split())
    return f"{name}{dotted} {annotation}" if annotation else f"{name}{dotted}"


def _start_element(token: _Token, end: str | None, fmt: CaptionFormat) -> tuple[str, str]:
    name = token.name
    attributes: list[tuple[str, str]] = []
    tag = name if name in _SELF_MAPPED else "span"
    if tag == "span":
        attributes.append(("data-vtt" if fmt == "vtt" else "data-srt", name))
    classes = " ".join(token.classes)
    if classes.strip():
        attributes.append(("class", classes))
    annotation = token.annotation if name in ("v", "lang") and token.annotation else None
    if annotation is not None:
        attributes.append(("data-voice" if name == "v" else "lang", annotation))
    if _canonical_start(name, classes, annotation) != token.value:
        attributes.append(("data-t", token.value))
    if end is None:
        attributes.append(("data-e", ""))
    elif end != f"/{name}":
        attributes.append(("data-e", end))
    rendered = "".join(f' {key}="{html.escape(value)}"' for key, value in attributes)
    return tag, f"<{tag}{rendered}>"


def _opaque_element(raw: str) -> str:
    return (
        f'<span translate="no" data-x="{html.escape(raw)}">{html.escape(raw, quote=False)}</span>'
    )


# --- HTML -> cue text -------------------------------------------------------------------------

Attributes = list[tuple[str, str | None]]
# html.parser callbacks, recorded so a document is parsed once however its cues are read:
# (ON_START, tag, attrs), (ON_END, tag, None), (ON_DATA, text, None),
# (ON_ENTITY, name, None), (ON_CHARREF, name, None)
HtmlEvent = tuple[int, str, Attributes | None]
ON_START, ON_END, ON_DATA, ON_ENTITY, ON_CHARREF = range(5)


def html_to_cue_text(fragment_html: str, fmt: CaptionFormat) -> str:
    """Read an HTML fragment written by `cue_text_to_html` (and translated) back as cue text.

    Unknown elements are dropped with their text kept; text is escaped for the format; HTML
    line breaks in text are whitespace, only `<br>` is a cue line break.
    """
    recorder = HtmlEventRecorder()
    recorder.read(fragment_html)
    return cue_text_from_events(recorder.events, fmt)


class HtmlEventRecorder(FastParser):
    """Record the parser callbacks of an HTML fragment as `HtmlEvent`s."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[HtmlEvent] = []

    def handle_starttag(self, tag: str, attrs: Attributes) -> None:
        self.events.append((ON_START, tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        self.events.append((ON_END, tag, None))

    def handle_data(self, data: str) -> None:
        self.events.append((ON_DATA, data, None))

    def handle_entityref(self, name: str) -> None:
        self.events.append((ON_ENTITY, name, None))

    def handle_charref(self, name: str) -> None:
        self.events.append((ON_CHARREF, name, None))


def cue_text_from_events(events: Iterable[HtmlEvent], fmt: CaptionFormat) -> str:
    """Write the cue text an element's content stands for."""
    if not isinstance(events, list):
        events = list(events)
    if all(kind == ON_DATA for kind, _, _ in events):  # text only, the most common cue
        text = "".join(value for _, value, _ in events)
        if "\n" in text or "\r" in text:
            text = _HTML_LINE_BREAK.sub(" ", text)
        return _escape_text(text, fmt)
    builder = _CueTextBuilder(fmt)
    for kind, value, attrs in events:
        if kind == ON_DATA:
            builder.data(value)
        elif kind == ON_START:
            builder.start(value, attrs or [])
        elif kind == ON_END:
            builder.end(value)
        elif kind == ON_ENTITY:
            builder.entity(value)
        else:
            builder.charref(value)
    return builder.finish()


def depth_after_end_tag(stack: Sequence[tuple[object, ...]], tag: str) -> int:
    """How many elements of a stack of open ones (each entry's first item its tag) stay open
    when an end tag closes the innermost element of its name and every one opened inside it;
    all of them where none has that name."""
    for depth in range(len(stack) - 1, -1, -1):
        if stack[depth][0] == tag:
            return depth
    return len(stack)


def _usable(value: str | None, forbidden: str) -> bool:
    return value is not None and not any(char in value for char in forbidden)


class _CueTextBuilder:
    def __init__(self, fmt: CaptionFormat) -> None:
        self.fmt: CaptionFormat = fmt
        self.out: list[str] = []
        # open elements: (tag, what to write when it closes, whether its content is hidden)
        self.stack: list[tuple[str, str, bool]] = []
        self.hidden = 0

    def start(self, tag: str, attrs: Attributes) -> None:
        if tag == "br":
            if not self.hidden:
                self.out.append("\n")
            return
        if tag in VOID_ELEMENTS:
            return
        if self.hidden:
            self.stack.append((tag, "", False))
            return
        values = dict(attrs)
        raw = values.get("data-x")
        if values.get("translate") == "no" and raw and _usable(raw, "\r\n"):
            self.out.append(raw)
            self.stack.append((tag, "", True))
            self.hidden += 1
            return
        name = self._tag_name(tag, values)
        if name is None:
            self.stack.append((tag, "", False))
            return
        start = values.get("data-t")
        if not (start and _usable(start, "<>\r\n")):
            annotation = None
            if name in ("v", "lang"):
                annotation = values.get("data-voice" if name == "v" else "lang")
            start = _canonical_start(name, values.get("class") or "", annotation)
        end = values.get("data-e") if "data-e" in values else f"/{name}"
        if not _usable(end, "<>\r\n"):
            end = f"/{name}"
        self.out.append(f"<{start}>")
        self.stack.append((tag, f"<{end}>" if end else "", False))

    def _tag_name(self, tag: str, values: dict[str, str | None]) -> str | None:
        allowed = VTT_TAGS if self.fmt == "vtt" else SRT_TAGS
        if tag == "span":
            name = values.get("data-vtt" if self.fmt == "vtt" else "data-srt")
        elif tag in _SELF_MAPPED:
            name = tag
        else:
            name = None
        return name if name in allowed else None

    def end(self, tag: str) -> None:
        if tag in VOID_ELEMENTS:
            return
        depth = depth_after_end_tag(self.stack, tag)
        while len(self.stack) > depth:
            self._pop()

    def _pop(self) -> None:
        _, end, hides = self.stack.pop()
        if hides:
            self.hidden -= 1
        elif end and not self.hidden:
            self.out.append(end)

    def data(self, text: str) -> None:
        if not self.hidden:
            if "\n" in text or "\r" in text:
                text = _HTML_LINE_BREAK.sub(" ", text)
            self.out.append(_escape_text(text, self.fmt))

    def entity(self, name: str) -> None:
        if self.hidden:
            return
        if self.fmt == "vtt" and name in BASIC_ENTITIES:
            self.out.append(f"&{name};")
            return
        # an unknown name is text that merely starts with "&"
        decoded = html5.get(f"{name};", f"&{name}")
        self.out.append(_escape_text(decoded, self.fmt))

    def charref(self, name: str) -> None:
        if not self.hidden:
            self.out.append(_escape_text(html.unescape(f"&#{name};"), self.fmt))

    def finish(self) -> str:
        while self.stack:
            self._pop()
        return "".join(self.out)


def _escape_text(text: str, fmt: CaptionFormat) -> str:
    """Escape plain text for a cue payload: WebVTT needs & and < as references, SRT nothing."""
    if fmt == "srt":
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;")


# --- plain text and tidying -------------------------------------------------------------------


def plain_text(text: str, fmt: CaptionFormat) -> str:
    """The text a viewer reads: tags removed, references decoded, line breaks kept."""
    if fmt == "srt":
        if "<" not in text and "{" not in text:
            return text
        return "\n".join(_SRT_MARKUP.sub("", line) for line in text.split("\n"))
    visible = _VTT_MARKUP.sub("", text) if "<" in text else text
    return html.unescape(visible) if "&" in visible else visible


def _without_markup(text: str, fmt: CaptionFormat) -> str:
    """The same text as `plain_text` up to line breaks, faster: tags removed by one regex."""
    if fmt == "srt":
        return _SRT_MARKUP.sub("", text) if "<" in text or "{" in text else text
    visible = _VTT_MARKUP.sub("", text) if "<" in text else text
    return html.unescape(visible) if "&" in visible else visible


def _has_letter_or_digit(visible: str) -> bool:
    # `str.isalnum` takes the characters `_ALPHANUMERIC` matches; most cues start with one
    return visible[:1].isalnum() or _ALPHANUMERIC.search(visible) is not None


def has_translatable_text(text: str, fmt: CaptionFormat) -> bool:
    """Whether the cue holds a letter or digit to translate (not only tags, music notes, ...)."""
    return _has_letter_or_digit(_without_markup(text, fmt))


def translatable_plain_text(text: str, fmt: CaptionFormat) -> str | None:
    """`plain_text` of a cue with something to translate (`has_translatable_text`), else None:
    both at once, as for text without tags or references both read the text itself."""
    if "<" in text or "&" in text or "{" in text:
        return plain_text(text, fmt) if has_translatable_text(text, fmt) else None
    return text if _has_letter_or_digit(text) else None


def has_visible_text(text: str, fmt: CaptionFormat) -> bool:
    """Whether the cue shows anything but whitespace."""
    return bool(_without_markup(text, fmt).strip())


def escape_plain_text(text: str, fmt: CaptionFormat) -> str:
    """Write plain text (e.g. from a text translation) as cue text of the format."""
    return _escape_text(text, fmt)


def tidy_translated_text(text: str, fmt: CaptionFormat) -> str:
    """Make translated cue text safe to write back without changing the file's structure.

    Spaces at line edges are dropped (translation adds them around `<br>`), `-->` is written
    so it cannot start a cue, and empty lines that would end the cue are removed (SRT keeps
    blank lines inside a cue, as its reader does); control characters, which no caption file
    holds, are dropped.
    """
    if _is_tidy(text, fmt):  # the common case: nothing to change
        return text
    return _tidied(text, fmt)


def _is_tidy(text: str, fmt: CaptionFormat) -> bool:
    """Whether `_tidied` leaves the text as it is, proved without splitting it: no control
    character or carriage return, no "-->", no space or tab at a line's edge, no empty line
    and, in SRT, no line of only whitespace."""
    return not (
        not text
        or _CONTROL_OR_BREAK.search(text)
        or "-->" in text
        or text[0] in " \t\n"
        or text[-1] in " \t\n"
        or "\n\n" in text
        or " \n" in text
        or "\t\n" in text
        or "\n " in text
        or "\n\t" in text
        or (fmt == "srt" and not text.isascii() and _WHITESPACE_LINE.search(text))
    )


def _tidied(text: str, fmt: CaptionFormat) -> str:
    if _CONTROL_CHARACTER.search(text):
        text = _CONTROL_CHARACTER.sub("", text)
    lines = [line.strip(" \t") for line in _HTML_LINE_BREAK.split(text)]
    arrow = "--&gt;" if fmt == "vtt" else "->"
    lines = [line.replace("-->", arrow) if "-->" in line else line for line in lines]
    if fmt == "vtt":
        return "\n".join(line for line in lines if line)
    lines = [line if line.strip() else "" for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)
