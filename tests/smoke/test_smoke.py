"""The post-deploy smoke check (`python -m smoke`) against the local cloud: every stack of the
stage deployed as `make deploy` leaves them, stacks found through `DescribeStacks` as on AWS.
Before any model is trained the model workflows are skipped; after training every workflow
passes, the check's own objects are gone; a broken handler or a missing stack fails with where
to look."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from localcloud.cloud import DeployedStack, LocalCloud
from localcloud.demos.ticket_classification import TicketsStack
from localcloud.services.apigateway.gateway import LocalApiGateway
from smoke import Result, Settings, Status, new_run_id, run_checks
from smoke.cli import main
from tests.smoke.helpers import (
    STAGE,
    LocalEnvironment,
    deploy_all,
    keys_everywhere,
    train_models,
)

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("smoke")]

MODEL_WORKFLOWS = [
    "comprehend_model_lifecycle",
    "comprehend_feedback_loop",
    "ticket_classification",
]


@dataclass
class Deployment:
    cloud: LocalCloud
    env: LocalEnvironment
    stacks: dict[str, DeployedStack]
    before_training: list[Result]


@pytest.fixture(scope="module")
def deployment(
    assembly_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """One deployment of every stack for the module; the model workflows are checked once
    before their models exist (deploying and training are the slow parts)."""
    work_dir = tmp_path_factory.mktemp("smoke") / "localcloud"
    with LocalCloud(assembly_dir, work_dir=work_dir) as cloud:
        stacks = deploy_all(cloud)
        env = LocalEnvironment(cloud, LocalApiGateway(cloud))
        before = run_checks(env, STAGE, MODEL_WORKFLOWS, Settings(new_run_id()))
        train_models(cloud, stacks)
        yield Deployment(cloud, env, stacks, before)


def test_describe_stacks_answers_with_each_deployed_stacks_outputs(
    deployment: Deployment,
) -> None:
    cloudformation = deployment.cloud.client("cloudformation")
    listed = {s["StackName"]: s for s in cloudformation.describe_stacks()["Stacks"]}
    assert set(listed) == {stack.name for stack in deployment.stacks.values()}
    for stack in deployment.stacks.values():
        (described,) = cloudformation.describe_stacks(StackName=stack.name)["Stacks"]
        assert described["StackStatus"] == "CREATE_COMPLETE"
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
        assert outputs == {key: str(value) for key, value in stack.outputs.items()}
        by_id = cloudformation.describe_stacks(StackName=described["StackId"])["Stacks"]
        assert by_id[0]["StackName"] == stack.name
    lifecycle = listed[deployment.stacks["ComprehendModelLifecycle"].name]
    exports = [o for o in lifecycle["Outputs"] if o.get("ExportName")]
    assert exports, "the feedback loop imports the training bucket from an export"
    parameters = {
        p["ParameterKey"]: p
        for p in listed[deployment.stacks["CustomLabelsBatch"].name]["Parameters"]
    }
    assert parameters["ProjectArn"]["ParameterValue"].startswith("arn:aws:rekognition:")
    with pytest.raises(ClientError) as missing:
        cloudformation.describe_stacks(StackName=f"CaptionTranslation-{STAGE}-gone")
    assert missing.value.response["Error"] == {
        "Type": "Sender",
        "Code": "ValidationError",
        "Message": f"Stack with id CaptionTranslation-{STAGE}-gone does not exist",
    }


def test_before_any_model_is_trained_the_model_workflows_are_skipped(
    deployment: Deployment,
) -> None:
    results = {r.workflow: r for r in deployment.before_training}
    assert {name: r.status for name, r in results.items()} == dict.fromkeys(
        MODEL_WORKFLOWS, Status.SKIPPED
    )
    for result in results.values():
        assert result.detail.startswith("no model yet"), result
    assert "503" in results["comprehend_feedback_loop"].detail
    assert "unset" in results["ticket_classification"].detail


def test_every_workflow_passes_and_the_check_removes_what_it_made(
    deployment: Deployment,
) -> None:
    out, err = io.StringIO(), io.StringIO()
    # The Glue pipeline runs on its own (below): its jobs hold the local Lambda runtime for
    # their real duration, hours on the fast local clock, past the Custom Labels run's budget.
    argv = ["--stage", STAGE, "--custom-labels"]
    code = main(argv, env=deployment.env, out=out, err=err)

    report = out.getvalue()
    assert code == 0, report
    assert _statuses(report) == {
        "caption_translation": "pass",
        "custom_labels_batch": "pass",
        "comprehend_model_lifecycle": "pass",
        "comprehend_feedback_loop": "pass",
        "ticket_classification": "pass",
    }, report
    assert report.rstrip().endswith("5 passed, 0 failed, 0 skipped")
    assert "3 cues translated to es, fr" in report
    # Nothing the check uploaded or caused to be written stays, in any version.
    run = re.search(r"smoke check (smoke-[0-9a-z-]+) ", err.getvalue())
    assert run is not None, err.getvalue()
    prefix = run.group(1)
    captions = deployment.stacks["CaptionTranslation"].outputs
    labels = deployment.stacks["CustomLabelsBatch"].outputs
    for bucket in (
        captions["BucketName"], labels["SourceBucketName"], labels["FinalBucketName"],
    ):  # fmt: skip
        left = [
            key
            for key in keys_everywhere(deployment.cloud, bucket, prefix)
            if not key.startswith("batches/")  # a batch's record expires with its retention
        ]
        assert left == [], bucket
    tickets = deployment.stacks["TicketClassification"].outputs
    item = deployment.cloud.client("dynamodb").get_item(
        TableName=tickets["TicketTableName"], Key={"ticketId": {"S": prefix}}
    )
    assert "Item" not in item
    warehouse = TicketsStack(deployment.cloud, deployment.stacks["TicketClassification"])
    assert warehouse.sql(f"SELECT COUNT(*) AS n FROM tickets WHERE id = '{prefix}'") == [{"n": 0}]


def test_a_broken_handler_fails_the_check_and_names_the_execution_to_inspect(
    deployment: Deployment,
) -> None:
    runtime = deployment.cloud.runtime
    (prepare,) = [
        config
        for config in runtime.functions.values()
        if config.stack_name == deployment.stacks["CaptionTranslation"].name
        and config.logical_id.startswith("PrepareBatchFunction")
    ]
    original = dict(prepare.environment)
    prepare.environment["BUCKET_NAME"] = "a-bucket-that-does-not-exist"
    try:
        (result,) = run_checks(
            deployment.env, STAGE, ["caption_translation"], Settings(new_run_id())
        )
    finally:
        prepare.environment.clear()
        prepare.environment.update(original)

    assert result.status is Status.FAILED
    assert result.detail.startswith("the batch execution ended FAILED"), result.detail
    machine = deployment.stacks["CaptionTranslation"].outputs["StateMachineArn"]
    execution_prefix = machine.replace(":stateMachine:", ":execution:") + ":"
    assert any(where.startswith(f"execution {execution_prefix}") for where in result.look_at)
    bucket = deployment.stacks["CaptionTranslation"].outputs["BucketName"]
    assert any(where.startswith(f"s3://{bucket}/batches/") for where in result.look_at)
    # The uploaded file is gone from input/ (the batch took it) and from output/.
    assert [k for k in keys_everywhere(deployment.cloud, bucket, "smoke-")
            if k.startswith(("input/", "output/"))] == []  # fmt: skip


def test_a_stack_that_is_not_deployed_fails_with_its_name(deployment: Deployment) -> None:
    (result,) = run_checks(
        deployment.env, "nostage", ["caption_translation"], Settings(new_run_id())
    )
    assert result.status is Status.FAILED
    assert result.stack == "CaptionTranslation-nostage"
    assert "Stack with id CaptionTranslation-nostage does not exist" in result.detail
    assert "describe-stacks" in result.look_at[0]


def test_the_glue_pipeline_passes_when_asked_for(deployment: Deployment) -> None:
    # Last: a run still going would hold the local Lambda runtime for the tests after it.
    out = io.StringIO()
    argv = ["--stage", STAGE, "--workflows", "glue_ml_pipeline", "--glue"]
    code = main(argv, env=deployment.env, out=out, err=io.StringIO())
    report = out.getvalue()
    assert code == 0, report
    assert _statuses(report) == {"glue_ml_pipeline": "pass"}, report
    assert "every job succeeded" in report
    queue = deployment.stacks["GlueMlPipeline"].outputs["QueueUrl"]
    attributes = deployment.cloud.client("sqs").get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"  # the run's message was taken


def _statuses(report: str) -> dict[str, str]:
    """Workflow -> pass/FAIL/skip, from the report's result lines."""
    return {
        workflow: status
        for status, workflow in re.findall(
            r"^(pass|FAIL|skip)\s+([a-z_-]+)\s", report, flags=re.MULTILINE
        )
    }
