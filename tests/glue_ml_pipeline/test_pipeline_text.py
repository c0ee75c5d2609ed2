"""Parsing DBpedia CSV rows and Glue-style job arguments: plain Python, no Spark."""

from __future__ import annotations

import pytest
from pipeline_common import PipelineError, S3Location, optional_options, resolved_options
from pipeline_text import Reject, Row, parse_blazingtext_line, parse_rows, tokens


def test_rows_are_read_and_malformed_rows_get_their_line_and_reason() -> None:
    lines = [
        "class,title,abstract\n",
        '1,Acme,"Acme Corp, a company, makes ""things""."\n',
        "2,Only two\n",
        ",No class,Some text\n",
        "3,Empty abstract,   \n",
        "\n",
        "bad class!,T,Text\n",
        "14,Book,A novel.\n",
    ]
    parsed = list(parse_rows(lines))
    assert parsed[0] == Row(2, "1", "Acme", 'Acme Corp, a company, makes "things".')
    assert parsed[-1] == Row(8, "14", "Book", "A novel.")
    rejects = [p for p in parsed if isinstance(p, Reject)]
    assert [(r.line, r.reason) for r in rejects] == [
        (3, "expected 3 fields (class,title,abstract), got 2"),
        (4, "empty class"),
        (5, "empty abstract"),
        (7, "invalid class 'bad class!'"),
    ]


def test_tokens_lower_case_and_split_on_everything_but_letters_and_digits() -> None:
    assert tokens("Élan Vital (1999): __label__x won 3-2!") == "élan vital 1999 label x won 3 2"


def test_supervised_lines_round_trip() -> None:
    assert parse_blazingtext_line("__label__7 the tower was built") == ("7", "the tower was built")
    with pytest.raises(ValueError, match="not a BlazingText"):
        parse_blazingtext_line("7 the tower")


def test_job_arguments_are_read_like_glue_and_missing_ones_named() -> None:
    argv = ["script.py", "--JOB_NAME", "j", "--SEED", "42", "--EMPTY", "--X=1"]
    assert resolved_options(argv, ["SEED", "X"]) == {"SEED": "42", "X": "1"}
    assert optional_options(argv, {"EMPTY": "d", "OTHER": "d"}) == {"EMPTY": "", "OTHER": "d"}
    with pytest.raises(PipelineError, match="--BUCKET"):
        resolved_options(argv, ["BUCKET"])


def test_s3_locations_parse_and_reject_other_schemes() -> None:
    location = S3Location.parse("s3://bucket/raw/run/data.csv")
    assert (location.bucket, location.key) == ("bucket", "raw/run/data.csv")
    assert S3Location("b", "processed/r").child("train/").uri == "s3://b/processed/r/train/"
    with pytest.raises(PipelineError):
        S3Location.parse("https://example.com/data.csv")
