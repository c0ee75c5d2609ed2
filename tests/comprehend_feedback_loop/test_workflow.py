"""End to end on the local cloud: classify traffic through the API, implicit, explicit and
batch feedback, human review (the oracle reviewer), training rows in part 1's `train/`, a part 1
round, and a better live model. Also the API's answers to bad requests, idempotency under
redelivered events, and the least-privilege check both ways."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.cloud import LocalCloud
from localcloud.core.iam_check import check
from localcloud.demos.review import OracleReviewer, sample_truth, text_key
from tests.comprehend_feedback_loop.helpers import (
    ASSEMBLY,
    CATEGORIES,
    MAX_ITEMS_PER_LOOP,
    SOURCES,
    FeedbackLoop,
    deploy,
    holdout,
    loop_logical_names,
    stream,
    synthesize,
)
from tests.conftest import _synthesized

EVENTS = Path(__file__).resolve().parents[2] / "events"

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("feedback-loop")]


@pytest.fixture(scope="module")
def assembly_dir() -> Path:
    return _synthesized(ASSEMBLY, synthesize, SOURCES)


@pytest.fixture
def loop(assembly_dir: Path, tmp_path: Path) -> Iterator[FeedbackLoop]:
    with LocalCloud(assembly_dir, work_dir=tmp_path / "localcloud") as cloud:
        yield deploy(cloud)


def _assert_bad_requests_answered_and_nothing_recorded(loop: FeedbackLoop) -> None:
    before = len(loop.invocations("ApiHandler"))
    checks = [
        (loop.post("classify", {"classifier": "news", "text": "x"}, key=None), 403, "Forbidden"),
        (loop.post("classify", {"classifier": "news", "text": "x"}, key="wrong"), 403, "Forbidden"),
        (loop.post("classify", "{not json", raw=True), 400, "Invalid request body"),
        (loop.post("classify", {"text": "no classifier"}), 400, "Invalid request body"),
        (loop.post("feedback", {"classifier": "news", "text": "x", "label": "Cooking"}), 400,
         "Invalid request body"),
    ]  # fmt: skip
    for response, status, message in checks:
        assert (response.status, response.json()["message"]) == (status, message)
    # A refused body says which field is wrong; nothing long is echoed back.
    admin = loop.post("classify", {"classifier": "news", "text": "x", "admin": True})
    assert admin.status == 400 and "not allowed by the schema: admin" in admin.json()["errors"]
    long_text = loop.post("feedback", {"classifier": "news", "text": "a" * 10_001})
    assert long_text.status == 400
    assert long_text.json()["errors"] == "[text: 10001 characters, at most 10000 allowed]"
    huge = loop.post("classify", {"classifier": "news", "text": "a" * (10 * 1024 * 1024)})
    assert (huge.status, huge.json()["message"]) == (413, "Request Too Long")
    # API Gateway refused those before the function ran.
    assert len(loop.invocations("ApiHandler")) == before
    # The function's own checks: what a schema cannot say.
    unknown = loop.post("classify", {"classifier": "sports", "text": "Cup final tonight"})
    assert unknown.status == 404 and "unknown classifier 'sports'" in unknown.json()["message"]
    too_big = loop.post("classify", {"classifier": "news", "text": "é" * 6000})  # 12,000 bytes
    assert too_big.status == 413 and "12000 bytes" in too_big.json()["message"]
    empty = loop.post("feedback", {"classifier": "news", "text": "   "})
    assert empty.status == 400 and "'text' is required" in empty.json()["message"]
    sentence = loop.post("classify", {"classifier": "news", "sentence": "Cup final tonight"})
    assert sentence.status == 200 and sentence.json()["label"] in CATEGORIES


def test_reviewed_feedback_retrains_the_model_and_every_call_is_within_its_grants(
    loop: FeedbackLoop,
) -> None:
    cloud = loop.cloud
    # Before any model is deployed the API says so, with a retryable status.
    early = loop.post("classify", {"classifier": "news", "text": "Markets rally"})
    assert early.status == 503 and "no model" in early.json()["message"]
    loop.train_initial()
    test_rows = holdout()[::2]
    before = loop.accuracy(test_rows)
    _assert_bad_requests_answered_and_nothing_recorded(loop)

    # Traffic from topics the first model never saw: unsure answers become implicit feedback;
    # users flag confident wrong answers (explicit feedback, some with the right label).
    truth = sample_truth()
    traffic = stream()[:120]
    implicit = explicit = 0
    for number, (label, text) in enumerate(traffic):
        answer = loop.classify(text)
        assert answer["model"].startswith("arn:aws:comprehend:")
        assert [entry["score"] for entry in answer["labels"]] == sorted(
            (entry["score"] for entry in answer["labels"]), reverse=True
        )
        if answer["score"] < 0.5:
            implicit += 1
        elif answer["label"] != label:
            body = {"classifier": "news", "text": text, **({"label": label} if number % 2 else {})}
            assert loop.post("feedback", body).status == 202
            explicit += 1
    assert implicit > 10 and explicit > 0
    batch = loop.output("BatchUploadBucketName")
    s3 = cloud.client("s3")
    sentences = [text for _, text in stream()[120:140]]
    s3.put_object(
        Bucket=batch, Key="batches/one.json",
        Body=json.dumps({"classifier": "news", "sentences": sentences}).encode(),
    )  # fmt: skip
    s3.put_object(Bucket=batch, Key="batches/broken.json", Body=b'{"classifier": "news"')
    cloud.settle(timeout=120)

    # The malformed file is quarantined with its reason; the upload stays.
    error = json.loads(loop.read(batch, "error-reports/batches/broken.json.json"))
    assert error["error"] == "invalid-batch-feedback" and "not valid JSON" in error["reason"]
    assert loop.read(batch, "failed/batches/broken.json") == b'{"classifier": "news"'
    assert "batches/broken.json" in loop.keys(batch, "batches/")
    # An upload gone before it was read (deleted, or its event forged) is reported, not
    # retried into the dead-letter queue: a retry could not read it either.
    committed = EVENTS / "comprehend_feedback_loop/batch_feedback/feedback_upload.json"
    uploaded = json.loads(json.loads(committed.read_text())["Records"][0]["body"])["Records"][0]
    gone = committed.read_text().replace(uploaded["s3"]["bucket"]["name"], batch)
    gone = gone.replace(uploaded["s3"]["object"]["key"], "batches/gone.json")
    answer = cloud.runtime.invoke(loop.function_name("BatchFeedback"), json.loads(gone))
    assert not answer.failed and answer.payload == {"batchItemFailures": []}
    error = json.loads(loop.read(batch, "error-reports/batches/gone.json.json"))
    assert error["error"] == "unreadable-upload" and error["quarantined"] is None
    assert "could not be read" in error["reason"] and "upload it again" in error["reason"]

    # Every feedback item waits in exactly one loop of at most MAX_ITEMS_PER_LOOP items.
    pending = cloud.a2i.pending()
    items = [item for pending_loop in pending for item in pending_loop.input["items"]]
    assert all(len(p.input["items"]) <= MAX_ITEMS_PER_LOOP for p in pending)
    # Implicit feedback comes from every unsure answer, the accuracy measurements' included.
    assert len(items) == loop.unsure_answers + explicit + len(sentences)
    assert {item["source"] for item in items} == {"implicit", "explicit", "batch"}
    assert all(p.input["categories"] == list(CATEGORIES) for p in pending)

    # A redelivered feedback event starts nothing twice.
    event, _ = loop.invocations("StartLoops")[-1]
    replay = cloud.runtime.invoke(loop.function_name("StartLoops"), event)
    assert not replay.failed and replay.payload == {"batchItemFailures": []}
    assert len(cloud.a2i.pending()) == len(pending)

    rounds_before = len(loop.lifecycle_summaries())
    oracle = OracleReviewer(truth)
    assert oracle.review(cloud.a2i) == len(pending)
    cloud.settle(timeout=300)

    # The reviewers' answers arrived in part 1's train/ as RFC 4180 rows, one per answer.
    rows = loop.training_rows()
    assert len(rows) == oracle.answered_items > 0
    assert all(truth[text_key(text)] == label for label, text in rows)
    # ... and a part 1 round trained on them and promoted the better model.
    # (Answers that arrive while a round trains start one more round when it ends, which
    # keeps the live model unless its data beats it: how many rounds run, and which of them
    # promotes, depends on when the answers arrive.)
    summaries = loop.lifecycle_summaries()[rounds_before:]
    assert any(s["decision"] == "promoted" for s in summaries), summaries
    assert all(s["decision"] in ("promoted", "kept") for s in summaries), summaries
    after = loop.accuracy(test_rows)
    assert after >= before + 0.1, (before, after)

    # A redelivered completion event sends no row twice.
    transform_event, _ = loop.invocations("TransformAnswers")[0]
    again = cloud.runtime.invoke(loop.function_name("TransformAnswers"), transform_event)
    assert again.payload == {"rows": 0}
    cloud.settle(timeout=60)
    assert len(loop.training_rows()) == len(rows)

    # Answers the transformer cannot use (a label outside the categories) make no row: after
    # Lambda's retries the event waits in the failure queue, with the claim released.
    assert loop.post("feedback", {"classifier": "news", "text": "Quiz night"}).status == 202
    cloud.settle(timeout=60)
    (bad,) = [p for p in cloud.a2i.pending() if p.input["items"][0]["text"] == "Quiz night"]
    cloud.a2i.complete(bad.name, {"label-0": "Cooking"})
    cloud.settle(timeout=60)
    assert len(loop.training_rows()) == len(rows)
    sqs = cloud.client("sqs")
    failures = next(
        url for url in sqs.list_queues()["QueueUrls"] if "TransformFailuresQueue" in url
    )
    (message,) = sqs.receive_message(QueueUrl=failures, MaxNumberOfMessages=10)["Messages"]
    assert bad.name in message["Body"]
    claim = cloud.client("dynamodb").get_item(
        TableName=loop.output("StateTableName"), Key={"pk": {"S": f"loop#{bad.name}"}}
    )
    assert "Item" not in claim

    # Least privilege, both ways: no call outside a grant; no grant unused but the failure
    # paths this run never took.
    report = check(cloud)
    assert report.denied == [] and report.unverifiable == [], report.format()
    names = loop_logical_names(loop)
    stack_roles = {names[arn] for arn in report.principals if arn in names}
    assert {"ApiHandler", "BatchFeedback", "StartLoops", "TransformAnswers", "ReviewWorkflow",
            "Review", "FeedbackStream", "TrainingStream"} <= stack_roles  # fmt: skip
    unused = {
        (names.get(u.principal, u.principal), u.action)
        for u in report.unused
        if names.get(u.principal, "") in stack_roles and loop.stack.name in u.principal
    }
    assert unused == {
        # Deleting the review workflow (stack updates and deletion).
        ("ReviewWorkflow", "sagemaker:DeleteFlowDefinition"),
        # Granted by CDK with the failure destination; Lambda sends with the queue's URL.
        ("TransformAnswers", "sqs:GetQueueAttributes"),
        # Asking part 1's keeper for a deleted endpoint (always-on here; the scale-to-zero
        # path runs in test_endpoint_lifecycle.py).
        ("ApiHandler", "dynamodb:GetItem"),
        ("ApiHandler", "lambda:InvokeFunction"),
        # Firehose's multipart and listing permissions (large objects, retries).
        *{(role, action) for role in ("FeedbackStream", "TrainingStream")
          for action in ("s3:AbortMultipartUpload", "s3:GetObject", "s3:GetBucketLocation",
                         "s3:ListBucket", "s3:ListBucketMultipartUploads")},
    }, unused  # fmt: skip
