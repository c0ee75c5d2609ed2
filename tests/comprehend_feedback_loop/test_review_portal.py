"""The review portal in a real browser (Debian's Chromium, driven by Playwright): a reviewer
opens the page, sees the pending loop's texts and the configured categories, picks labels and
submits; A2I's output object holds the answers and the training rows follow."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.cloud import LocalCloud
from localcloud.demos.review_portal import ReviewPortal
from tests.comprehend_feedback_loop.helpers import (
    ASSEMBLY,
    CATEGORIES,
    SOURCES,
    FeedbackLoop,
    deploy,
    synthesize,
)
from tests.conftest import _synthesized

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("feedback-loop")]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[FeedbackLoop]:
    assembly = _synthesized(ASSEMBLY, synthesize, SOURCES)
    with LocalCloud(assembly, work_dir=tmp_path / "localcloud") as cloud:
        yield deploy(cloud)


def test_a_reviewer_labels_a_loop_in_the_browser_and_the_answers_become_training_rows(
    loop: FeedbackLoop,
) -> None:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), "install Debian's chromium package (.ci/run does)"
    texts = ["Striker scores twice in the cup final", "Chipmaker shares slump after earnings"]
    # One batch upload: its texts reach Firehose in one call, so they share one human loop
    # however slowly the machine runs (separate requests may straddle a buffer flush).
    loop.cloud.client("s3").put_object(
        Bucket=loop.output("BatchUploadBucketName"),
        Key="batches/portal.json",
        Body=json.dumps({"classifier": "news", "sentences": texts}).encode(),
    )
    loop.cloud.settle(timeout=60)
    (pending,) = loop.cloud.a2i.pending()
    portal = ReviewPortal(loop.cloud.a2i, after_submit=lambda: loop.cloud.settle(timeout=60))
    portal.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(portal.url)
            form = page.locator(f"form[data-loop='{pending.name}']")
            assert form.locator("p.text").all_inner_texts() == texts
            options = form.locator("select[name='label-0'] option").all_inner_texts()
            assert options[1:-1] == list(CATEGORIES)
            # Submitting without a choice is refused by the browser (required fields).
            form.locator("button").click()
            assert loop.cloud.a2i.pending() == [pending]
            form.locator("select[name='label-0']").select_option("Sports")
            form.locator("select[name='label-1']").select_option("Business")
            form.locator("button").click()
            page.wait_for_selector("#notice")
            assert page.locator("#empty").inner_text() == "Nothing to review."
            browser.close()
    finally:
        portal.stop()

    # A2I's output object, at A2I's documented key.
    described = loop.cloud.client("sagemaker-a2i-runtime").describe_human_loop(
        HumanLoopName=pending.name
    )
    assert described["HumanLoopStatus"] == "Completed"
    uri = described["HumanLoopOutput"]["OutputS3Uri"]
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    assert bucket == loop.output("ReviewOutputBucketName")
    flow = loop.output("FlowDefinitionArn").rsplit("/", 1)[1]
    assert re.fullmatch(
        rf"reviews/{flow}/\d{{4}}/\d\d/\d\d/\d\d/\d\d/\d\d/{pending.name}/output\.json", key
    ), key
    output = json.loads(loop.read(bucket, key))
    assert output["flowDefinitionArn"] == loop.output("FlowDefinitionArn")
    assert output["humanLoopName"] == pending.name
    assert [item["text"] for item in output["inputContent"]["items"]] == texts
    (answer,) = output["humanAnswers"]
    assert answer["answerContent"] == {"label-0": "Sports", "label-1": "Business"}
    assert answer["workerId"] == "portal-reviewer"
    assert loop.training_rows() == [("Sports", texts[0]), ("Business", texts[1])]
