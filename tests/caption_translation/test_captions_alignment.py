"""Alignment under translation faults: every output cue holds its own source cue's translation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.caption_translation.captions import (
    AlignmentError,
    CaptionFile,
    align_documents,
    cue_element,
    parse_captions,
    parse_translated_html,
    rebuild_from_documents,
    render_captions,
    same_structure,
    to_html_documents,
    translate_captions,
    wrap_document,
)
from lambdas.shared.errors import InputError
from tests.caption_translation.test_captions_support import (
    FakeTranslator,
    Fault,
    build,
    drop_fault,
    duplicate_fault,
    elements,
    empty_fault,
    make_vtt,
    mark_html,
    merge_fault,
    nest_fault,
    reorder_fault,
)

SOURCE = parse_captions(make_vtt(12), "scene.vtt")
# about four cues per document, so faults hit the middle and both ends of documents
MAX_BYTES = 4 * len(cue_element(SOURCE.cues[0], "vtt").encode()) + 200


def expected_text(doc: CaptionFile, index: int) -> str:
    """What the fake translator gives for this cue translated on its own."""
    document = wrap_document([cue_element(doc.cues[index], doc.format)])
    return parse_translated_html(mark_html(document)).text_of(index, doc.format)


def assert_each_cue_is_its_own(source: CaptionFile, result: CaptionFile) -> None:
    assert same_structure(source, result) is None
    for index in range(source.cue_count):
        assert result.cues[index].text == expected_text(source, index), index
        # the speaker names are attributes and are never translated
        assert result.cues[index].text.startswith(f"<v Speaker {index % 3}>LINE {index} ")


def test_a_clean_translation_needs_no_retranslation() -> None:
    translator = FakeTranslator()
    outcome = translate_captions(SOURCE, translator, MAX_BYTES)

    assert_each_cue_is_its_own(SOURCE, outcome.captions)
    assert (outcome.cues, outcome.retranslated, outcome.degraded) == (12, 0, 0)
    assert outcome.documents == len(translator.html_calls) == 3
    assert outcome.captions.cues[4].text == (
        "<v Speaker 1>LINE 4 ECHO FOXTROT GOLF\n"
        "<i>SECOND</i> LINE &amp; <c.x>4</c> <00:00:01.500>END"
    )


@pytest.mark.parametrize(
    ("fault", "suspects"),
    [
        # documents hold cues 0-3, 4-7 and 8-11; the fault hits each of them
        # merging 1 into 0 (5 into 4, 9 into 8): 1 is missing, its neighbours 0 and 2 suspect
        (merge_fault(0), {0, 1, 2, 4, 5, 6, 8, 9, 10}),
        (merge_fault(1), {1, 2, 3, 5, 6, 7, 9, 10, 11}),
        # neighbours are taken across document boundaries, conservatively
        (merge_fault(2), {2, 3, 4, 6, 7, 8, 10, 11}),
        (drop_fault(1), {0, 1, 2, 4, 5, 6, 8, 9, 10}),
        (drop_fault(0), {0, 1, 3, 4, 5, 7, 8, 9}),
        (duplicate_fault(2), {2, 6, 10}),
        (nest_fault(2), {2, 3, 6, 7, 10, 11}),
        (empty_fault(3), {3, 7, 11}),
        (reorder_fault, set()),
    ],
)
def test_faults_are_repaired_cue_by_cue(fault: Fault, suspects: set[int]) -> None:
    translator = FakeTranslator(fault=fault)
    outcome = translate_captions(SOURCE, translator, MAX_BYTES)

    assert_each_cue_is_its_own(SOURCE, outcome.captions)
    assert set(outcome.retranslated_cues) == suspects
    assert outcome.retranslated == len(suspects)
    assert outcome.degraded == 0
    # one call per document, then one per suspect cue
    assert len(translator.html_calls) == 3 + len(suspects)
    assert all(len(elements(call)) == 1 for call in translator.html_calls[3:])


def test_alignment_reports_each_kind_of_fault() -> None:
    documents = to_html_documents(SOURCE, MAX_BYTES)
    first, second, third = (mark_html(d) for d in documents)
    merged = merge_fault(0)(second)  # 5 into 4
    duplicated = duplicate_fault(1)(first)  # 1 twice
    nested = nest_fault(1)(third)  # 10 inside 9

    alignment = align_documents(SOURCE, [nested, merged, duplicated])

    assert alignment.missing == {5}
    assert alignment.neighbours == {4, 6}
    assert alignment.duplicated == {1}
    assert alignment.nested == {9, 10}
    assert alignment.suspects == {1, 4, 5, 6, 9, 10}
    assert sorted(alignment.texts) == [0, 2, 3, 7, 8, 11]
    assert alignment.texts[7] == expected_text(SOURCE, 7)


def test_neighbours_of_a_run_of_missing_cues_are_the_nearest_present_ones() -> None:
    items = elements(mark_html(to_html_documents(SOURCE, 100_000)[0]))
    kept = [item for item in items if item[0] not in {3, 4, 5}]

    alignment = align_documents(SOURCE, [build(kept)])

    assert alignment.missing == {3, 4, 5}
    assert alignment.neighbours == {2, 6}


def test_ids_that_were_not_sent_are_reported_and_ignored() -> None:
    document = mark_html(to_html_documents(SOURCE, 100_000)[0])
    extra = document.replace("</body>", '<p id="c99">STRAY</p><p id="c3x">NO</p></body>')

    alignment = align_documents(SOURCE, [extra])

    assert alignment.unexpected_ids == (99,)
    assert alignment.suspects == frozenset()


def test_a_cue_that_stays_broken_alone_is_translated_as_text_and_counted_degraded() -> None:
    translator = FakeTranslator(fault=drop_fault(0), fault_single_cue_documents=True)
    outcome = translate_captions(SOURCE, translator, MAX_BYTES)

    assert same_structure(SOURCE, outcome.captions) is None
    assert outcome.degraded_cues == (0, 1, 3, 4, 5, 7, 8, 9)
    assert outcome.degraded == 8
    # tags are dropped, line breaks kept, text escaped for WebVTT
    assert outcome.captions.cues[0].text == ("LINE 0 ALPHA BRAVO CHARLIE\nSECOND LINE &amp; 0 END")
    assert translator.text_calls[:2] == ["line 0 alpha bravo charlie", "second line & 0 end"]
    # the cues that were never suspect keep their markup
    assert outcome.captions.cues[2].text == expected_text(SOURCE, 2)


def test_an_empty_text_translation_raises_alignment_error() -> None:
    translator = FakeTranslator(
        fault=drop_fault(0), fault_single_cue_documents=True, text_result=lambda _: "  "
    )

    with pytest.raises(AlignmentError) as raised:
        translate_captions(SOURCE, translator, MAX_BYTES)

    assert not isinstance(raised.value, InputError)
    assert raised.value.cue_index == 0


def test_translator_exceptions_propagate_unchanged() -> None:
    failure = RuntimeError("throttled")

    class Failing(FakeTranslator):
        def translate_html(self, html_document: str) -> str:
            raise failure

    with pytest.raises(RuntimeError) as raised:
        translate_captions(SOURCE, Failing())

    assert raised.value is failure


def test_rebuild_from_batch_documents_in_any_order() -> None:
    documents = [mark_html(d) for d in to_html_documents(SOURCE, MAX_BYTES)]
    translator = FakeTranslator()

    outcome = rebuild_from_documents(SOURCE, list(reversed(documents)), translator)

    assert_each_cue_is_its_own(SOURCE, outcome.captions)
    assert translator.html_calls == []
    assert outcome.documents == 3


def test_a_missing_batch_document_is_recovered_cue_by_cue() -> None:
    documents = [mark_html(d) for d in to_html_documents(SOURCE, MAX_BYTES)]
    translator = FakeTranslator()

    outcome = rebuild_from_documents(SOURCE, [documents[0], documents[2]], translator)

    assert_each_cue_is_its_own(SOURCE, outcome.captions)
    assert set(outcome.retranslated_cues) == {3, 4, 5, 6, 7, 8}


def test_output_file_keeps_every_non_cue_block() -> None:
    source = parse_captions(
        b"WEBVTT - t\n\nSTYLE\n::cue { color: red }\n\nNOTE first\n\n"
        b"a\n00:00:01.000 --> 00:00:02.000 align:end\nHello there\n\nNOTE middle\n\n"
        b"00:00:03.000 --> 00:00:04.000\n\xe2\x99\xaa\n\nNOTE last\n",
        "x.vtt",
    )

    outcome = translate_captions(source, FakeTranslator())

    assert render_captions(outcome.captions) == (
        b"WEBVTT - t\n\nSTYLE\n::cue { color: red }\n\nNOTE first\n\n"
        b"a\n00:00:01.000 --> 00:00:02.000 align:end\nHELLO THERE\n\nNOTE middle\n\n"
        b"00:00:03.000 --> 00:00:04.000\n\xe2\x99\xaa\n\nNOTE last\n"
    )


FAULTS = st.one_of(
    st.integers(0, 20).map(merge_fault),
    st.integers(0, 20).map(drop_fault),
    st.integers(0, 20).map(duplicate_fault),
    st.integers(0, 20).map(nest_fault),
    st.integers(0, 20).map(empty_fault),
    st.just(reorder_fault),
)


@settings(max_examples=30, deadline=None)
@given(faults=st.lists(FAULTS, min_size=1, max_size=4), limit=st.sampled_from([600, 1_200, 5_000]))
def test_a_fault_in_every_document_keeps_every_cue_its_own(faults: list[Fault], limit: int) -> None:
    calls = iter(range(1_000))

    def damage(document: str) -> str:
        return faults[next(calls) % len(faults)](document)

    outcome = translate_captions(SOURCE, FakeTranslator(fault=damage), limit)

    assert_each_cue_is_its_own(SOURCE, outcome.captions)
    assert outcome.degraded == 0


def test_a_translation_that_lost_every_element_is_redone_cue_by_cue() -> None:
    translator = FakeTranslator(fault=lambda _: "<html><body><p>nothing</p></body></html>")

    outcome = translate_captions(SOURCE, translator, MAX_BYTES)

    assert_each_cue_is_its_own(SOURCE, outcome.captions)
    assert outcome.alignment.missing == frozenset(range(12))
    assert outcome.retranslated_cues == tuple(range(12))
    assert outcome.degraded == 0
