"""A fast reader for the HTML Translate returns, giving exactly `html.parser`'s callbacks.

Translated documents are plain HTML: elements with quoted or bare attributes, text, entity and
character references. For such a document one regular expression finds every token at once,
several times faster than `html.parser`'s character-by-character state machine, and the
callbacks (`handle_starttag`, `handle_startendtag`, `handle_endtag`, `handle_data`,
`handle_entityref`, `handle_charref`) are the ones `html.parser` (with
`convert_charrefs=False`) makes for it: names lower-cased, attribute values unescaped, a bare
attribute's value None. Anything else (comments, declarations, processing instructions,
raw-text elements such as `<script>`, a `<` or `&` that starts no tag or reference, an end tag
with attributes) makes `tokens` return None, and the caller lets `html.parser` read the
document. A property test compares both on generated documents.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Literal, NamedTuple

_SPACE = "\\t\\n\\r\\f "
# groups: (whole token, text, "/" of an end tag, tag name, attributes, "/" of "/>",
# character reference, entity name)
_TOKEN = re.compile(
    rf"""
    (
    ([^<&]+)
    |<(/)?([a-zA-Z][^{_SPACE}/>\x00]*)
      ((?:[{_SPACE}]+[^{_SPACE}/>=\x00"'<][^{_SPACE}/>=\x00"'<]*
        (?:[{_SPACE}]*=[{_SPACE}]*(?:"[^"]*"|'[^']*'|[^{_SPACE}"'=<>`]+))?)*)
      [{_SPACE}]*(/)?>
    |&\#([0-9]+|[xX][0-9a-fA-F]+);
    |&([a-zA-Z][a-zA-Z0-9]*);
    )
    """,
    re.VERBOSE,
)
_ATTRIBUTE = re.compile(
    rf"""([^{_SPACE}/>=\x00"'<][^{_SPACE}/>=\x00"'<]*)
    (?:[{_SPACE}]*=[{_SPACE}]*("[^"]*"|'[^']*'|[^{_SPACE}"'=<>`]+))?""",
    re.VERBOSE,
)
_RAW_TEXT = frozenset({"script", "style"})

Kind = Literal["start", "startend", "end", "data", "entity", "charref"]


class Token(NamedTuple):
    kind: Kind
    value: str  # tag name, text, entity name or character reference
    attrs: list[tuple[str, str | None]] | None = None
    raw: str = ""  # a start tag as written


def tokens(document: str) -> list[Token] | None:
    """The document's tokens, or None when it holds anything but plain elements and text."""
    found: list[Token] = []
    covered = 0
    for whole, text, end, tag, attrs_text, close, charref, entity in _TOKEN.findall(document):
        covered += len(whole)
        if text:
            found.append(Token("data", text))
        elif tag:
            name = tag.lower()
            if end:
                if attrs_text or close:
                    return None
                found.append(Token("end", name))
                continue
            if name in _RAW_TEXT:
                return None
            attrs = attributes(attrs_text)
            found.append(Token("startend" if close else "start", name, attrs, whole))
        elif charref:
            found.append(Token("charref", charref))
        else:
            found.append(Token("entity", entity))
    # `findall` skips what no token matches: a gap means the document is not plain HTML
    return found if covered == len(document) else None


def attributes(text: str) -> list[tuple[str, str | None]]:
    """A start tag's attributes as `html.parser` gives them, from the text after its name."""
    return [
        (key.lower(), html.unescape(_unquote(value)) if value else None)
        for key, value in _ATTRIBUTE.findall(text)
    ]


def _unquote(value: str) -> str:
    if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) >= 2:
        return value[1:-1]
    return value


class FastParser(HTMLParser):
    """An `HTMLParser` that reads plain documents with `tokens` and others as `html.parser`
    does; subclasses implement the `handle_*` callbacks as usual."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self._start_text: str | None = None

    def get_starttag_text(self) -> str | None:
        return self._start_text if self._start_text is not None else super().get_starttag_text()

    def read(self, document: str) -> None:
        """Feed a whole document and close the parser."""
        found = tokens(document)
        if found is None:
            self.feed(document)
            self.close()
            return
        for token in found:
            kind = token.kind
            if kind == "data":
                self.handle_data(token.value)
            elif kind == "start":
                self._start_text = token.raw
                self.handle_starttag(token.value, token.attrs or [])
            elif kind == "end":
                self.handle_endtag(token.value)
            elif kind == "startend":
                self._start_text = token.raw
                self.handle_startendtag(token.value, token.attrs or [])
            elif kind == "entity":
                self.handle_entityref(token.value)
            else:
                self.handle_charref(token.value)
        self._start_text = None
        self.close()
