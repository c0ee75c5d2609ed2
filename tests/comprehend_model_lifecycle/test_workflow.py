"""End to end on the local cloud: upload training data, wait, and check what a user finds:
the notification, the live model behind the endpoint, SSM, and the data in the bucket."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.core.iam_check import check
from tests.comprehend_model_lifecycle.helpers import (
    LABELS,
    MARKETS,
    MULTI_LABEL_ASSEMBLY,
    MULTI_LABEL_STACK,
    NOTHING_TRAINED,
    REJECTED,
    ROUND_FAILED,
    LifecycleStack,
    LiveState,
    checked_roles,
    deploy,
    failing_start_executions,
    keyed,
    multi_label,
    rows,
    sample,
    summary,
    synthesize_multi_label,
    text_key,
    to_csv,
    unused_grants,
)
from tests.conftest import _synthesized

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("comprehend")]

METRICS = ("Accuracy", "Precision", "Recall", "F1")


@pytest.fixture(scope="module")
def multi_label_assembly_dir() -> Path:
    sources = ["app.py", "cdk.json", "stacks", "lambdas", "statemachines",
               "tests/workflows/comprehend_helpers.py"]  # fmt: skip
    return _synthesized(MULTI_LABEL_ASSEMBLY, synthesize_multi_label, sources)


@pytest.fixture
def multi_label_cloud(multi_label_assembly_dir: Path, tmp_path: Path) -> Iterator[LocalCloud]:
    with LocalCloud(multi_label_assembly_dir, work_dir=tmp_path / "localcloud") as local:
        yield local


def _one(notifications: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(notifications) == 1, [n["Subject"] for n in notifications]
    return notifications[0]


def _assert_metrics(evaluation: dict[str, Any], documents: int) -> None:
    for metric in METRICS:
        assert 0.0 <= evaluation[metric] <= 1.0
    assert evaluation["documents"] == documents


def _assert_idle_with_nothing_waiting(stack: LifecycleStack) -> None:
    """The round released its lock, and every recorded upload was taken by a round."""
    assert stack.items("lock") == []
    assert all("consumedBy" in item for item in stack.items("pending"))


def _ground_truth(stack: LifecycleStack) -> dict[str, str]:
    data = stack.read("ground-truth/ground-truth.csv")
    assert data is not None
    lines = rows(data)
    assert len({text_key(text) for _, text in lines}) == len(lines), "duplicates in ground truth"
    return keyed(data)


def test_better_models_are_promoted_worse_ones_kept_and_failed_training_changes_nothing(
    cloud: LocalCloud,
) -> None:
    stack = deploy(cloud)
    comprehend = cloud.client("comprehend")

    # First run: the upload becomes the ground truth and the first model goes live.
    first = summary(_one(stack.run("initial.csv", sample("initial.csv"))))
    assert first["decision"] == "promoted" and first["metric"] == "F1"
    assert first["current"] is None and first["currentValue"] is None
    assert first["rejected"] == []
    _assert_metrics(first["candidate"], first["testDocuments"])
    assert first["candidateValue"] == first["candidate"]["F1"] > 0.5
    first_model = first["candidate"]["modelArn"]
    assert stack.classifier_status(first_model) == "TRAINED"
    assert stack.parameter("ClassifierParameterName") == (first_model, 1)
    endpoint_arn, endpoint_version = stack.parameter("EndpointParameterName")
    assert endpoint_version == 1
    endpoint = stack.endpoint()
    assert endpoint is not None
    assert endpoint["Status"] == "IN_SERVICE" and endpoint["ModelArn"] == first_model
    assert endpoint["DesiredInferenceUnits"] == 1
    assert _ground_truth(stack) == keyed(sample("initial.csv"))
    answer = comprehend.classify_document(
        Text="Striker scores twice as the home side wins the cup final", EndpointArn=endpoint_arn
    )
    assert answer["Classes"][0]["Name"] == "Sports"
    ((job_id, predictions),) = stack.predictions().items()
    assert len(predictions) == first["testDocuments"]
    assert {item["role"]["S"] for item in predictions} == {"candidate"}
    job = comprehend.describe_document_classification_job(JobId=job_id)
    assert job["DocumentClassificationJobProperties"]["DocumentClassifierArn"] == first_model
    _assert_idle_with_nothing_waiting(stack)

    # A training failure: a failure notification, and nothing live changes.
    live = stack.live()
    cloud.comprehend.fail_next_training("The training data could not be read (injected).")
    failure = _one(stack.run("improving.csv", sample("improving.csv")))
    assert failure["Subject"] == ROUND_FAILED
    assert "TrainingFailed" in failure["Message"]
    assert "The training data could not be read (injected)." in failure["Message"]
    failed_execution = max(stack.executions(), key=lambda e: e["startDate"])
    assert failed_execution["status"] == "FAILED"
    assert stack.live() == live
    failed_round = f"{failed_execution['name']}-r1"
    assert stack.classifier_status(_version_arn(first_model, failed_round)) in ("DELETING", "GONE")
    carried = stack.read("carried/carried.csv")
    assert carried is not None and keyed(carried) == keyed(sample("improving.csv"))
    _assert_idle_with_nothing_waiting(stack)

    # The next upload trains on the waiting data too. It re-sends documents the ground truth
    # holds (one with its spacing and case changed, one relabelled by a reviewer): the merge
    # keeps each document once, with its newest label.
    initial = rows(sample("initial.csv"))
    resent = [initial[0], (initial[1][0], "  " + initial[1][1].upper() + " ")]
    relabelled_text = initial[2][1]
    relabelled = next(label for label in LABELS if label != initial[2][0])
    new = rows(sample("holdout.csv"))[:10]
    corrections = to_csv([*resent, (relabelled, relabelled_text), *new])
    promoted = summary(_one(stack.run("corrections.csv", corrections)))
    assert promoted["decision"] == "promoted"
    assert promoted["candidateValue"] > promoted["currentValue"]
    assert promoted["current"]["modelArn"] == first_model
    _assert_metrics(promoted["candidate"], promoted["testDocuments"])
    _assert_metrics(promoted["current"], promoted["testDocuments"])
    second_model = promoted["candidate"]["modelArn"]
    assert stack.parameter("ClassifierParameterName") == (second_model, 2)
    assert stack.parameter("EndpointParameterName")[0] == endpoint_arn  # updated in place
    endpoint = stack.endpoint()
    assert endpoint is not None and endpoint["ModelArn"] == second_model
    expected = keyed(sample("initial.csv")) | keyed(sample("improving.csv")) | keyed(corrections)
    truth = _ground_truth(stack)
    assert truth == expected
    assert truth[text_key(relabelled_text)] == relabelled
    assert len(truth) == 320 + 240 + 10
    assert stack.read("carried/carried.csv") == b""
    # Two retained versions by default: the previous live model stays, for a rollback.
    assert stack.classifier_status(first_model) == "TRAINED"
    roles = Counter(item["role"]["S"] for items in stack.predictions().values() for item in items)
    assert roles == {
        "candidate": first["testDocuments"] + promoted["testDocuments"],
        "current": promoted["testDocuments"],
    }
    _assert_idle_with_nothing_waiting(stack)

    # A batch with mostly wrong labels: the candidate loses and is discarded; nothing live
    # changes, and the batch waits for the next round.
    live = stack.live()
    kept = summary(_one(stack.run("degrading.csv", sample("degrading.csv"))))
    assert kept["decision"] == "kept"
    assert kept["current"]["modelArn"] == second_model
    # Its own wrongly labelled test documents may favour it; the ground truth's do not.
    on_truth = kept["candidate"]["groundTruth"], kept["current"]["groundTruth"]
    assert on_truth[0]["F1"] < on_truth[1]["F1"] - 0.05
    assert on_truth[0]["documents"] == kept["groundTruthTestDocuments"] > 0
    assert "ground truth" in kept["reason"] or "does not beat" in kept["reason"]
    assert stack.live() == live
    assert stack.classifier_status(kept["candidate"]["modelArn"]) in ("DELETING", "GONE")
    carried = stack.read("carried/carried.csv")
    assert carried is not None and keyed(carried) == keyed(sample("degrading.csv"))
    assert {e["status"] for e in stack.executions()} == {"SUCCEEDED", "FAILED"}
    _assert_idle_with_nothing_waiting(stack)
    report = check(cloud)
    assert report.denied == [], report.format()


def _entered(stack: LifecycleStack, execution_arn: str, state: str) -> Any:
    """When an execution entered a state (its history's TaskStateEntered event)."""
    history = stack.client("stepfunctions").get_execution_history(
        executionArn=execution_arn, maxResults=1000
    )["events"]
    (event,) = [
        e
        for e in history
        if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == state
    ]
    return event["timestamp"]


def _version_arn(model_arn: str, version: str) -> str:
    return model_arn.rsplit("/", 1)[0] + "/" + version


def test_uploads_arriving_together_queue_and_each_is_trained_on_exactly_once(
    cloud: LocalCloud,
) -> None:
    stack = deploy(cloud)
    lines = rows(sample("initial.csv"))
    parts = {f"part-{i}.csv": to_csv(lines[i::4]) for i in range(4)}
    stack.upload_together(parts)
    cloud.settle(timeout=300)

    executions = sorted(stack.executions(), key=lambda e: e["startDate"])
    assert {e["status"] for e in executions} == {"SUCCEEDED"}
    for earlier, later in itertools.pairwise(executions):
        # A round's work ends when it begins to release the lock (ReleaseLock precedes Done,
        # so the next round may start a few milliseconds before the earlier one's stopDate).
        released = _entered(stack, earlier["executionArn"], "ReleaseLock")
        assert released <= later["startDate"], "two rounds ran at once"
    # Uploads that found a round running were retried, not dropped.
    busy = [
        failure
        for _, result in stack.invocations("Intake")
        for failure in (result.payload or {}).get("batchItemFailures", [])
    ] + [result for _, result in stack.invocations("Intake") if result.failed]
    assert busy
    # Every upload was taken by exactly one round: their rows add up to the uploads' once.
    plans = [result.payload for _, result in stack.invocations("PrepareRound")]
    assert sum(plan["newRows"] for plan in plans) == len(lines)
    pending = stack.items("pending")
    assert sorted(item["key"]["S"] for item in pending) == sorted(f"train/{n}" for n in parts)
    taking = {plan["roundId"] for plan in plans if plan["newRows"]}
    assert {item["consumedBy"]["S"] for item in pending} == taking
    # Each round that took uploads trained one candidate and said so, or, with too little
    # data so far, said why not and kept the data for the next.
    trained = [plan for plan in plans if plan["hasData"]]
    notices = stack.notifications()
    assert len(notices) == len(taking)
    assert len([n for n in notices if n["Subject"] == NOTHING_TRAINED]) == len(taking) - len(
        trained
    )
    assert sorted(stack.trained_versions()) == sorted(plan["versionName"] for plan in trained)
    assert trained
    assert "promoted" in {summary(n).get("decision") for n in notices}
    # No row was lost: each is in the ground truth, or waits for the next round.
    waiting = keyed(stack.read("carried/carried.csv") or b"")
    assert _ground_truth(stack) | waiting == keyed(sample("initial.csv"))
    _assert_idle_with_nothing_waiting(stack)


def test_bad_uploads_are_reported_quarantined_and_change_nothing(cloud: LocalCloud) -> None:
    stack = deploy(cloud)
    initial = rows(sample("initial.csv"))

    # A first upload with a single class cannot train a classifier; it waits for more data.
    world = to_csv([line for line in initial if line[0] == "World"])
    (notice,) = stack.run("world.csv", world)
    assert notice["Subject"] == NOTHING_TRAINED
    plan = summary(notice)
    assert plan["hasData"] is False and plan["rejected"] == []
    assert "has 1 label(s); a classifier needs at least 2" in plan["reason"]
    assert "kept for the next round" in plan["reason"]
    assert stack.read("carried/carried.csv") == world
    assert stack.live() == LiveState((None, None), (None, None), None, None)
    assert stack.classifier_versions() == []

    # The next upload trains on it as well.
    first = summary(_one(stack.run("initial.csv", sample("initial.csv"))))
    assert first["decision"] == "promoted"
    assert _ground_truth(stack) == keyed(sample("initial.csv"))
    assert stack.read("carried/carried.csv") == b""
    live = stack.live()
    versions = stack.classifier_versions()

    bad = {
        "three-columns.csv": (b"World,Leaders meet, then talk\n", "expected 2 columns"),
        "header.csv": (b"label,text\nWorld,Leaders meet in Geneva\n", "header row"),
        "latin1.csv": ("World,Café owners protest in Lisbon\n".encode("latin-1"), "UTF-8"),
        "empty.csv": (b"", "is empty"),
        "blank-lines.csv": (b"\n \n", "is empty"),
        "no-text.csv": (b"World,\n", "the text is empty"),
        "open-quote.csv": (b'World,"Leaders meet\nSports,Goal\n', "malformed CSV"),
    }
    stack.upload_together({name: data for name, (data, _) in bad.items()})
    cloud.settle(timeout=300)

    notices = stack.new_notifications()
    assert {n["Subject"] for n in notices} == {REJECTED}
    rejected = [entry for n in notices for entry in summary(n)["rejected"]]
    assert sorted(entry["file"] for entry in rejected) == sorted(bad)
    for entry in rejected:
        data, problem = bad[entry["file"]]
        assert problem in entry["reason"], entry
        assert entry["reason"].startswith(entry["file"])
        assert entry["error"] == "invalid-training-data"
        assert stack.read(f"failed/{entry['file']}") == data  # the upload itself, unchanged
        error = stack.read_json(f"error-reports/{entry['file']}.json")
        assert {k: error[k] for k in ("error", "reason")} == {
            k: entry[k] for k in ("error", "reason")
        }
        assert error["source"]["key"] == f"train/{entry['file']}"
        assert error["quarantined"]["key"] == f"failed/{entry['file']}"
    assert stack.live() == live
    assert stack.classifier_versions() == versions  # nothing was trained
    assert stack.read("carried/carried.csv") == b""
    _assert_idle_with_nothing_waiting(stack)


def test_multi_label_rounds_with_a_configured_label_set(multi_label_cloud: LocalCloud) -> None:
    stack = deploy(multi_label_cloud, MULTI_LABEL_STACK)

    # A label outside the configured set rejects its file, naming the label and the set.
    (notice,) = stack.run("politics.csv", b"World|Politics,Leaders meet in Geneva\n")
    assert notice["Subject"] == REJECTED
    (entry,) = summary(notice)["rejected"]
    assert "Politics" in entry["reason"]
    assert ", ".join((*LABELS, MARKETS)) in entry["reason"]
    assert stack.read("failed/politics.csv") is not None

    initial = multi_label(sample("initial.csv"))
    assert any("|" in label for label, _ in rows(initial))
    first = summary(_one(stack.run("initial.csv", initial)))
    assert first["decision"] == "promoted"
    first_model = first["candidate"]["modelArn"]
    model = multi_label_cloud.client("comprehend").describe_document_classifier(
        DocumentClassifierArn=first_model
    )["DocumentClassifierProperties"]
    assert model["Mode"] == "MULTI_LABEL"
    assert model["InputDataConfig"]["LabelDelimiter"] == "|"
    endpoint_arn, _ = stack.parameter("EndpointParameterName")
    answer = multi_label_cloud.client("comprehend").classify_document(
        Text="Chipmaker shares jump 12 percent after record quarterly revenue",
        EndpointArn=endpoint_arn,
    )
    chosen = {label["Name"] for label in answer["Labels"] if label["Score"] >= 0.5}
    assert MARKETS in chosen

    second = summary(_one(stack.run("improving.csv", multi_label(sample("improving.csv")))))
    assert second["decision"] == "promoted"
    for role in ("candidate", "current"):
        _assert_metrics(second[role], second["testDocuments"])
        _assert_metrics(second[role]["groundTruth"], second["groundTruthTestDocuments"])
    assert stack.parameter("ClassifierParameterName")[0] == second["candidate"]["modelArn"]
    expected = keyed(initial) | keyed(multi_label(sample("improving.csv")))
    assert {key: set(labels.split("|")) for key, labels in _ground_truth(stack).items()} == {
        key: set(labels.split("|")) for key, labels in expected.items()
    }
    # This configuration keeps no old model: the previous live one is deleted.
    assert stack.classifier_status(first_model) in ("DELETING", "GONE")
    report = check(multi_label_cloud)
    assert report.denied == [], report.format()


def test_every_grant_is_used_and_no_call_is_denied(cloud: LocalCloud) -> None:
    """Least privilege both ways: run every path the default configuration has, then no call
    was denied and no grant went unused."""
    stack = deploy(cloud)
    initial = rows(sample("initial.csv"))
    world = to_csv([line for line in initial if line[0] == "World"][:60])

    # Step Functions refuses the first round: Intake releases the lock and the upload is
    # retried. One upload is rejected, the other cannot train alone and waits.
    with failing_start_executions(1) as refused:
        stack.upload_together({"world.csv": world, "three-columns.csv": b"World,a,b\n"})
        cloud.settle(timeout=300)
    assert len(refused) == 1
    assert {n["Subject"] for n in stack.new_notifications()} == {REJECTED}
    assert stack.keys("failed/") == ["failed/three-columns.csv"]
    assert stack.keys("error-reports/") == ["error-reports/three-columns.csv.json"]

    # The new endpoint fails, and is deleted so that the next round can create it.
    cloud.comprehend.fail_next_endpoint("Insufficient capacity (injected).")
    failure = _one(stack.run("initial.csv", sample("initial.csv")))
    assert failure["Subject"] == ROUND_FAILED and "EndpointFailed" in failure["Message"]
    assert stack.endpoints() == [] and stack.live().classifier == (None, None)

    # The next upload creates the endpoint; the data waiting since the failure trains too.
    holdout = to_csv(rows(sample("holdout.csv"))[:10])
    first = summary(_one(stack.run("holdout-sample.csv", holdout)))
    assert first["decision"] == "promoted" and first["current"] is None
    assert keyed(world).items() <= _ground_truth(stack).items()

    # Two uploads at once: the second waits while a round trains. The endpoint moves to a
    # better model, whether the uploads train in one round or in two.
    improving = rows(sample("improving.csv"))
    stack.upload_together(
        {"improving-a.csv": to_csv(improving[::2]), "improving-b.csv": to_csv(improving[1::2])}
    )
    cloud.settle(timeout=300)
    decisions = [summary(n) for n in stack.new_notifications()]
    assert any(d["decision"] == "promoted" and d["current"] for d in decisions), decisions
    carried = stack.read("carried/carried.csv") or b""
    assert keyed(sample("improving.csv")).items() <= (_ground_truth(stack) | keyed(carried)).items()

    # Every role the workflow runs as made calls, so each one's grants were all checked.
    # (The bucket notifications handler runs only when CloudFormation deploys the stack.)
    assert checked_roles(stack) == {
        "Intake", "PrepareRound", "EvaluateRound", "FinishRound", "Workflow",
        "ComprehendDataAccess", "EndpointKeeper",
    }  # fmt: skip
    # The default configuration rules no path out, so no grant may go unused, except
    # comprehend:TagResource: Comprehend authorizes the tags of a create call with it, which
    # the IAM reference does not list as a dependent action, so the check cannot see it used.
    # Always-on (this stage), the endpoint keeper deletes nothing and recreates an endpoint
    # only when one went missing (tests/comprehend_feedback_loop/test_endpoint_lifecycle.py
    # runs those paths under scale-to-zero).
    unused = unused_grants(stack)
    assert {a for p, a, _ in unused if not p.startswith("EndpointKeeper")} <= {
        "comprehend:TagResource"
    }
    assert {a for p, a, _ in unused if p.startswith("EndpointKeeper")} <= {
        "comprehend:CreateEndpoint", "comprehend:DeleteEndpoint", "comprehend:TagResource",
    }  # fmt: skip


def test_an_upload_gone_before_its_round_is_reported_and_blocks_no_later_round(
    cloud: LocalCloud,
) -> None:
    """The committed intake event names a version of train/training.csv this cloud never
    stored, as an upload deleted before its round would be: the round reports it unreadable
    and takes it, and the next upload trains as usual (a pending upload that could not be
    read used to fail every later round)."""
    import json

    stack = deploy(cloud)
    (intake,) = [
        name
        for name in cloud.runtime.functions
        if name.startswith(stack.stack.name) and "-IntakeFunction" in name
    ]
    event = json.loads(
        (
            Path(__file__).parents[2]
            / "events/comprehend_model_lifecycle/intake/training_upload.json"
        ).read_text()
    )
    cloud.client("lambda").invoke(FunctionName=intake, Payload=json.dumps(event))
    cloud.settle(timeout=300)
    (notice,) = stack.new_notifications()
    assert notice["Subject"] == REJECTED
    (entry,) = summary(notice)["rejected"]
    assert entry["file"] == "training.csv" and entry["error"] == "unreadable-upload"
    assert "could not be read" in entry["reason"] and "upload it again" in entry["reason"]
    report = stack.read_json("error-reports/training.csv.json")
    assert report["quarantined"] is None and report["error"] == "unreadable-upload"

    (trained,) = stack.run("initial.csv", sample("initial.csv"))
    assert summary(trained)["decision"] == "promoted"
    assert all(e["status"] == "SUCCEEDED" for e in stack.executions())
