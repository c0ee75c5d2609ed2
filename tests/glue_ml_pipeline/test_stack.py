"""The synthesized GlueMlPipeline template: the workflow graph, the jobs, and IAM that names
its resources; settings that are wrong fail synthesis with the reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from lambdas.shared.errors import ConfigurationError
from localcloud.core.iam_database import database
from stacks.glue_job_library import build_wheel
from stacks.glue_ml_pipeline import GLUE_JOBS
from stacks.glue_ml_pipeline_settings import GluePipelineSettings
from tests.helpers.cleanup import arn_text, cleanup

pytestmark = pytest.mark.synth

STACK = "GlueMlPipeline-test"


@pytest.fixture(scope="module")
def template(assembly_dir: Path) -> dict[str, Any]:
    return json.loads((assembly_dir / f"{STACK}.template.json").read_text())


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == resource_type
    }


def _short(name: str) -> str:
    return name.rsplit("-", 1)[-1]


def test_jobs_are_one_spark_job_and_three_python_shell_jobs(template: dict[str, Any]) -> None:
    jobs = {_short(p["Name"]): p for p in resources(template, "AWS::Glue::Job").values()}
    kinds = {name: job["Command"]["Name"] for name, job in jobs.items()}
    assert kinds == {
        "DataExtractionJob": "pythonshell",
        "DataProcessingJob": "glueetl",
        "TrainingJob": "pythonshell",
        "MessagingQueueJob": "pythonshell",
    }
    assert jobs["DataProcessingJob"]["GlueVersion"] == "5.0"
    for job in jobs.values():
        arguments = job["DefaultArguments"]
        # Glue 5.0 logs every job in real time; continuous logging is a Glue 4.0-and-earlier
        # Spark option (https://docs.aws.amazon.com/glue/latest/dg/
        # monitor-continuous-logging-enable.html), never one of Python shell jobs.
        assert not any(name.startswith("--enable-continuous") for name in arguments)
        assert "--extra-py-files" in arguments
        assert arguments["--job-bookmark-option"] == "job-bookmark-disable"
        assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    hyperparameters = dict(
        item.split("=") for item in jobs["TrainingJob"]["DefaultArguments"]["--HYPERPARAMETERS"]
        .split(",")
    )  # fmt: skip
    assert hyperparameters["mode"] == "supervised"
    # The training job's Glue timeout covers every bounded wait inside it.
    arguments = jobs["TrainingJob"]["DefaultArguments"]
    waits = int(arguments["--POLL_SECONDS"]) * sum(
        int(arguments[f"--MAX_{kind}_POLLS"]) for kind in ("TRAINING", "TRANSFORM", "ENDPOINT")
    )
    assert jobs["TrainingJob"]["Timeout"] * 60 > waits


def test_triggers_chain_the_jobs_and_every_outcome_sends_a_message(
    template: dict[str, Any],
) -> None:
    (workflow,) = resources(template, "AWS::Glue::Workflow").values()
    assert workflow["Name"] == "TestMLWorkflow"
    triggers = {p["Name"]: p for p in resources(template, "AWS::Glue::Trigger").values()}
    assert {t["WorkflowName"] for t in triggers.values()} == {"TestMLWorkflow"}
    start = triggers["TestMLWorkflow-start"]
    assert start["Type"] == "ON_DEMAND"
    assert _short(start["Actions"][0]["JobName"]) == "DataExtractionJob"
    graph = {}
    for trigger in triggers.values():
        if trigger["Type"] != "CONDITIONAL":
            continue
        assert trigger["StartOnCreation"] is True
        conditions = {
            (_short(c["JobName"]), c["State"]) for c in trigger["Predicate"]["Conditions"]
        }
        graph[_short(trigger["Actions"][0]["JobName"])] = (
            trigger["Predicate"]["Logical"],
            conditions,
        )
    assert graph["DataProcessingJob"] == ("AND", {("DataExtractionJob", "SUCCEEDED")})
    assert graph["TrainingJob"] == ("AND", {("DataProcessingJob", "SUCCEEDED")})
    logical, notify = graph["MessagingQueueJob"]
    assert logical == "ANY"
    assert ("TrainingJob", "SUCCEEDED") in notify
    for job in ("DataExtractionJob", "DataProcessingJob", "TrainingJob"):
        assert {(job, "FAILED"), (job, "TIMEOUT")} <= notify


def test_no_statement_grants_every_resource_or_every_action(template: dict[str, Any]) -> None:
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [
                statement["Action"]]  # fmt: skip
            assert all(not a.endswith(":*") and a != "*" for a in actions), statement
            # "*" only for actions AWS authorizes on no resource type (X-Ray tracing, the
            # cleanup function's List calls), per the IAM reference.
            assert statement["Resource"] != "*" or all(
                not database().action(a).resources for a in actions
            ), statement
            if "iam:PassRole" in actions:
                assert statement["Condition"] == {
                    "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
                }
    for role in resources(template, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role


def test_the_blazingtext_image_comes_from_the_region_map(template: dict[str, Any]) -> None:
    registry = template["Mappings"]["BlazingTextRegistry"]
    assert registry["us-east-1"] == {"account": "811284229777"}
    assert registry["eu-west-1"] == {"account": "685385470294"}


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("sourceUri", "ftp://example.com/data.csv", "sourceUri must be"),
        ("schedule", "rate(1 day)", "cron"),
        ("validationFraction", "0.4", r"validationFraction \+ testFraction"),
        ("epochs", "0", "glue_ml_pipeline:epochs must be between"),
        ("trainingInstanceType", "c5.xlarge", "ML instance type"),
    ],
)
def test_bad_settings_fail_synthesis_with_the_reason(key: str, value: str, reason: str) -> None:
    context = {f"glue_ml_pipeline:{key}": value}
    if key == "validationFraction":
        context["glue_ml_pipeline:testFraction"] = "0.2"
    with pytest.raises(ConfigurationError, match=reason):
        GluePipelineSettings.from_context(App(context=context).node)


def test_a_schedule_and_an_external_source_change_only_the_start_and_the_source_grant() -> None:
    from aws_cdk import Stack
    from aws_cdk.assertions import Template

    from app import cdk_json_context
    from stacks.glue_ml_pipeline import GlueMlPipelineStack

    app = App(
        context={
            **cdk_json_context(),
            "glue_ml_pipeline:schedule": "cron(0 3 ? * MON *)",
            "glue_ml_pipeline:sourceUri": "s3://datasets-bucket/dbpedia/train.csv",
        }
    )
    stack = GlueMlPipelineStack(
        app, "GlueMlPipeline-prod", stage="prod",
        settings=GluePipelineSettings.from_context(app.node),
    )  # fmt: skip
    template = Template.from_stack(Stack.of(stack))
    template.has_resource_properties(
        "AWS::Glue::Trigger",
        {"Name": "ProdMLWorkflow-start", "Type": "SCHEDULED",
         "Schedule": "cron(0 3 ? * MON *)", "StartOnCreation": True},
    )  # fmt: skip
    source_grants = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "datasets-bucket/dbpedia/train.csv" in json.dumps(statement["Resource"])
    ]
    assert len(source_grants) == 1
    assert source_grants[0]["Action"] == "s3:GetObject"
    assert "source/*" not in json.dumps(template.to_json())


def _object_key(url: Any) -> str:
    """The object key of an asset's `s3://bucket/key` URL (the bucket is an Fn::Sub)."""
    text = url["Fn::Sub"] if isinstance(url, dict) else url
    return str(text).split("/", 3)[3]


def test_python_shell_jobs_get_a_named_wheel_and_the_spark_job_a_zip(
    template: dict[str, Any], assembly_dir: Path
) -> None:
    jobs = {_short(p["Name"]): p for p in resources(template, "AWS::Glue::Job").values()}
    keys = {name: _object_key(job["DefaultArguments"]["--extra-py-files"])
            for name, job in jobs.items()}  # fmt: skip
    assert keys["DataProcessingJob"].endswith(".zip")
    shell = {keys[j] for j in ("DataExtractionJob", "TrainingJob", "MessagingQueueJob")}
    assert len(shell) == 1
    (wheel_key,) = shell
    # pip installs a wheel only under a wheel's file name, not CDK's content-hash asset key.
    digest, _, filename = wheel_key.partition("/")
    assert len(digest) == 16 and filename == "glue_ml_pipeline_jobs-1.0.0-py3-none-any.whl"
    manifest = json.loads((assembly_dir / f"{STACK}.assets.json").read_text())
    (wheel_asset,) = [
        asset for asset in manifest["files"].values()
        if next(iter(asset["destinations"].values()))["objectKey"] == wheel_key
    ]  # fmt: skip
    assert wheel_asset["source"]["packaging"] == "file"
    staged = (assembly_dir / wheel_asset["source"]["path"]).read_bytes()
    assert staged == build_wheel(GLUE_JOBS).data
    # Each job role may read its own library and no other.
    for name, job in jobs.items():
        role = next(
            logical for logical, r in template["Resources"].items()
            if r["Type"] == "AWS::IAM::Role" and {"Fn::GetAtt": [logical, "Arn"]} == job["Role"]
        )  # fmt: skip
        policy = next(
            p["Properties"]["PolicyDocument"] for p in template["Resources"].values()
            if p["Type"] == "AWS::IAM::Policy" and {"Ref": role} in p["Properties"]["Roles"]
        )  # fmt: skip
        readable = json.dumps([s["Resource"] for s in policy["Statement"]
                               if s["Action"] == "s3:GetObject"])  # fmt: skip
        other = keys["DataProcessingJob"] if name != "DataProcessingJob" else wheel_key
        assert keys[name] in readable and other not in readable


def test_stack_deletion_removes_the_endpoint_models_and_jobs_the_runs_created(
    template: dict[str, Any],
) -> None:
    found = cleanup(template)
    outputs = template["Outputs"]
    endpoint = outputs["EndpointName"]["Value"]
    assert found.properties["SageMakerEndpointNames"] == [endpoint]
    prefix = found.properties["SageMakerNamePrefix"]
    assert endpoint.startswith(prefix) and prefix.endswith("-")
    assert found.properties["StackName"] == {"Ref": "AWS::StackName"}
    # The Glue workflow and jobs are gone before it runs: no run starts a new endpoint.
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in ("AWS::Glue::Job", "AWS::Glue::Workflow"):
            assert found.protects(template, logical_id), logical_id
    # Exactly what it calls, on this pipeline's names; listing has no resource-level grant.
    arn = 'arn:aws:sagemaker:{"Ref": "AWS::Region"}:{"Ref": "AWS::AccountId"}'
    assert {a: r for a, r in found.grants.items() if a.startswith("sagemaker:")} == {
        "sagemaker:DescribeEndpoint": {f"{arn}:endpoint/{endpoint}"},
        "sagemaker:DeleteEndpoint": {f"{arn}:endpoint/{endpoint}"},
        "sagemaker:StopTrainingJob": {f"{arn}:training-job/{prefix}*"},
        "sagemaker:StopTransformJob": {f"{arn}:transform-job/{prefix}*"},
        "sagemaker:DeleteEndpointConfig": {f"{arn}:endpoint-config/{prefix}*"},
        "sagemaker:DeleteModel": {f"{arn}:model/{prefix}*"},
        "sagemaker:ListTrainingJobs": {"*"},
        "sagemaker:ListTransformJobs": {"*"},
        "sagemaker:ListEndpointConfigs": {"*"},
        "sagemaker:ListModels": {"*"},
    }


def test_the_training_job_tags_what_it_creates_with_the_stack_name(
    template: dict[str, Any],
) -> None:
    (training,) = [
        job for job in resources(template, "AWS::Glue::Job").values()
        if job["Name"].endswith("TrainingJob")
    ]  # fmt: skip
    assert training["DefaultArguments"]["--STACK_NAME"] == {"Ref": "AWS::StackName"}
    tagged = {
        arn_text(resource)
        for policy in resources(template, "AWS::IAM::Policy").values()
        for statement in policy["PolicyDocument"]["Statement"]
        if "sagemaker:AddTags" in statement["Action"]
        for resource in statement["Resource"]
    }
    kinds = {arn.split(":")[-1].split("/")[0] for arn in tagged}
    assert kinds == {"training-job", "model", "transform-job", "endpoint-config", "endpoint"}
