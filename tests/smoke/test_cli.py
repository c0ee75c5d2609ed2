"""The smoke check's command line and its own validators, without any cloud."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from smoke import OPT_IN, WORKFLOWS, Result, Status
from smoke.caption_translation import SOURCE, CaptionFileError, webvtt_cues
from smoke.cli import main, parser, render, selected
from smoke.custom_labels_batch import sample_png


def _selection(*argv: str) -> list[str]:
    parse = parser()
    return selected(parse.parse_args(list(argv)), parse)


def test_billed_workflows_run_only_when_their_flag_is_given() -> None:
    assert set(_selection()) == set(WORKFLOWS) - OPT_IN
    assert set(_selection("--custom-labels", "--glue")) == set(WORKFLOWS)
    assert _selection("--workflows", "ticket_classification", "--glue") == [
        "ticket_classification",
        "glue_ml_pipeline",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workflows", "custom_labels_batch"], "add --custom-labels"),
        (["--workflows", "caption_translation,glue_ml_pipeline"], "add --glue"),
        (["--workflows", "caption_translation,nope"], "unknown workflows nope"),
    ],
)
def test_a_bad_selection_is_a_usage_error_that_says_why(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv, env=object(), out=io.StringIO(), err=io.StringIO())  # type: ignore[arg-type]
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_help_says_which_checks_start_billed_resources(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "STARTS THE CUSTOM LABELS MODEL (billed per inference unit and hour" in text
    assert "--glue" in text and "billed Glue jobs" in text


def test_a_failed_result_shows_where_to_look_and_what_it_leaves() -> None:
    result = Result(
        "ticket_classification",
        "TicketClassification-dev",
        Status.FAILED,
        "no row",
        ("queue https://example/q",),
        ("staging objects",),
        12.3,
    )
    assert render(result).splitlines() == [
        "FAIL  ticket_classification       TicketClassification-dev: no row (12 s)",
        "        look at: queue https://example/q",
        "        leaves:  staging objects",
    ]


def test_the_caption_validator_counts_cues_and_rejects_broken_files() -> None:
    cues = webvtt_cues("\ufeff" + SOURCE.replace("\n", "\r\n"))
    assert [timing.split(" ")[0] for timing, _ in cues] == [
        "00:00:00.000",
        "00:00:02.500",
        "00:00:05.500",
    ]
    assert webvtt_cues("WEBVTT\n\nNOTE a note\n\n01:02.000 --> 01:03.000\nHi\n") == [
        ("01:02.000 --> 01:03.000", "Hi")
    ]
    for broken in (
        SOURCE.replace("WEBVTT", "WEBVTX"),
        SOURCE.replace("00:00:02.500 -->", "00:00:02,500 -->"),  # SRT's comma
        SOURCE.replace("Please keep your tickets with you.", ""),
    ):
        with pytest.raises(CaptionFileError):
            webvtt_cues(broken)


def test_the_generated_image_is_a_png_custom_labels_accepts() -> None:
    image = Image.open(io.BytesIO(sample_png()))
    image.load()
    assert (image.format, image.size, image.mode) == ("PNG", (128, 128), "RGB")
