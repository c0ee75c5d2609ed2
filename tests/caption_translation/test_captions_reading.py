"""Reading standard: translated cues re-wrapped to the profile, the rest reported, timing kept."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.caption_translation.captions import parse_captions, plain_text
from lambdas.caption_translation.captions.model import Cue
from lambdas.caption_translation.captions.reading import (
    ReadingProfile,
    ReadingProfileError,
    check_cue,
    rewrap,
    visible_length,
)

PROFILE = ReadingProfile()
TAG = re.compile(r"<[^>]*>|&[a-z]+;|\{\\[^}]*\}")


def lines_of(text: str, fmt: str = "vtt") -> list[str]:
    return [line.strip() for line in plain_text(text, fmt).split("\n")]  # type: ignore[arg-type]


def same_words_and_tags(before: str, after: str) -> bool:
    """Only line breaks moved: the text is the same once every break and space is one space."""
    return " ".join(before.split()) == " ".join(after.split())


def test_a_cue_that_fits_is_left_exactly_as_translated() -> None:
    text = "Hola, ¿cómo estás?\nMuy bien, gracias."
    assert rewrap(text, "vtt", PROFILE) is text


def test_long_translated_lines_are_rebroken_into_balanced_lines_at_punctuation() -> None:
    text = "Hace mucho tiempo que no te veo por aquí, amigo mío,\ny me alegro de verte."

    wrapped = rewrap(text, "vtt", PROFILE)

    assert same_words_and_tags(text, wrapped)
    lines = lines_of(wrapped)
    assert len(lines) == 2
    assert all(len(line) <= 42 for line in lines)
    assert lines[0].endswith(",")  # broken after punctuation, not anywhere
    assert abs(len(lines[0]) - len(lines[1])) < 20


def test_a_line_never_ends_on_an_article_when_a_better_break_exists() -> None:
    text = "Ich habe den Schlüssel für die Tür in der Küche auf dem Tisch liegen lassen"
    lines = lines_of(rewrap(text, "vtt", PROFILE))
    assert len(lines) == 2
    assert lines[0].split()[-1] not in {"den", "die", "der", "dem", "in", "auf"}


def test_tags_entities_and_voices_are_never_split() -> None:
    text = (
        "<v Bob Smith>Tom &amp; Jerry</v> watch <c.yellow.bg_blue>a very long film</c> about "
        "<i>cats and dogs and mice</i> tonight"
    )
    wrapped = rewrap(text, "vtt", PROFILE)

    assert same_words_and_tags(text, wrapped)
    assert TAG.findall(wrapped) == TAG.findall(text)
    assert "<v Bob Smith>" in wrapped and "&amp;" in wrapped
    parsed = parse_captions(
        f"WEBVTT\n\n00:00:01.000 --> 00:00:05.000\n{wrapped}\n".encode(), "x.vtt"
    )
    assert parsed.cues[0].text == wrapped
    assert all(len(line) <= 42 for line in lines_of(wrapped))


def test_srt_override_tags_stay_whole() -> None:
    text = '{\\an8}<font color="#ffd700">Die letzte Bahn fährt um zehn vor Mitternacht ab</font>'
    wrapped = rewrap(text, "srt", PROFILE)
    assert wrapped.startswith('{\\an8}<font color="#ffd700">')
    assert same_words_and_tags(text, wrapped)
    assert all(len(line) <= 42 for line in lines_of(wrapped, "srt"))


def test_each_speaker_of_a_dialogue_cue_keeps_their_own_line() -> None:
    text = "- ¿Dónde has estado todo este tiempo, que no te he visto?\n- En casa."
    lines = rewrap(text, "vtt", PROFILE).split("\n")
    assert lines[-1] == "- En casa."
    assert lines[0].startswith("- ¿Dónde")
    assert not any(line.startswith("- En") for line in lines[:-1])


def test_japanese_breaks_between_characters_but_not_before_closing_punctuation() -> None:
    profile = PROFILE.for_language("ja")
    text = "これは日本語のとても長い字幕の文章です。「こんにちは」と言いました。"

    wrapped = rewrap(text, "vtt", profile)

    assert wrapped.replace("\n", "") == text
    lines = wrapped.split("\n")
    assert all(len(line) <= 13 for line in lines)
    assert not any(line[0] in "。、」』\uff09" for line in lines)
    assert not any(line[-1] in "「『\uff08" for line in lines)


def test_latin_targets_never_break_inside_a_cjk_word() -> None:
    text = "The baker says パンpan means bread and パン is what he bakes every morning"
    wrapped = rewrap(text, "vtt", PROFILE.for_language("es"))
    assert same_words_and_tags(text, wrapped)


def test_thai_is_counted_without_its_vowel_and_tone_marks_and_broken_only_at_spaces() -> None:
    word = "ที่นี่"  # 6 code points, 4 of them combining marks
    assert visible_length(word) == 2
    text = " ".join([word] * 20)
    wrapped = rewrap(text, "vtt", PROFILE.for_language("th"))
    assert all(part == word for line in wrapped.split("\n") for part in line.split(" "))
    assert all(visible_length(line) <= 42 for line in wrapped.split("\n"))


def test_right_to_left_text_keeps_its_order_and_direction_marks() -> None:
    text = "&rlm;مرحبا يا صديقي، لم أرك منذ وقت طويل جدا، كيف حالك اليوم يا عزيزي؟"
    wrapped = rewrap(text, "vtt", PROFILE)
    assert same_words_and_tags(text, wrapped)
    assert wrapped.startswith("&rlm;")
    assert visible_length("\u200f\u0627\u0628c") == 3


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyzé,.", min_size=1, max_size=15),
        min_size=1,
        max_size=40,
    ),
    st.integers(min_value=10, max_value=60),
)
def test_rewrapping_only_moves_line_breaks_and_respects_the_limit(
    words: list[str], limit: int
) -> None:
    text = " ".join(words)
    profile = ReadingProfile(max_chars_per_line=limit, max_lines=2)

    wrapped = rewrap(text, "vtt", profile)

    assert wrapped.replace("\n", " ") == text
    for line in wrapped.split("\n"):
        assert len(line) <= limit or " " not in line  # only a single over-long word may exceed


def cue(text: str, start: int = 0, end: int = 2_000) -> Cue:
    return Cue(index=4, identifier="five", start_ms=start, end_ms=end, settings="", text=text)


def test_a_cue_within_the_profile_is_not_reported() -> None:
    assert check_cue(cue("Short and sweet.", 0, 2_000), "vtt", PROFILE) is None


def test_a_cue_over_the_limits_is_reported_with_its_figures_and_its_timing_kept() -> None:
    text = "Una frase bastante larga para leer\nen solo un segundo y medio, ¿verdad?"
    entry = check_cue(cue(text, 61_000, 62_500), "vtt", PROFILE)

    assert entry is not None
    assert (entry["cue"], entry["index"], entry["start"]) == ("five", 4, "00:01:01.000")
    assert entry["charsPerLine"] == [34, 36]
    assert entry["lines"] == 2
    assert entry["cps"] == round(70 / 1.5, 1)
    assert any("characters per second" in reason for reason in entry["reasons"])


def test_a_cue_shown_too_briefly_and_one_with_too_many_lines_are_reported() -> None:
    brief = check_cue(cue("Oh.", 0, 300), "vtt", PROFILE)
    assert brief is not None and "on screen 300 ms" in brief["reasons"][0]
    crowded = check_cue(cue("Uno\nDos\nTres", 0, 3_000), "vtt", PROFILE)
    assert crowded is not None and crowded["reasons"] == ["3 lines (at most 2)"]


def test_profiles_read_from_json_with_per_language_overrides() -> None:
    profile = ReadingProfile.from_json(
        {"maxCharsPerLine": 37, "languages": {"fr": {"maxCharsPerSecond": 15}}}
    )
    assert profile.max_chars_per_line == 37
    assert profile.for_language("fr").max_chars_per_second == 15
    assert profile.for_language("fr").max_chars_per_line == 37
    assert profile.for_language("es").max_chars_per_second == 17
    assert profile.for_language("ja").max_chars_per_line == 13
    batch = ReadingProfile.from_json({"maxLines": 3}, base=profile)
    assert (batch.max_lines, batch.max_chars_per_line) == (3, 37)
    assert ReadingProfile.from_json(profile.as_json()) == profile


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "must be a JSON object"),
        ({"maxCharsPerLine": 0}, "maxCharsPerLine must be a number from 1 to 200"),
        ({"maxLines": True}, "maxLines must be a number"),
        ({"maxCps": 12}, "unknown reading profile settings: maxCps"),
        ({"languages": {"fr": {"cps": 1}}}, "languages.fr must be an object"),
    ],
)
def test_bad_profiles_are_refused_naming_the_setting(document: object, message: str) -> None:
    with pytest.raises(ReadingProfileError, match=re.escape(message)):
        ReadingProfile.from_json(document)
