"""Reading a translated document that kept the shape `to_html_documents` gave it.

A translation that went well keeps the document's structure: `<html><body>`, then cue
paragraphs `<p id="c{n}">` and sentence paragraphs `<p id="s{n}">` holding cue markers
`<span id="c{n}">`, with only whitespace between them, and inside each cue only text, `<br>`,
character and entity references and the inline elements `cue_text_to_html` writes (`i`, `b`,
`u`, `ruby`, `rt`, `span` with `class`, `lang`, `translate` or `data-*` attributes). One
regular expression proves a document has that shape and cuts out each cue's content, in C;
most cues are text and `<br>` only, and their cue text is read straight from the content.

For such a document the general reader (`parse_translated_html`) finds exactly the same: no
cue element inside another, no text outside a marker, each cue's content read as the same
parser events. Cue markers of a sentence may hold spans of their own two levels deep, and
their tags must nest properly, so that the marker's `</span>` is the one the parser closes it
with. Any other document (and anything the expression does not prove) returns None, and the
caller reads it with the general reader. A property test compares both on generated and
damaged documents.
"""

from __future__ import annotations

import re

from .html_events import tokens
from .markup import (
    ON_CHARREF,
    ON_DATA,
    ON_END,
    ON_ENTITY,
    ON_START,
    VOID_ELEMENTS,
    HtmlEvent,
    simple_tags_pair,
)
from .model import CaptionFormat

DOCUMENT_START = "<html><body>"
DOCUMENT_END = "</body></html>"
_SPACE = "[ \t\n\r\f]*"
_NUMBER = "(0|[1-9][0-9]*)"
_REFERENCE = r"&(?:\#(?:[0-9]+|[xX][0-9a-fA-F]+)|[a-zA-Z][a-zA-Z0-9]*);"
_ATTRIBUTES = r'(?:[ ](?:class|lang|translate|data-[a-z]+)="[^"]*")*'
_INLINE = "(?:i|b|u|ruby|rt)"
_FLAT = rf"(?:[^<&]++|<br>|{_REFERENCE}|<{_INLINE}{_ATTRIBUTES}>|</{_INLINE}>)"
# a cue paragraph's content: no `</p>` (which would close it) and no element with an id
_IN_PARAGRAPH = rf"(?:{_FLAT}|<span{_ATTRIBUTES}>|</span>)*"
# a cue marker's content: its own spans up to two levels deep, so its `</span>` is found
_IN_SPAN = rf"(?:{_FLAT}|<span{_ATTRIBUTES}>{_FLAT}*</span>)*"
_IN_MARKER = rf"(?:{_FLAT}|<span{_ATTRIBUTES}>{_IN_SPAN}</span>)*"
_NUMBER_SHAPE = "(?:0|[1-9][0-9]*)"
_MARKER_SHAPE = rf'{_SPACE}<span id="c{_NUMBER_SHAPE}">{_IN_MARKER}</span>'
# groups: (whole block, cue id, cue content, the markers of a sentence); whitespace is taken
# from its first character, so a search never retries inside it (quadratic time)
_BLOCK = re.compile(
    rf'(?<![ \t\n\r\f])({_SPACE}(?:<p id="c{_NUMBER}">({_IN_PARAGRAPH})</p>'
    rf'|<p id="s{_NUMBER_SHAPE}">((?:{_MARKER_SHAPE})+){_SPACE}</p>))'
)
# groups: (cue id, cue content)
_MARKERS = re.compile(rf'(?<![ \t\n\r\f]){_SPACE}<span id="c{_NUMBER}">({_IN_MARKER})</span>')
_EDGE_SPACE = " \t\n\r\f"
# content read without events: text, `<br>`, paired `<i>`, `<b>`, `<u>` and the references
# WebVTT players know
_SIMPLE = re.compile(r"(?:[^<&]++|<br>|</?[ibu]>|&(?:amp|lt|gt|nbsp|lrm|rlm);)*")
# a WebVTT voice around simple content, as `cue_text_to_html` writes `<v Name>`
_VOICED = re.compile(
    '<span data-vtt="v" data-voice="([^"&<>]+)"( data-e="")?>'
    r"((?:[^<&]++|<br>|</?[ibu]>|&(?:amp|lt|gt|nbsp|lrm|rlm);)*)</span>"
)
_SRT_REFERENCES = (
    ("&lt;", "<"),
    ("&gt;", ">"),
    ("&nbsp;", "\u00a0"),
    ("&lrm;", "\u200e"),
    ("&rlm;", "\u200f"),
    ("&amp;", "&"),  # last: "&amp;lt;" is "&lt;" as text
)
_HTML_LINE_BREAK = re.compile(r"\r\n|\r|\n")

Content = str | tuple[str, bool, str] | list[HtmlEvent]
"""A cue's content: the HTML itself when `simple_cue_text` reads it; a voice's name, whether
the source never closed it, and its HTML for `voiced_cue_text`; else its parser events."""


def shaped_elements(document: str) -> list[tuple[int, Content]] | None:
    """Each cue element of a document in the expected shape, in order, or None."""
    stripped = document.strip(_EDGE_SPACE)
    if not (
        len(stripped) >= len(DOCUMENT_START) + len(DOCUMENT_END)
        and stripped.startswith(DOCUMENT_START)
        and stripped.endswith(DOCUMENT_END)
    ):
        return None
    body = stripped[len(DOCUMENT_START) : len(stripped) - len(DOCUMENT_END)].rstrip(_EDGE_SPACE)
    found: list[tuple[int, Content]] = []
    covered = 0
    for whole, cue, inner, markers in _BLOCK.findall(body):
        covered += len(whole)
        if cue:
            content = _content(inner, nested_check=False)
            if content is None:
                return None
            found.append((int(cue), content))
            continue
        for marked, marked_inner in _MARKERS.findall(markers):
            content = _content(marked_inner, nested_check=True)
            if content is None:
                return None
            found.append((int(marked), content))
    # `findall` skips what no block matches: a gap means the document has another shape
    return found if covered == len(body) else None


def _content(inner: str, nested_check: bool) -> Content | None:
    if "&" not in inner and ("<" not in inner or "<" not in inner.replace("<br>", "")):
        return inner
    if _SIMPLE.fullmatch(inner) and simple_tags_pair(inner):
        return inner
    if inner.startswith('<span data-vtt="v" '):
        voiced = _VOICED.fullmatch(inner)
        if voiced is not None and simple_tags_pair(voiced.group(3)):
            name, never_closed, content = voiced.groups()
            return name, bool(never_closed), content
    found = tokens(inner)
    if found is None:  # not reachable for text the expression accepted; read generally
        return None
    # the events the general reader makes for the cue: an end tag closes the elements above
    # its own (each with an end event) or, when none is open, is ignored
    events: list[HtmlEvent] = []
    open_tags: list[str] = []
    for token in found:
        kind = token.kind
        if kind == "data":
            events.append((ON_DATA, token.value, None))
        elif kind == "start":
            events.append((ON_START, token.value, token.attrs or []))
            if token.value not in VOID_ELEMENTS:
                open_tags.append(token.value)
        elif kind == "end":
            name = token.value
            if nested_check and (not open_tags or open_tags[-1] != name):
                return None
            if name in open_tags:
                while True:
                    closed = open_tags.pop()
                    events.append((ON_END, closed, None))
                    if closed == name:
                        break
        elif kind == "entity":
            events.append((ON_ENTITY, token.value, None))
        elif kind == "charref":
            events.append((ON_CHARREF, token.value, None))
        else:  # a self-closing tag: not in the expected shape
            return None
    if nested_check and open_tags:
        return None
    while open_tags:  # closed by the cue's own end tag
        events.append((ON_END, open_tags.pop(), None))
    return events


def simple_cue_text(content: str, fmt: CaptionFormat) -> str:
    """The cue text (before tidying) of content `shaped_elements` returns as HTML: line
    breaks in text are spaces, `<br>` is a cue line break, the paired tags stay as written;
    references stay as written in WebVTT and are characters in SRT; nothing else needs
    escaping."""
    if "\n" in content or "\r" in content:
        content = _HTML_LINE_BREAK.sub(" ", content)
    text = content.replace("<br>", "\n")
    if fmt == "srt" and "&" in text:
        for reference, character in _SRT_REFERENCES:
            text = text.replace(reference, character)
    return text


def voiced_cue_text(voiced: tuple[str, bool, str], fmt: CaptionFormat) -> str:
    """The cue text (before tidying) of a voice `shaped_elements` found: `<v Name>`, the text
    and `</v>` unless the source never closed it; in SRT, which has no voices, the text."""
    name, never_closed, content = voiced
    text = simple_cue_text(content, fmt)
    if fmt == "srt":
        return text
    return f"<v {name}>{text}" if never_closed else f"<v {name}>{text}</v>"
