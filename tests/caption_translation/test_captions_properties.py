"""Property tests on generated WebVTT and SRT files."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdas.caption_translation.captions import (
    cue_element,
    cue_text_to_html,
    html_to_cue_text,
    parse_captions,
    rebuild_from_documents,
    render_captions,
    same_structure,
    text_problem,
    to_html_documents,
    translate_captions,
    with_texts,
)
from tests.caption_translation.test_captions_support import (
    GeneratedFile,
    IdentityTranslator,
    assert_cues_match,
    caption_files,
    generated_file_profile,
    srt_files,
    srt_texts,
    vtt_files,
    vtt_texts,
)

PROFILE = generated_file_profile(40)


@pytest.mark.parametrize(
    ("files", "fmt"), [(vtt_files(), "vtt"), (srt_files(), "srt")], ids=["webvtt", "srt"]
)
@PROFILE
@given(data=st.data())
def test_a_generated_file_parses_to_the_cues_written(
    files: st.SearchStrategy[GeneratedFile], fmt: str, data: st.DataObject
) -> None:
    generated = data.draw(files)
    doc = parse_captions(generated.data, f"generated.{fmt}")

    assert (doc.format, doc.bom, doc.newline) == (fmt, generated.bom, generated.newline)
    assert_cues_match(doc, generated.cues)
    # the WebVTT generator writes blocks besides cues; the SRT one none, and none are read
    assert tuple(block.lines for block in doc.blocks) == generated.blocks


@PROFILE
@given(caption_files)
def test_render_then_parse_gives_the_same_model(generated: GeneratedFile) -> None:
    doc = parse_captions(generated.data, f"generated.{generated.format}")
    rendered = render_captions(doc)

    assert parse_captions(rendered, f"generated.{generated.format}") == doc
    assert render_captions(parse_captions(rendered, "again")) == rendered
    assert rendered.startswith(b"\xef\xbb\xbf") == generated.bom


@PROFILE
@given(caption_files, st.sampled_from(["small", "large"]))
def test_identity_translation_rebuilds_the_source(generated: GeneratedFile, size: str) -> None:
    doc = parse_captions(generated.data, f"generated.{generated.format}")
    largest = max(len(cue_element(cue, doc.format).encode()) for cue in doc.cues)
    # "small" puts about one cue in each document, "large" every cue in one
    limit = largest + 26 if size == "small" else 1_000_000

    documents = to_html_documents(doc, limit)
    rebuilt = rebuild_from_documents(doc, documents, IdentityTranslator(), limit)
    translated = translate_captions(doc, IdentityTranslator(), limit)

    for outcome in (rebuilt, translated):
        assert outcome.captions == doc
        assert same_structure(doc, outcome.captions) is None
        assert (outcome.retranslated, outcome.degraded) == (0, 0)
        assert render_captions(outcome.captions) == render_captions(doc)
    assert all(len(document.encode()) <= limit for document in documents)


@PROFILE
@given(st.one_of(vtt_texts().map(lambda t: ("vtt", t)), srt_texts().map(lambda t: ("srt", t))))
def test_cue_text_survives_html_byte_for_byte(case: tuple[str, str]) -> None:
    fmt, text = case
    assert fmt in ("vtt", "srt")
    markup = cue_text_to_html(text, "vtt" if fmt == "vtt" else "srt")

    assert html_to_cue_text(markup, "vtt" if fmt == "vtt" else "srt") == text


@PROFILE
@given(caption_files, st.data())
def test_any_text_with_texts_accepts_reads_back_exactly_as_written(
    generated: GeneratedFile, data: st.DataObject
) -> None:
    """The premise of the translation's verification: whatever new cue texts `with_texts`
    accepts (it refuses what `text_problem` names), the written file reads back with exactly
    those cues, so it need not be parsed again after every translation."""
    doc = parse_captions(generated.data, f"generated.{generated.format}")
    texts = vtt_texts() if doc.format == "vtt" else srt_texts()
    anything = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30)
    new = {cue.index: data.draw(st.one_of(texts, anything)) for cue in doc.cues}
    accepted = {i: t if text_problem(t, doc.format) is None else "x" for i, t in new.items()}

    result = with_texts(doc, accepted)

    assert parse_captions(render_captions(result), f"again.{doc.format}").cues == result.cues
