"""Sentence context: a sentence over several cues is translated whole and lands on its own cues."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest

from lambdas.caption_translation.captions import (
    parse_captions,
    parse_translated_html,
    plain_text,
    to_html_documents,
    translate_captions,
)
from lambdas.caption_translation.captions.reading import ReadingProfile, check_cue
from lambdas.caption_translation.captions.segments import align_documents, sentence_groups
from lambdas.caption_translation.translator import TranslateTextTranslator
from localcloud.core.clock import LocalClock
from localcloud.core.protocol import register_on_client
from localcloud.services.translate.engine import (
    TranslateEngine,
    TranslateFaults,
    reverse_pseudo_translation,
)

SCENE = """WEBVTT

00:00:01.000 --> 00:00:03.000
When the last train leaves

00:00:03.000 --> 00:00:05.000
we will still be waiting here.

00:00:06.000 --> 00:00:08.000
- Two coffees?
- With milk.

00:00:09.000 --> 00:00:11.000
<v Ann>I think

00:00:11.000 --> 00:00:13.000
<v Ben>that you are wrong.

00:00:14.000 --> 00:00:15.000 line:10%
SIGN: PLATFORM 4

00:00:15.000 --> 00:00:17.000
The end
"""
SENTENCE_MARK = re.compile(r"\u27e8([0-9]+)\u27e9")


def engine_translator(faults: TranslateFaults | None = None) -> tuple[Any, TranslateEngine]:
    """The project's TranslateText client code, answered by the local Translate engine."""
    engine = TranslateEngine(LocalClock(speed=1e-9), lambda role: None, faults=faults)
    client = boto3.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    ).client("translate")
    register_on_client(client, engine)
    return TranslateTextTranslator(client, "en", "es"), engine


def words(text: str) -> int:
    return len(re.findall(r"[A-Za-z]+", text))


def test_cues_are_grouped_into_sentences_but_not_across_speakers_dialogue_or_positions() -> None:
    doc = parse_captions(SCENE.encode(), "scene.vtt")
    assert sentence_groups(doc) == [[0, 1], [2], [3], [4], [5], [6]]


def test_a_long_sentence_is_split_after_five_cues() -> None:
    cues = "".join(
        f"00:00:{n:02d}.000 --> 00:00:{n:02d}.900\nand then word {n}\n\n" for n in range(12)
    )
    doc = parse_captions(f"WEBVTT\n\n{cues}".encode(), "x.vtt")
    assert [len(group) for group in sentence_groups(doc)] == [5, 5, 2]


def test_the_sentence_is_sent_as_one_paragraph_with_a_marker_per_cue() -> None:
    doc = parse_captions(SCENE.encode(), "scene.vtt")
    (document,) = to_html_documents(doc, 10_000)
    assert (
        '<p id="s0"><span id="c0">When the last train leaves</span> '
        '<span id="c1">we will still be waiting here.</span></p>'
    ) in document


def test_a_sentence_over_two_cues_is_translated_whole_and_lands_on_the_same_two_cues() -> None:
    doc = parse_captions(SCENE.encode(), "scene.vtt")
    translator, _ = engine_translator()

    outcome = translate_captions(doc, translator, profile=ReadingProfile().for_language("es"))

    first, second = (plain_text(c.text, "vtt") for c in outcome.captions.cues[:2])
    # the engine marks a sentence it translated whole with its word count: both cues' words
    (count,) = SENTENCE_MARK.findall(second)
    assert int(count) == words(doc.cues[0].text) + words(doc.cues[1].text) == 11
    assert not SENTENCE_MARK.search(first)
    for before, after in zip(doc.cues, outcome.captions.cues, strict=True):
        recovered = plain_text(reverse_pseudo_translation(after.text), "vtt")
        assert recovered.split() == plain_text(before.text, "vtt").split()
    # cues translated alone carry no sentence mark
    assert not any(SENTENCE_MARK.search(c.text) for c in outcome.captions.cues[2:])
    assert outcome.context_lost_cues == ()
    assert translator.calls == 1


def test_lost_markers_fall_back_to_cue_by_cue_translation_and_say_so() -> None:
    doc = parse_captions(SCENE.encode(), "scene.vtt")
    translator, engine = engine_translator(TranslateFaults(frozenset({"drop"}), seed=3))

    outcome = translate_captions(doc, translator)

    assert engine.fault_log, "the fault must hit for this test to mean anything"
    report = outcome.report()
    assert outcome.retranslated > 0
    for before, after in zip(doc.cues, outcome.captions.cues, strict=True):
        recovered = plain_text(reverse_pseudo_translation(after.text), "vtt")
        assert recovered.split() == plain_text(before.text, "vtt").split()
    lost = {entry["index"] for entry in report["contextLost"]}
    assert lost == set(outcome.retranslated_cues) & {0, 1}
    assert all("without the rest of its sentence" in e["reason"] for e in report["contextLost"])


def test_punctuation_moved_outside_the_markers_joins_the_cue_before_it() -> None:
    translated = (
        '<html><body><p id="s0">¿<span id="c0">Cuando sale el último tren</span> '
        '<span id="c1">seguiremos esperando aquí</span>?</p></body></html>'
    )
    found = parse_translated_html(translated)
    assert found.text_of(0, "vtt") == "¿Cuando sale el último tren"
    assert found.text_of(1, "vtt") == "seguiremos esperando aquí?"
    assert found.attached == {0, 1} and found.strayed == set()


def test_words_moved_outside_the_markers_make_their_cues_suspects() -> None:
    doc = parse_captions(SCENE.encode(), "scene.vtt")
    translated = (
        '<html><body><p id="s0"><span id="c0">Cuando sale</span> el último tren '
        '<span id="c1">seguiremos esperando aquí.</span></p></body></html>'
    )
    alignment = align_documents(doc, [translated])
    assert 0 in alignment.suspects and 0 not in alignment.texts


@pytest.mark.parametrize("fmt", ["vtt", "srt"])
def test_expanded_translations_are_rewrapped_or_listed_in_the_report(fmt: str) -> None:
    source = SCENE if fmt == "vtt" else _as_srt(SCENE)
    doc = parse_captions(source.encode(), f"scene.{fmt}")
    translator, _ = engine_translator(TranslateFaults(frozenset({"expand"})))
    profile = ReadingProfile().for_language("es")

    outcome = translate_captions(doc, translator, profile=profile)

    assert outcome.rewrapped_cues  # the expansion made lines too long, and they were re-wrapped
    listed = {entry["index"] for entry in outcome.report()["overProfileCues"]}
    for cue in outcome.captions.cues:
        assert (check_cue(cue, doc.format, profile) is None) == (cue.index not in listed)
        assert (cue.start_ms, cue.end_ms) == (
            doc.cues[cue.index].start_ms,
            doc.cues[cue.index].end_ms,
        )


def test_leading_spaces_of_a_cue_line_survive_translation() -> None:
    data = "1\n00:00:01,000 --> 00:00:02,000\n    Indented line\n  and another\n"
    doc = parse_captions(data.encode(), "x.srt")
    translator, _ = engine_translator()
    outcome = translate_captions(doc, translator, profile=ReadingProfile())
    first, second = outcome.captions.cues[0].text.split("\n")
    assert first.startswith("    ") and not first.startswith("     ")
    assert second.startswith("  ") and not second.startswith("   ")


def _as_srt(vtt: str) -> str:
    blocks = [b for b in vtt.split("\n\n")[1:] if b.strip()]
    out = []
    for number, block in enumerate(blocks, 1):
        timing, *text = block.strip().split("\n")
        timing = timing.split(" line:")[0].replace(".", ",")
        out.append("\n".join([str(number), timing, *(re.sub(r"<[^>]*>", "", t) for t in text)]))
    return "\n\n".join(out) + "\n"


def test_a_never_translate_term_lost_in_translation_is_reported() -> None:
    doc = parse_captions(SCENE.encode(), "scene.vtt")
    translator, _ = engine_translator()  # no terminology: the engine translates every word

    outcome = translate_captions(doc, translator, never_translate=["train", "PLATFORM"])

    assert [(e["index"], e["term"]) for e in outcome.report()["termsNotKept"]] == [
        (0, "train"),
        (5, "PLATFORM"),
    ]


def test_speaker_labels_and_music_symbols_are_kept_out_of_translation() -> None:
    data = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n- BOB: Where were you?\n"
        "- DR. ANN: ♪ Singing in the rain ♪\n"
    )
    doc = parse_captions(data.encode(), "x.vtt")
    translator, _ = engine_translator()

    text = translate_captions(doc, translator).captions.cues[0].text

    first, second = text.split("\n")
    assert first.startswith("- BOB: ") and "·es" in first
    assert second.startswith("- DR. ANN: ♪ ") and second.endswith(" ♪")
    assert "·es" in second


def test_brevity_shortens_cues_read_too_fast_and_keeps_their_timing() -> None:
    data = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nWe have to leave before the storm.\n\n"
        "00:00:05.000 --> 00:00:09.000\nSlowly.\n"
    )
    doc = parse_captions(data.encode(), "x.vtt")
    brief = ReadingProfile(brevity=True).for_language("es")

    without = ReadingProfile().for_language("es")
    plain_outcome = translate_captions(doc, engine_translator(EXPAND)[0], profile=without)
    translator, _ = engine_translator(EXPAND)
    outcome = translate_captions(doc, translator, profile=brief)

    assert outcome.shortened_cues == (0,)  # the fast cue only; the slow one reads well
    fast_before = plain_text(plain_outcome.captions.cues[0].text, "vtt")
    fast_after = plain_text(outcome.captions.cues[0].text, "vtt")
    assert len(fast_after) < len(fast_before)
    assert outcome.captions.cues[0].start_ms == 1_000 and outcome.captions.cues[0].end_ms == 2_500
    assert outcome.report()["shortenedWithBrevity"] == [0]


def test_brevity_is_not_asked_for_when_the_profile_does_not_want_it() -> None:
    doc = parse_captions(SCENE.encode(), "scene.vtt")
    translator, _ = engine_translator(EXPAND)
    outcome = translate_captions(doc, translator, profile=ReadingProfile().for_language("es"))
    assert outcome.shortened_cues == ()
    assert translator.calls == 1


EXPAND = TranslateFaults(frozenset({"expand"}))
