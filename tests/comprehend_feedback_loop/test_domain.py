"""The feedback loop's domain code: request validation, loop names and inputs, and reviewed
answers as RFC 4180 training rows."""

from __future__ import annotations

import csv
import io
import json

import pytest

from lambdas.comprehend_feedback_loop.feedback import (
    MAX_BATCH_SENTENCES,
    BatchFileError,
    ClassifyRequest,
    FeedbackItem,
    RequestError,
    parse_batch,
    parse_classify,
    parse_feedback,
    sentence_lines,
)
from lambdas.comprehend_feedback_loop.loops import (
    LOOP_NAME,
    MAX_LOOP_NAME,
    SKIP,
    ReviewedRow,
    ReviewOutputError,
    chunks,
    csv_rows,
    loop_input,
    loop_name,
    reviewed_rows,
    task_template,
)

CATEGORIES = ("World", "Sports", "Business", "SciTech")


def test_classify_accepts_text_or_sentence_and_counts_bytes_not_characters() -> None:
    assert parse_classify({"classifier": "news", "text": "a"}, "news").text == "a"
    assert parse_classify({"classifier": "news", "sentence": "b"}, "news").text == "b"
    assert parse_classify({"classifier": "news", "text": "é" * 5000}, "news")  # 10,000 bytes
    with pytest.raises(RequestError) as too_big:
        parse_classify({"classifier": "news", "text": "é" * 5001}, "news")
    assert too_big.value.status == 413 and "10002 bytes" in too_big.value.reason


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ([], 400, "must be a JSON object"),
        ({"text": "x"}, 400, "'classifier' is required"),
        ({"classifier": "other", "text": "x"}, 404, "unknown classifier 'other'"),
        ({"classifier": "news"}, 400, "'text' is required"),
        ({"classifier": "news", "text": 5}, 400, "'text' is required"),
    ],
)
def test_bad_classify_requests_say_what_is_wrong(body: object, status: int, message: str) -> None:
    with pytest.raises(RequestError) as error:
        parse_classify(body, "news")
    assert error.value.status == status and message in error.value.reason


def test_text_wins_over_sentence_and_the_message_names_the_field_sent() -> None:
    both = {"classifier": "news", "text": "from text", "sentence": "from sentence"}
    assert parse_classify(both, "news") == ClassifyRequest("news", "from text")
    assert parse_feedback(both, "news", CATEGORIES).text == "from text"
    item = parse_feedback({"classifier": "news", "sentence": "b"}, "news", CATEGORIES)
    assert item == FeedbackItem("news", "b", "explicit")
    for parse in (
        lambda body: parse_classify(body, "news"),
        lambda body: parse_feedback(body, "news", CATEGORIES),
    ):
        with pytest.raises(RequestError) as error:
            parse({"classifier": "news", "sentence": " "})
        assert error.value.reason == "'sentence' is required and must be a non-empty string"


@pytest.mark.parametrize("classifier", [None, "", 5, ["news"]])
def test_a_classifier_that_is_not_a_name_is_a_bad_request(classifier: object) -> None:
    for parse in (
        lambda body: parse_classify(body, "news"),
        lambda body: parse_feedback(body, "news", CATEGORIES),
    ):
        with pytest.raises(RequestError) as error:
            parse({"classifier": classifier, "text": "x"})
        assert error.value.status == 400
        assert error.value.reason == "'classifier' is required: the name of the classifier to use"


def test_feedback_labels_must_be_configured_categories() -> None:
    item = parse_feedback(
        {"classifier": "news", "text": "x", "label": "Sports"}, "news", CATEGORIES
    )
    assert (item.source, item.label) == ("explicit", "Sports")
    assert parse_feedback({"classifier": "news", "text": "x"}, "news", CATEGORIES).label is None
    with pytest.raises(RequestError, match="one of World, Sports"):
        parse_feedback({"classifier": "news", "text": "x", "label": "sports"}, "news", CATEGORIES)


def test_batch_files_unusable_as_a_whole_are_rejected_with_the_reason() -> None:
    batch = parse_batch(b'{"classifier": "news", "sentences": ["a", "b"]}', "f.json", "news")
    assert [(i.text, i.source) for i in batch.items] == [("a", "batch"), ("b", "batch")]
    assert batch.rejected == []
    for data, reason in [
        (b"\xff", "not UTF-8"),
        (b"{", "not valid JSON"),
        (b'{"classifier": "news", "sentences": []}', "non-empty list"),
        (b'{"classifier": "news", "sentences": "one"}', "non-empty list"),
        (b'["a"]', "must be a JSON object"),
        (b'{"classifier": "x", "sentences": ["ok"]}', "unknown classifier"),
    ]:
        with pytest.raises(BatchFileError, match=reason):
            parse_batch(data, "f.json", "news")


def test_bad_sentences_are_rejected_alone_with_their_lines() -> None:
    data = (
        b'{\n  "classifier": "news",\n  "sentences": [\n    "Markets rally",\n    "",\n'
        b'    42, "Cup final tonight",\n    {"text": "nested"},\n    "' + b"x" * 10_001 + b'"\n'
        b"  ]\n}\n"
    )
    batch = parse_batch(data, "f.json", "news")
    assert [item.text for item in batch.items] == ["Markets rally", "Cup final tonight"]
    assert [(e.index, e.line, e.error) for e, _ in batch.rejected] == [
        (1, 5, "invalid-sentence"),
        (2, 6, "invalid-sentence"),
        (4, 7, "invalid-sentence"),
        (5, 8, "invalid-sentence"),
    ]
    assert [value for _, value in batch.rejected][:3] == ["", 42, {"text": "nested"}]
    assert "10001 bytes" in batch.rejected[3][0].reason
    rejection = batch.rejection("f.json")
    assert rejection.error == "invalid-sentences"
    assert rejection.reason == (
        "f.json: 4 of 6 sentences were rejected (lines 5, 6, 7, 8); the other 2 were sent for "
        "review"
    )
    assert [item.line for item in rejection.items] == [5, 6, 7, 8]
    # The quarantined part is a batch file of the rejected sentences alone.
    part = json.loads(batch.rejected_part())
    assert part["classifier"] == "news" and part["sentences"][:3] == ["", 42, {"text": "nested"}]


def test_a_batch_file_holds_at_most_the_sentence_limit() -> None:
    def batch(count: int) -> bytes:
        return json.dumps({"classifier": "news", "sentences": ["s"] * count}).encode()

    assert len(parse_batch(batch(MAX_BATCH_SENTENCES), "f.json", "news").items) == 10_000
    with pytest.raises(BatchFileError) as error:
        parse_batch(batch(MAX_BATCH_SENTENCES + 1), "f.json", "news")
    assert error.value.reason == "f.json: at most 10000 sentences per file"


def test_a_rejected_sentence_names_its_place_and_its_part_stays_readable() -> None:
    # A byte order mark is no error; a no-break space alone is no sentence.
    data = '\ufeff{"classifier": "news", "sentences": ["Café", "", "Über", "\u00a0"]}'.encode()
    batch = parse_batch(data, "f.json", "news")
    assert batch.items == [
        FeedbackItem("news", "Café", "batch"),
        FeedbackItem("news", "Über", "batch"),
    ]
    assert [problem.reason for problem, _ in batch.rejected] == [
        "'sentences[1]' is required and must be a non-empty string",
        "'sentences[3]' is required and must be a non-empty string",
    ]
    # One sentence per line and characters as written, for the user to fix in place.
    assert batch.rejected_part().decode() == (
        '{\n  "classifier": "news",\n  "sentences": [\n    "",\n    "\u00a0"\n  ]\n}'
    )


def test_sentence_lines_follow_the_top_level_list_json_keeps() -> None:
    text = (
        '{"other": {"sentences": [1, 2]},\r\n "sentences": ["dropped"],\n'
        ' "sentences" : [ "a" ,\n\n "b\\n" ,\t"c" ] }'
    )
    assert json.loads(text)["sentences"] == ["a", "b\n", "c"]
    assert sentence_lines(text) == [3, 5, 5]
    assert sentence_lines('{"sentences": []}') == []


def test_loop_names_are_deterministic_and_within_a2i_limits() -> None:
    name = loop_name("bucket/feedback/2026/01/01/00/object#v1", 3)
    assert name == loop_name("bucket/feedback/2026/01/01/00/object#v1", 3)
    assert name != loop_name("bucket/feedback/2026/01/01/00/object#v2", 3)
    assert name != loop_name("bucket/feedback/2026/01/01/00/object#v1", 4)
    assert len(name) <= MAX_LOOP_NAME and LOOP_NAME.match(name)


def test_loops_hold_bounded_chunks_in_order() -> None:
    items = [FeedbackItem("news", f"t{i}", "implicit") for i in range(23)]
    sizes = [len(chunk) for chunk in chunks(items, 10)]
    assert sizes == [10, 10, 3]
    document = json.loads(loop_input(items[:3], CATEGORIES))
    assert document["categories"] == list(CATEGORIES)
    assert [(i["index"], i["text"]) for i in document["items"]] == [(0, "t0"), (1, "t1"), (2, "t2")]


def test_a_reviewer_sees_each_items_source_and_the_suggested_and_predicted_labels() -> None:
    items = [
        FeedbackItem("news", "Café owners protest", "explicit", label="Business"),
        FeedbackItem("news", "Rates rise", "implicit", predicted="World", score=0.4),
    ]
    assert json.loads(loop_input(items, CATEGORIES)) == {
        "classifier": "news",
        "categories": list(CATEGORIES),
        "items": [
            {
                "index": 0,
                "text": "Café owners protest",
                "source": "explicit",
                "suggested": "Business",
            },
            {"index": 1, "text": "Rates rise", "source": "implicit", "predicted": "World"},
        ],
    }


def _output(answers: dict[str, object], texts: list[str]) -> dict[str, object]:
    return {
        "inputContent": {"items": [{"index": i, "text": t} for i, t in enumerate(texts)]},
        "humanAnswers": [{"answerContent": answers}],
    }


def test_answers_are_matched_to_items_by_index_not_key_order() -> None:
    texts = [f"text {i}" for i in range(12)]
    # Keys in an order where dict order and index order disagree ("label-10" < "label-2").
    answers = {f"label-{i}": CATEGORIES[i % 4] for i in sorted(range(12), key=str)}
    rows = reviewed_rows(_output(answers, texts), CATEGORIES)
    assert rows == [ReviewedRow(CATEGORIES[i % 4], f"text {i}") for i in range(12)]


def test_skipped_and_missing_answers_make_no_rows_and_unknown_ones_fail() -> None:
    output = _output(
        {"label-0": SKIP, "label-2": {"label": "World"}, "label-3": ""}, ["a", "b", "c", "d"]
    )
    assert reviewed_rows(output, CATEGORIES) == [ReviewedRow("World", "c")]
    with pytest.raises(ReviewOutputError) as unknown:
        reviewed_rows(_output({"label-0": "Cooking"}, ["a"]), CATEGORIES)
    assert unknown.value.reason == (
        "item 0: answer 'Cooking' is not one of World, Sports, Business, SciTech"
    )
    with pytest.raises(ReviewOutputError) as broken:
        reviewed_rows({"humanAnswers": []}, CATEGORIES)
    assert broken.value.reason == "the output has no inputContent.items or humanAnswers"


def test_training_rows_are_rfc4180_and_each_ends_with_its_line_break() -> None:
    rows = [
        ReviewedRow("World", 'Talks "resume", officials say'),
        ReviewedRow("Sports", "Line one\nline two,  spaced"),
    ]
    data = csv_rows(rows)
    assert data == (
        b'World,"Talks ""resume"", officials say"\r\nSports,"Line one line two, spaced"\r\n'
    )
    # Records concatenated by Firehose stay one row each.
    joined = (csv_rows(rows[:1]) + csv_rows(rows[1:])).decode()
    assert [r for r in csv.reader(io.StringIO(joined, newline=""))] == [
        ["World", 'Talks "resume", officials say'],
        ["Sports", "Line one line two, spaced"],
    ]


def test_the_task_ui_offers_exactly_the_configured_categories() -> None:
    template = task_template(("Alpha", "Beta"), "Classify")
    assert "<crowd-form>" in template and 'name="label-{{ item.index }}"' in template
    assert '<option value="Alpha">' in template and '<option value="Beta">' in template
    assert "World" not in template


def test_a_feedback_line_firehose_wrote_twice_is_reviewed_once() -> None:
    from lambdas.comprehend_feedback_loop.start_loops import items_of

    one = b'{"classifier": "news", "text": "Rates rise", "source": "implicit", "score": 0.4}\n'
    other = b'{"classifier": "news", "text": "Rates fall", "source": "explicit"}\n'
    items = items_of(one + other + one + b"not json\n")
    assert [item.text for item in items] == ["Rates rise", "Rates fall"]


def test_a_feedback_line_reads_back_as_the_item_written() -> None:
    from lambdas.comprehend_feedback_loop.start_loops import items_of

    written = [
        FeedbackItem("news", "Rates rise", "implicit", predicted="World", score=0.4),
        FeedbackItem("news", "Café owners protest", "explicit", label="Business"),
        FeedbackItem("news", "Cup final", "batch"),
    ]
    lines = b"".join(item.as_json_line() for item in written)
    assert items_of(lines + b"\n" + b'{"classifier": "news", "text": "Old line"}\n') == [
        *written,
        FeedbackItem("news", "Old line", "explicit"),  # a line without a source: explicit
    ]
    assert items_of(b'{"text": "no classifier"}\n[1]\n') == []
