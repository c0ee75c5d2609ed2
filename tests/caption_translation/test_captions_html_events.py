"""The fast reader of translated HTML makes exactly html.parser's callbacks, or steps aside."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.caption_translation.captions.html_events import FastParser, tokens


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.calls.append(("start", tag, attrs, self.get_starttag_text()))  # type: ignore[attr-defined]

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        self.calls.append(("startend", tag, attrs, self.get_starttag_text()))  # type: ignore[attr-defined]

    def handle_endtag(self, tag: str) -> None:
        self.calls.append(("end", tag))

    def handle_data(self, data: str) -> None:
        self.calls.append(("data", data))

    def handle_entityref(self, name: str) -> None:
        self.calls.append(("entity", name))

    def handle_charref(self, name: str) -> None:
        self.calls.append(("charref", name))

    def handle_comment(self, data: str) -> None:
        self.calls.append(("comment", data))


class Standard(_Recorder, HTMLParser):
    def __init__(self) -> None:
        _Recorder.__init__(self)
        HTMLParser.__init__(self, convert_charrefs=False)


class Fast(_Recorder, FastParser):
    def __init__(self) -> None:
        _Recorder.__init__(self)
        FastParser.__init__(self)


def _merged(calls: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """html.parser may hand one text run over in several calls; compare the runs."""
    merged: list[tuple[Any, ...]] = []
    for call in calls:
        if call[0] == "data" and merged and merged[-1][0] == "data":
            merged[-1] = ("data", merged[-1][1] + call[1])
        else:
            merged.append(call)
    return merged


names = st.sampled_from(["p", "span", "I", "b", "br", "Span", "ruby", "rt", "script", "x-y"])
attribute_names = st.sampled_from(
    ["id", "class", "data-x", "translate", "DATA-T", "lang", "data-e"]
)
values = st.text(alphabet="ab c&<>\"'=/;#x1", max_size=8)


@st.composite
def attribute(draw: st.DrawFn) -> str:
    name = draw(attribute_names)
    value = draw(values)
    form = draw(st.sampled_from(["double", "single", "bare", "none"]))
    if form == "double":
        return f'{name}="{value.replace(chr(34), "&quot;")}"'
    if form == "single":
        return f"{name}='{value.replace(chr(39), '&#39;')}'"
    if form == "bare":
        return f"{name}={value or 'v'}"
    return name


@st.composite
def piece(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["text", "start", "end", "startend", "entity", "charref", "odd"]))
    if kind == "text":
        return draw(st.text(alphabet="Hola mundo\n\t>¿é", min_size=1, max_size=10))
    if kind in ("start", "startend"):
        attrs = draw(st.lists(attribute(), max_size=3))
        spacing = draw(st.sampled_from([" ", "  ", "\n", "\t"]))
        inner = "".join(spacing + a for a in attrs)
        return f"<{draw(names)}{inner}{' /' if kind == 'startend' else ''}>"
    if kind == "end":
        return f"</{draw(names)}>"
    if kind == "entity":
        return draw(st.sampled_from(["&amp;", "&lt;", "&nbsp;", "&eacute;", "&rlm;", "&bogus;"]))
    if kind == "charref":
        return draw(st.sampled_from(["&#39;", "&#x27;", "&#8203;", "&#X41;"]))
    return draw(
        st.sampled_from(["<!-- c -->", "& ", "<", "a < b", "</p x>", "&amp", "<!DOCTYPE html>"])
    )


@settings(max_examples=500, deadline=None)
@given(st.lists(piece(), max_size=25))
def test_the_fast_reader_makes_html_parsers_callbacks_or_steps_aside(pieces: list[str]) -> None:
    document = "".join(pieces)
    standard, fast = Standard(), Fast()
    standard.feed(document)
    standard.close()
    fast.read(document)
    assert _merged(fast.calls) == _merged(standard.calls)


def test_documents_with_comments_or_stray_markup_are_left_to_html_parser() -> None:
    assert tokens('<p id="c1">a</p>') is not None
    for document in ["<!-- x --><p>a</p>", "a & b", "<script>x</script>", "1 < 2", "</p id=1>"]:
        assert tokens(document) is None, document
