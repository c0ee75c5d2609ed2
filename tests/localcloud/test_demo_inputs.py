"""The demos on a user's own input, and what they leave for a person to open."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from localcloud.cli import main
from localcloud.demos.common import download
from localcloud.demos.glue_ml_pipeline import source_items
from localcloud.demos.ticket_classification import read_events


def test_ticket_events_are_read_from_a_json_list_or_json_lines(tmp_path: Path) -> None:
    event = {"TicketId": "T-1", "TicketTitle": "t", "TicketDescription": "d",
             "TicketCreationTime": "2026-01-05 08:00:00"}  # fmt: skip
    listed, lines, single = tmp_path / "a.json", tmp_path / "b.jsonl", tmp_path / "c.json"
    listed.write_text(json.dumps([event, event]))
    lines.write_text(json.dumps(event) + "\n\n" + json.dumps({"TicketId": "T-2"}) + "\n")
    single.write_text(json.dumps(event))
    assert read_events(listed) == [event, event]
    assert read_events(lines) == [event, {"TicketId": "T-2"}]
    assert read_events(single) == [event]
    lines.write_text(json.dumps(event) + "\n{not json\n")
    with pytest.raises(ValueError, match="line 2: not JSON"):
        read_events(lines)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tickets", "missing.json"], "--tickets missing.json: "),
        (["--count", "0"], "--count must be at least 1"),
    ],
)
def test_a_bad_ticket_input_stops_the_demo_with_its_reason(
    argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=message):
        main(["demo", "ticket_classification", *argv])


def test_missing_user_files_stop_their_demos_with_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=r"--training nope\.csv: no such file"):
        main(["demo", "comprehend_model_lifecycle", "--training", "nope.csv"])
    with pytest.raises(SystemExit, match=r"--source rows\.csv: no such file"):
        main(["demo", "glue_ml_pipeline", "--source", "rows.csv"])


def test_glue_source_lines_carry_what_their_channel_line_would_hold() -> None:
    data = b'6,Elm (1803),"An Abstract, with__underscores."\n\n3,only two\n'
    assert source_items(data) == {
        1: "__label__6 elm 1803 an abstract with underscores",
        3: "",  # not a row: it can only be rejected
    }


@mock_aws
def test_download_keeps_keys_under_the_folder_and_refuses_escapes(tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="demo-outputs")
    s3.put_object(Bucket="demo-outputs", Key="labels/a/x.json", Body=b"{}")
    s3.put_object(Bucket="demo-outputs", Key="labels/", Body=b"")  # a console folder marker
    written = download(s3, "demo-outputs", ["labels/"], tmp_path)
    assert written == [(tmp_path / "labels/a/x.json").resolve()]
    s3.put_object(Bucket="demo-outputs", Key="failed/../../escape", Body=b"x")
    with pytest.raises(ValueError, match="has no place under"):
        download(s3, "demo-outputs", ["failed/"], tmp_path)
    assert not (tmp_path.parent / "escape").exists()
