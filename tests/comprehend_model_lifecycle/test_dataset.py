"""Training data for the Comprehend lifecycle: parsing uploads, merging, the stable test split,
and the checks that decide whether a round can train."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from lambdas.comprehend_model_lifecycle import dataset
from lambdas.comprehend_model_lifecycle.dataset import Row, TrainingDataError
from lambdas.comprehend_model_lifecycle.rounds import trusted_lines

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "comprehend_model_lifecycle"


def parse(data: bytes, multi_label: bool = False, allowed: tuple[str, ...] = ()) -> list[Row]:
    return dataset.parse_csv(data, "upload.csv", multi_label, "|", allowed)


def rejection(data: bytes, multi_label: bool = False, allowed: tuple[str, ...] = ()) -> str:
    with pytest.raises(TrainingDataError) as caught:
        parse(data, multi_label, allowed)
    assert caught.value.code == "invalid-training-data"
    return caught.value.reason


# --- Parsing ---------------------------------------------------------------------------------


def test_rows_keep_their_label_and_text_including_quoted_commas_and_quotes() -> None:
    data = (
        b'World,"Leaders meet, then talk"\r\n'
        b'Sports,"The coach said ""never again"" after the match"\n'
        b"\n"
        b"  Business  ,  Shares rise  \n"
    )
    assert parse(data) == [
        Row(("World",), "Leaders meet, then talk"),
        Row(("Sports",), 'The coach said "never again" after the match'),
        Row(("Business",), "Shares rise"),
    ]


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_label() -> None:
    assert parse("\ufeffWorld,Café owners protest\n".encode()) == [
        Row(("World",), "Café owners protest")
    ]


def test_multi_label_rows_split_sort_and_deduplicate_their_labels() -> None:
    rows = parse(b"Sports|Business| Sports,Club shares soar\nWorld,Summit opens\n", True)
    assert rows == [
        Row(("Business", "Sports"), "Club shares soar"),
        Row(("World",), "Summit opens"),
    ]


def test_every_sample_file_parses_in_both_modes() -> None:
    for path in sorted(SAMPLES.glob("*.csv")):
        data = path.read_bytes()
        expected = list(csv.reader(io.StringIO(data.decode())))
        for multi_label in (False, True):
            rows = parse(data, multi_label, ("World", "Sports", "Business", "SciTech"))
            assert [(r.labels[0], r.text) for r in rows] == [(a, b) for a, b in expected]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "upload.csv is empty"),
        (b" \n\r\n\t", "upload.csv is empty"),
        (b"World,Leaders meet, then talk\n", "line 1: expected 2 columns (label,text), found 3"),
        (b"World,Fine\nJust some text\n", "line 2: expected 2 columns (label,text), found 1"),
        (b"World,Fine\n,No label\n", "line 2: the label is empty"),
        (b"World,Fine\nSports,   \n", "line 2: the text is empty"),
        (b"World|Sports,Two labels\n", "line 1: several labels ('World|Sports') in multi-class"),
        (
            b"label,text\nWorld,Fine\n",
            "line 1: label,text is a header row; Comprehend's CSV format has none: remove the line",
        ),
        (b"Class,Document\nWorld,Fine\n", "line 1: Class,Document is a header row"),
        (b"World," + b"x" * 10_001 + b"\n", "line 1: the text is over 10000 bytes"),
        (b"\n , \n\t,\n", "upload.csv has no rows"),
    ],
)
def test_a_bad_upload_is_rejected_with_the_line_and_the_problem(data: bytes, problem: str) -> None:
    assert problem in rejection(data)


def test_lines_of_blank_fields_are_skipped_and_a_text_of_the_byte_limit_is_kept() -> None:
    longest = "é" * 5_000  # 10,000 bytes
    data = f"World,Fine\n , \nSports,{longest}\n".encode()
    assert parse(data) == [Row(("World",), "Fine"), Row(("Sports",), longest)]


def test_a_comma_delimiter_leaves_a_quoted_multi_class_label_whole() -> None:
    data = b'"Arts, Culture",Opera opens\n'
    rows = dataset.parse_csv(data, "upload.csv", False, ",")
    assert rows == [Row(("Arts, Culture",), "Opera opens")]


def test_non_utf8_bytes_are_rejected_with_their_position() -> None:
    reason = rejection("World,Café owners protest\n".encode("latin-1"))
    assert reason == "upload.csv is not valid UTF-8 (byte 9): save it as UTF-8"


def test_malformed_quoting_is_rejected_not_read_into_other_documents() -> None:
    # Leniently read, an open quote would make every later line part of one document.
    assert rejection(b'World,Fine\nWorld,"Leaders meet\nSports,Goal\n') == (
        "upload.csv line 2: malformed CSV: unexpected end of data"
    )
    assert "line 1: malformed CSV: ',' expected after '\"'" in rejection(b'World,"Goal"s\n')
    # A quote inside an unquoted field is text.
    assert parse(b'World,The "summit" opens\n') == [Row(("World",), 'The "summit" opens')]


def test_labels_outside_the_configured_set_are_named_with_the_set() -> None:
    allowed = ("World", "Sports")
    reason = rejection(b"World,Fine\nPolitics|Sports,Vote\n", True, allowed)
    assert reason == (
        "upload.csv line 2: label(s) Politics are not among the configured labels (World, Sports)"
    )
    assert "label(s) Politics" in rejection(b"Politics,Vote\n", False, allowed)
    assert "line 1: label(s) Arts, Politics are not among" in rejection(
        b"Politics|Arts|World,Vote\n", True, allowed
    )
    assert parse(b"Sports|World,Both\n", True, allowed) == [Row(("Sports", "World"), "Both")]


def test_a_header_row_is_data_when_its_label_is_configured() -> None:
    assert parse(b"label,text\n", allowed=("label",)) == [Row(("label",), "text")]


def test_a_header_like_line_after_the_first_row_is_a_document() -> None:
    assert parse(b"World,Fine\nlabel,text\n")[1] == Row(("label",), "text")


# --- Merging, splitting, trainability ---------------------------------------------------------


def test_a_later_row_for_the_same_text_replaces_the_earlier_one_in_place() -> None:
    ground_truth = [Row(("World",), "Summit opens"), Row(("Sports",), "Cup final tonight")]
    feedback = [
        Row(("Business",), "  summit   OPENS "),  # the same document, re-labelled
        Row(("SciTech",), "Rocket lifts off"),
        Row(("SciTech",), "Rocket lifts off"),
    ]
    assert dataset.merge(ground_truth, feedback) == [
        Row(("Business",), "  summit   OPENS "),
        Row(("Sports",), "Cup final tonight"),
        Row(("SciTech",), "Rocket lifts off"),
    ]
    assert dataset.merge() == []


def test_the_test_split_is_stable_and_partitions_the_rows() -> None:
    rows = parse((SAMPLES / "initial.csv").read_bytes())
    train, test = dataset.split(rows, 10)
    assert sorted(train + test, key=rows.index) == rows
    assert not {r.key for r in train} & {r.key for r in test}
    assert 0.05 < len(test) / len(rows) < 0.15
    # The same document is on the same side whatever else is in the round, and whatever
    # its label: no model ever trains on a document another round tests on.
    more = rows + parse((SAMPLES / "improving.csv").read_bytes())
    assert set(dataset.split(more, 10)[1]) >= set(test)
    relabelled = [Row(("Other",), "  " + r.text.upper()) for r in test]
    assert dataset.split(relabelled, 10) == ([], relabelled)
    assert dataset.split(rows, 0) == (rows, [])


def test_trainability_needs_two_labels_and_enough_documents_for_each() -> None:
    def rows(counts: dict[str, int]) -> list[Row]:
        return [
            Row(tuple(label.split("|")), f"{label} {i}")
            for label, n in counts.items()
            for i in range(n)
        ]

    assert dataset.trainability_problem(rows({"World": 80}), False) == (
        "the training data has 1 label(s); a classifier needs at least 2"
    )
    assert dataset.trainability_problem([], False) == (
        "the training data has 0 label(s); a classifier needs at least 2"
    )
    assert dataset.trainability_problem(rows({"World": 50, "Sports": 50}), False) is None
    assert dataset.trainability_problem(rows({"World": 50, "Sports": 49, "Aa": 3}), False) == (
        "label(s) Aa, Sports have fewer than 50 training documents"
    )
    # Multi-label mode counts every label of every document, and needs 10 of each.
    assert dataset.trainability_problem(rows({"World|Sports": 10}), True) is None
    assert dataset.trainability_problem(rows({"World|Sports": 9, "World": 5}), True) == (
        "label(s) Sports have fewer than 10 training documents"
    )


def test_stored_rows_survive_a_round_trip_through_csv() -> None:
    rows = [
        Row(("Business", "Sports"), 'Club "shares", soar'),
        Row(("World",), "Line one\nline two"),
        Row(("SciTech",), "Café ünïcode ✓"),
    ]
    stored = dataset.to_csv(rows, "|")
    assert dataset.from_csv(stored, True, "|") == rows
    assert dataset.from_csv(b"", True, "|") == []
    assert dataset.to_csv([], "|") == b""


def test_the_documents_file_has_one_line_per_document() -> None:
    rows = [Row(("World",), "Line one\nline  two"), Row(("Sports",), "Goal\r\n")]
    assert dataset.documents_file(rows) == b"Line one line two\nGoal\n"


def test_trusted_test_lines_are_those_the_ground_truth_holds_with_the_same_labels() -> None:
    ground_truth = [Row(("World",), "Summit opens"), Row(("Sports",), "Cup final")]
    test = [
        Row(("World",), "SUMMIT opens"),  # held by the ground truth, same label
        Row(("Business",), "Cup final"),  # relabelled since: not vetted yet
        Row(("SciTech",), "Rocket lifts off"),  # new
    ]
    assert trusted_lines(test, ground_truth) == [0]
    assert trusted_lines(test, []) == []
