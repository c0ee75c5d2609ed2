"""The least-privilege check: the IAM authorizations each recorded call needs, and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.handlers import handle_copy_source_param

from localcloud.core.iam_check import (
    Authorization,
    DeniedCall,
    UnusedGrant,
    authorizations,
    check,
    principal_policies,
)
from localcloud.core.identity import RecordedCall
from localcloud.core.template import ResourceState

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "captions"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/trigger-queue"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:trigger-queue"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:prepare-batch"
DATA_ROLE = f"arn:aws:iam::{ACCOUNT}:role/translate-data-access"


def _needed(service: str, operation: str, **params: Any) -> list[Authorization]:
    return authorizations(RecordedCall(None, service, operation, params), REGION, ACCOUNT)


# --- S3 ------------------------------------------------------------------------------------------


def test_get_object_needs_get_object_on_the_object() -> None:
    assert _needed("s3", "GetObject", Bucket=BUCKET, Key="batches/b1/manifest.json") == [
        Authorization("s3:GetObject", f"{BUCKET_ARN}/batches/b1/manifest.json")
    ]


def test_a_versioned_get_or_head_needs_get_object_version() -> None:
    expected = [Authorization("s3:GetObjectVersion", f"{BUCKET_ARN}/input/a.vtt")]
    assert _needed("s3", "GetObject", Bucket=BUCKET, Key="input/a.vtt", VersionId="v1") == expected
    assert _needed("s3", "HeadObject", Bucket=BUCKET, Key="input/a.vtt", VersionId="v1") == expected


def test_head_object_needs_get_object() -> None:
    assert _needed("s3", "HeadObject", Bucket=BUCKET, Key="output/de/a.vtt") == [
        Authorization("s3:GetObject", f"{BUCKET_ARN}/output/de/a.vtt")
    ]


def test_put_object_needs_put_object_on_the_object() -> None:
    assert _needed("s3", "PutObject", Bucket=BUCKET, Key="failed/a.vtt", Body=b"x") == [
        Authorization("s3:PutObject", f"{BUCKET_ARN}/failed/a.vtt")
    ]


def test_copy_object_with_a_dict_source_reads_the_source_and_writes_the_target() -> None:
    needed = _needed(
        "s3",
        "CopyObject",
        Bucket=BUCKET,
        Key="batches/b1/source/a.vtt",
        CopySource={"Bucket": "other-bucket", "Key": "input/a.vtt"},
    )
    assert needed == [
        Authorization("s3:GetObject", "arn:aws:s3:::other-bucket/input/a.vtt"),
        Authorization("s3:PutObject", f"{BUCKET_ARN}/batches/b1/source/a.vtt"),
    ]


def test_copy_object_of_a_source_version_needs_get_object_version() -> None:
    needed = _needed(
        "s3",
        "CopyObject",
        Bucket=BUCKET,
        Key="batches/b1/source/a.vtt",
        CopySource={"Bucket": BUCKET, "Key": "input/a.vtt", "VersionId": "v1"},
    )
    assert needed[0] == Authorization("s3:GetObjectVersion", f"{BUCKET_ARN}/input/a.vtt")


def test_copy_object_with_botocores_encoded_source_string_is_decoded() -> None:
    needed = _needed(
        "s3",
        "CopyObject",
        Bucket=BUCKET,
        Key="batches/b1/source/my file.vtt",
        CopySource="captions/input/my%20file%2B%C3%A9.vtt?versionId=3sL4kqtJlcpX+rmSp",
    )
    assert needed == [
        Authorization("s3:GetObjectVersion", f"{BUCKET_ARN}/input/my file+é.vtt"),
        Authorization("s3:PutObject", f"{BUCKET_ARN}/batches/b1/source/my file.vtt"),
    ]


def test_copy_source_as_botocore_encodes_it_gives_the_same_authorizations_as_the_dict() -> None:
    source = {"Bucket": BUCKET, "Key": "input/sub dir/ça?.srt", "VersionId": "Abc+/="}
    params: dict[str, Any] = {"Bucket": BUCKET, "Key": "batches/b/source/x", "CopySource": source}
    as_dict = _needed("s3", "CopyObject", **params)
    handle_copy_source_param(params)
    assert isinstance(params["CopySource"], str)
    assert _needed("s3", "CopyObject", **params) == as_dict
    assert as_dict[0] == Authorization("s3:GetObjectVersion", f"{BUCKET_ARN}/input/sub dir/ça?.srt")


def test_copy_source_string_without_version_needs_get_object() -> None:
    needed = _needed(
        "s3", "CopyObject", Bucket=BUCKET, Key="failed/a.vtt", CopySource="captions/batches/b/a.vtt"
    )
    assert needed[0] == Authorization("s3:GetObject", f"{BUCKET_ARN}/batches/b/a.vtt")


def test_delete_object_with_and_without_a_version() -> None:
    assert _needed("s3", "DeleteObject", Bucket=BUCKET, Key="input/a.vtt", VersionId="v1") == [
        Authorization("s3:DeleteObjectVersion", f"{BUCKET_ARN}/input/a.vtt")
    ]
    assert _needed("s3", "DeleteObject", Bucket=BUCKET, Key="input/a.vtt") == [
        Authorization("s3:DeleteObject", f"{BUCKET_ARN}/input/a.vtt")
    ]


def test_delete_objects_needs_one_authorization_per_object() -> None:
    needed = _needed(
        "s3",
        "DeleteObjects",
        Bucket=BUCKET,
        Delete={"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "v2"}]},
    )
    assert needed == [
        Authorization("s3:DeleteObject", f"{BUCKET_ARN}/a"),
        Authorization("s3:DeleteObjectVersion", f"{BUCKET_ARN}/b"),
    ]


def test_listing_needs_list_bucket_with_the_prefix_as_context() -> None:
    assert _needed("s3", "ListObjectsV2", Bucket=BUCKET, Prefix="batches/b1/translate-output/") == [
        Authorization("s3:ListBucket", BUCKET_ARN, (("s3:prefix", "batches/b1/translate-output/"),))
    ]
    assert _needed("s3", "ListObjectsV2", Bucket=BUCKET) == [
        Authorization("s3:ListBucket", BUCKET_ARN, (("s3:prefix", ""),))
    ]


def test_listing_versions_needs_list_bucket_versions_with_the_prefix() -> None:
    assert _needed("s3", "ListObjectVersions", Bucket=BUCKET, Prefix="input/") == [
        Authorization("s3:ListBucketVersions", BUCKET_ARN, (("s3:prefix", "input/"),))
    ]


def test_other_bucket_operations_are_checked_on_the_bucket() -> None:
    assert _needed("s3", "GetBucketVersioning", Bucket=BUCKET) == [
        Authorization("s3:GetBucketVersioning", BUCKET_ARN)
    ]


def test_a_multipart_upload_needs_put_object_on_the_object() -> None:
    assert _needed("s3", "CreateMultipartUpload", Bucket=BUCKET, Key="output/de/a.vtt") == [
        Authorization("s3:PutObject", f"{BUCKET_ARN}/output/de/a.vtt")
    ]


# --- SQS, SNS, Step Functions, Lambda, Translate -------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("DeleteMessageBatch", "sqs:DeleteMessage"),
        ("SendMessageBatch", "sqs:SendMessage"),
        ("ChangeMessageVisibilityBatch", "sqs:ChangeMessageVisibility"),
        ("ReceiveMessage", "sqs:ReceiveMessage"),
        ("GetQueueAttributes", "sqs:GetQueueAttributes"),
    ],
)
def test_sqs_operations_are_checked_on_the_queue_arn_from_its_url(
    operation: str, action: str
) -> None:
    assert _needed("sqs", operation, QueueUrl=QUEUE_URL, Entries=[]) == [
        Authorization(action, QUEUE_ARN)
    ]


def test_the_queue_arn_takes_the_account_from_the_url() -> None:
    url = f"https://sqs.{REGION}.amazonaws.com/210987654321/shared-queue"
    assert _needed("sqs", "SendMessage", QueueUrl=url, MessageBody="x") == [
        Authorization("sqs:SendMessage", f"arn:aws:sqs:{REGION}:210987654321:shared-queue")
    ]


def test_get_queue_url_is_checked_on_the_queue_name() -> None:
    assert _needed("sqs", "GetQueueUrl", QueueName="trigger-queue") == [
        Authorization("sqs:GetQueueUrl", QUEUE_ARN)
    ]


def test_sns_publish_is_checked_on_the_topic() -> None:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:batch-notifications"
    assert _needed("sns", "Publish", TopicArn=topic, Message="{}") == [
        Authorization("sns:Publish", topic)
    ]


def test_start_execution_uses_the_states_prefix_and_the_state_machine() -> None:
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Workflow"
    assert _needed("stepfunctions", "StartExecution", stateMachineArn=machine, name="b1") == [
        Authorization("states:StartExecution", machine)
    ]


def test_describe_execution_is_checked_on_the_execution() -> None:
    execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:Workflow:b1"
    assert _needed("stepfunctions", "DescribeExecution", executionArn=execution) == [
        Authorization("states:DescribeExecution", execution)
    ]


@pytest.mark.parametrize(
    "function_name",
    ["prepare-batch", FUNCTION_ARN, f"{FUNCTION_ARN}:live", f"{FUNCTION_ARN}:$LATEST"],
)
def test_invoke_needs_invoke_function_on_the_unqualified_function_arn(function_name: str) -> None:
    assert _needed("lambda", "Invoke", FunctionName=function_name, Payload=b"{}") == [
        Authorization("lambda:InvokeFunction", FUNCTION_ARN)
    ]


def test_other_lambda_operations_are_checked_on_the_function_or_mapping() -> None:
    assert _needed("lambda", "GetFunction", FunctionName="prepare-batch") == [
        Authorization("lambda:GetFunction", FUNCTION_ARN)
    ]
    assert _needed("lambda", "GetEventSourceMapping", UUID="1234-abcd") == [
        Authorization(
            "lambda:GetEventSourceMapping",
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:1234-abcd",
        )
    ]


@pytest.mark.parametrize(
    "operation", ["TranslateText", "DescribeTextTranslationJob", "StopTextTranslationJob"]
)
def test_translate_operations_are_checked_on_every_resource(operation: str) -> None:
    assert _needed("translate", operation, Text="Hi", JobId="j1") == [
        Authorization(f"translate:{operation}", "*")
    ]


def test_starting_a_job_with_a_data_access_role_also_needs_pass_role() -> None:
    needed = _needed(
        "translate",
        "StartTextTranslationJob",
        DataAccessRoleArn=DATA_ROLE,
        SourceLanguageCode="en",
        TargetLanguageCodes=["de"],
    )
    assert needed == [
        Authorization("translate:StartTextTranslationJob", "*"),
        Authorization(
            "iam:PassRole", DATA_ROLE, (("iam:PassedToService", "translate.amazonaws.com"),)
        ),
    ]


def test_a_role_parameter_that_is_not_an_iam_arn_needs_no_pass_role() -> None:
    needed = _needed("translate", "StartTextTranslationJob", DataAccessRoleArn="not-an-arn")
    assert [a.action for a in needed] == ["translate:StartTextTranslationJob"]


def test_ssm_parameters_are_checked_on_the_parameter_arn() -> None:
    assert _needed("ssm", "GetParameter", Name="/cdk-bootstrap/hnb659fds/version") == [
        Authorization(
            "ssm:GetParameter",
            f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/cdk-bootstrap/hnb659fds/version",
        )
    ]


# --- check(): the report on a small deployed stack -----------------------------------------------

WORKER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/stack-WorkerRole-ABC"
MANAGED_ROLE = f"arn:aws:iam::{ACCOUNT}:role/stack-HandlerRole-DEF"
USER = f"arn:aws:iam::{ACCOUNT}:user/local-developer"


@dataclass
class FakeStack:
    name: str
    resources: dict[str, ResourceState]

    def resources_of_type(self, resource_type: str) -> dict[str, ResourceState]:
        return {k: v for k, v in self.resources.items() if v.resource_type == resource_type}


@dataclass
class FakeRecorder:
    recorded: list[RecordedCall] = field(default_factory=list)

    def calls(self) -> list[RecordedCall]:
        return list(self.recorded)


@dataclass
class FakeCloud:
    stacks: dict[str, FakeStack]
    recorder: FakeRecorder = field(default_factory=FakeRecorder)
    region: str = REGION
    account_id: str = ACCOUNT


def _role(logical_id: str, arn: str, **properties: Any) -> ResourceState:
    return ResourceState(
        logical_id,
        "AWS::IAM::Role",
        ref=arn.rsplit("/", 1)[-1],
        attributes={"Arn": arn},
        properties=properties,
    )


def _fake_cloud(*calls: RecordedCall) -> Any:
    worker_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET_ARN}/batches/*"},
            {
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": [f"{BUCKET_ARN}/batches/*", f"{BUCKET_ARN}/output/*"],
            },
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": BUCKET_ARN,
                "Condition": {"StringLike": {"s3:prefix": ["batches/*"]}},
            },
            {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "s3:PutObject",
                "Resource": f"{BUCKET_ARN}/output/locked/*",
            },
        ],
    }
    inline = {
        "PolicyName": "Translate",
        "PolicyDocument": {
            "Statement": [{"Effect": "Allow", "Action": "translate:TranslateText", "Resource": "*"}]
        },
    }
    stack = FakeStack(
        "Captions-test",
        {
            "WorkerRole": _role("WorkerRole", WORKER_ROLE, Policies=[inline]),
            "WorkerPolicy": ResourceState(
                "WorkerPolicy",
                "AWS::IAM::Policy",
                ref="WorkerPolicy",
                properties={"Roles": ["stack-WorkerRole-ABC"], "PolicyDocument": worker_policy},
            ),
            "HandlerRole": _role(
                "HandlerRole",
                MANAGED_ROLE,
                ManagedPolicyArns=[
                    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
                ],
            ),
        },
    )
    return FakeCloud({"Captions-test": stack}, FakeRecorder(list(calls)))


def _call(principal: str | None, service: str, operation: str, **params: Any) -> RecordedCall:
    return RecordedCall(principal, service, operation, params)


def test_principal_policies_collect_inline_and_attached_statements() -> None:
    policies = principal_policies(_fake_cloud())
    assert sorted(policies) == [MANAGED_ROLE, WORKER_ROLE]
    worker = policies[WORKER_ROLE]
    assert (worker.logical_id, worker.stack) == ("WorkerRole", "Captions-test")
    assert [s.source for s in worker.statements] == ["WorkerRole/Translate"] + ["WorkerPolicy"] * 5
    assert policies[MANAGED_ROLE].managed_policies == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ]


def test_calls_within_the_policy_pass_and_their_grants_count_as_used() -> None:
    cloud = _fake_cloud(
        _call(WORKER_ROLE, "s3", "GetObject", Bucket=BUCKET, Key="batches/b1/plan.json"),
        _call(WORKER_ROLE, "s3", "PutObject", Bucket=BUCKET, Key="batches/b1/summary.json"),
        _call(WORKER_ROLE, "s3", "PutObject", Bucket=BUCKET, Key="output/de/a.vtt"),
        _call(WORKER_ROLE, "s3", "ListObjectsV2", Bucket=BUCKET, Prefix="batches/b1/"),
        _call(WORKER_ROLE, "translate", "TranslateText", Text="Hi"),
    )
    report = check(cloud)
    assert report.checked_calls == 5
    assert report.principals == [WORKER_ROLE]
    assert report.denied == []
    assert report.unverifiable == []
    assert report.unused == []


def test_a_call_outside_the_policy_is_denied_and_an_unused_grant_is_listed() -> None:
    cloud = _fake_cloud(
        _call(WORKER_ROLE, "s3", "GetObject", Bucket=BUCKET, Key="batches/b1/plan.json"),
        _call(WORKER_ROLE, "s3", "DeleteObject", Bucket=BUCKET, Key="input/a.vtt", VersionId="v1"),
        _call(WORKER_ROLE, "s3", "ListObjectsV2", Bucket=BUCKET, Prefix="input/"),
        _call(WORKER_ROLE, "s3", "PutObject", Bucket=BUCKET, Key="output/locked/a.vtt"),
    )
    report = check(cloud)
    assert report.checked_calls == 4
    assert report.denied == [
        DeniedCall(
            WORKER_ROLE, "DeleteObject", "s3:DeleteObjectVersion", f"{BUCKET_ARN}/input/a.vtt"
        ),
        DeniedCall(WORKER_ROLE, "ListObjectsV2", "s3:ListBucket", BUCKET_ARN),
        DeniedCall(WORKER_ROLE, "PutObject", "s3:PutObject", f"{BUCKET_ARN}/output/locked/a.vtt"),
    ]
    assert report.unused == [
        UnusedGrant(WORKER_ROLE, "translate:TranslateText", "*", "WorkerRole/Translate"),
        UnusedGrant(WORKER_ROLE, "s3:PutObject", f"{BUCKET_ARN}/batches/*", "WorkerPolicy"),
        UnusedGrant(WORKER_ROLE, "s3:PutObject", f"{BUCKET_ARN}/output/*", "WorkerPolicy"),
        UnusedGrant(WORKER_ROLE, "s3:ListBucket", BUCKET_ARN, "WorkerPolicy"),
    ]
    lines = report.format().splitlines()
    assert lines[0] == "4 calls by 1 principals checked"
    assert "DENIED  stack-WorkerRole-ABC DeleteObject: s3:DeleteObjectVersion on " in lines[1]
    assert lines[-1] == f"unused  stack-WorkerRole-ABC s3:ListBucket on {BUCKET_ARN}"


def test_the_same_denied_call_is_reported_once() -> None:
    delete = _call(WORKER_ROLE, "s3", "DeleteObject", Bucket=BUCKET, Key="input/a.vtt")
    report = check(_fake_cloud(delete, delete, delete))
    assert report.checked_calls == 3
    assert len(report.denied) == 1


def test_calls_by_principals_without_a_role_in_the_stack_are_not_checked() -> None:
    report = check(
        _fake_cloud(
            _call(USER, "s3", "DeleteBucket", Bucket=BUCKET),
            _call(None, "s3", "DeleteBucket", Bucket=BUCKET),
        )
    )
    assert (report.checked_calls, report.denied, report.principals) == (0, [], [])


def test_a_role_with_managed_policies_is_unverifiable_rather_than_denied() -> None:
    report = check(_fake_cloud(_call(MANAGED_ROLE, "s3", "PutBucketNotification", Bucket=BUCKET)))
    assert report.denied == []
    assert report.unverifiable == [
        DeniedCall(MANAGED_ROLE, "PutBucketNotification", "s3:PutBucketNotification", BUCKET_ARN)
    ]


def test_check_uses_the_calls_it_is_given_over_the_recorder() -> None:
    cloud = _fake_cloud(_call(WORKER_ROLE, "s3", "DeleteBucket", Bucket=BUCKET))
    report = check(cloud, [_call(WORKER_ROLE, "translate", "TranslateText", Text="Hi")])
    assert report.checked_calls == 1
    assert report.denied == []


# --- check() on the deployed caption translation stack -------------------------------------------


@pytest.mark.synth
def test_a_deployed_role_calling_outside_its_policy_is_reported(
    assembly_dir: Path, tmp_path: Path
) -> None:
    from localcloud.cloud import LocalCloud
    from tests.conftest import DEFAULT_STACK

    with LocalCloud(assembly_dir, work_dir=tmp_path / "localcloud") as cloud:
        stack = cloud.deploy(DEFAULT_STACK)
        bucket = stack.outputs["BucketName"]
        roles = stack.resources_of_type("AWS::IAM::Role")
        (role,) = [
            state.attributes["Arn"]
            for logical_id, state in roles.items()
            if logical_id.startswith("PrepareBatchRole")
        ]
        cloud.recorder.clear()
        s3 = cloud.client_as(role, "s3")
        s3.put_object(Bucket=bucket, Key="batches/b1/plan.json", Body=b"{}")
        s3.get_object(Bucket=bucket, Key="batches/b1/plan.json")
        # Denied as IAM would: the caller gets S3's error and nothing is written.
        with pytest.raises(ClientError) as refused:
            s3.put_object(Bucket=bucket, Key="output/de/a.vtt", Body=b"WEBVTT\n")
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert "s3:PutObject" in refused.value.response["Error"]["Message"]
        listed = cloud.client("s3").list_objects_v2(Bucket=bucket, Prefix="output/")
        assert listed["KeyCount"] == 0
        # Only this role's calls: the event source poller calls SQS as the StartBatch role.
        report = check(cloud, cloud.recorder.calls(role))

    assert report.principals == [role]
    assert report.checked_calls == 3
    assert report.denied == [
        DeniedCall(role, "PutObject", "s3:PutObject", f"arn:aws:s3:::{bucket}/output/de/a.vtt")
    ]
    unused = {(u.principal, u.action, u.resource) for u in report.unused}
    assert (role, "s3:PutObject", f"arn:aws:s3:::{bucket}/failed/*") in unused
    assert (role, "s3:PutObject", f"arn:aws:s3:::{bucket}/batches/*") not in unused
    assert all(not u.action.startswith(("logs:", "xray:")) for u in report.unused)


# --- resource types from the IAM reference -------------------------------------------------------

COMPREHEND = f"arn:aws:comprehend:{REGION}:{ACCOUNT}"


def test_starting_a_classification_job_is_authorized_on_the_job_and_the_classifier() -> None:
    classifier = f"{COMPREHEND}:document-classifier/cml/version/round-2"
    needed = _needed(
        "comprehend",
        "StartDocumentClassificationJob",
        DocumentClassifierArn=classifier,
        DataAccessRoleArn=DATA_ROLE,
        InputDataConfig={"S3Uri": "s3://b/in/"},
    )
    assert needed == [
        Authorization("comprehend:StartDocumentClassificationJob", classifier),
        Authorization(
            "comprehend:StartDocumentClassificationJob",
            f"{COMPREHEND}:document-classification-job/*",
        ),
        Authorization(
            "iam:PassRole", DATA_ROLE, (("iam:PassedToService", "comprehend.amazonaws.com"),)
        ),
    ]


def test_describing_a_classification_job_is_authorized_on_that_job() -> None:
    assert _needed("comprehend", "DescribeDocumentClassificationJob", JobId="abc123") == [
        Authorization(
            "comprehend:DescribeDocumentClassificationJob",
            f"{COMPREHEND}:document-classification-job/abc123",
        )
    ]


def test_the_old_job_grant_denies_every_evaluation_job() -> None:
    from localcloud.core.policies import Decision, Statement, evaluate

    old = Statement.parse(
        {
            "Effect": "Allow",
            "Action": "comprehend:StartDocumentClassificationJob",
            "Resource": [
                f"{COMPREHEND}:document-classifier/cml/version/*",
                f"{COMPREHEND}:document-classifier-job/*",
            ],
        }
    )
    needed = _needed(
        "comprehend",
        "StartDocumentClassificationJob",
        DocumentClassifierArn=f"{COMPREHEND}:document-classifier/cml/version/r1",
    )
    decisions = [evaluate([old], n.action, n.resource, {})[0] for n in needed]
    assert decisions == [Decision.ALLOW, Decision.NOT_ALLOWED]


def test_a_classifier_endpoint_is_authorized_on_the_endpoint_and_its_model_only() -> None:
    model = f"{COMPREHEND}:document-classifier/cml/version/r1"
    needed = _needed(
        "comprehend", "CreateEndpoint", EndpointName="live", ModelArn=model, DesiredInferenceUnits=1
    )
    assert sorted(a.resource for a in needed) == [
        f"{COMPREHEND}:document-classifier-endpoint/live",
        model,
    ]


def test_a_classifier_version_is_created_under_its_versioned_arn() -> None:
    needed = _needed(
        "comprehend", "CreateDocumentClassifier", DocumentClassifierName="cml", VersionName="r2"
    )
    assert [a.resource for a in needed] == [f"{COMPREHEND}:document-classifier/cml/version/r2"]


def test_a_batch_write_is_authorized_on_every_table_it_writes() -> None:
    needed = _needed("dynamodb", "BatchWriteItem", RequestItems={"a": [], "b": []})
    assert [a.resource for a in needed] == [
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/a",
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/b",
    ]


def test_creating_a_sagemaker_resource_with_tags_also_needs_add_tags() -> None:
    needed = _needed(
        "sagemaker",
        "CreateModel",
        ModelName="Ticket-Model",
        Tags=[{"Key": "stack", "Value": "x"}],
    )
    model = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/ticket-model"
    assert needed == [
        Authorization("sagemaker:CreateModel", model),
        Authorization("sagemaker:AddTags", model),
    ]


def test_translating_with_a_terminology_is_also_authorized_on_the_terminology() -> None:
    needed = _needed("translate", "TranslateText", Text="Hi", TerminologyNames=["glossary"])
    assert [a.resource for a in needed] == [
        f"arn:aws:translate:{REGION}:{ACCOUNT}:terminology/glossary"
    ]


def test_an_operation_without_an_iam_action_is_an_error_not_a_guess() -> None:
    from localcloud.core.iam_check import NoIamActionError

    with pytest.raises(NoIamActionError, match="s3:SelectObjectContentz"):
        _needed("s3", "SelectObjectContentz", Bucket=BUCKET, Key="a")


@pytest.mark.synth
def test_the_local_cloud_denies_what_the_old_lifecycle_grant_denied(
    assembly_dir: Path, tmp_path: Path
) -> None:
    """Evaluation jobs are `document-classification-job` resources: a role granted
    `document-classifier-job/*` is refused, with Comprehend's AccessDeniedException."""
    from localcloud.cloud import LocalCloud
    from localcloud.core.policies import Statement

    with LocalCloud(assembly_dir, work_dir=tmp_path / "localcloud") as cloud:
        stack = cloud.deploy("ComprehendModelLifecycle-test")
        (role,) = [
            state.attributes["Arn"]
            for logical_id, state in stack.resources_of_type("AWS::IAM::Role").items()
            if logical_id.startswith("WorkflowRole")
        ]
        comprehend = cloud.client_as(role, "comprehend")
        # The stack's grant: IAM allows it, so Comprehend itself answers.
        with pytest.raises(ClientError) as answered:
            comprehend.describe_document_classification_job(JobId="0123456789abcdef")
        assert answered.value.response["Error"]["Code"] == "JobNotFoundException"

        policy = cloud.role_policies[role]
        policy.statements = [
            Statement.parse(
                {
                    "Effect": "Allow",
                    "Action": "comprehend:DescribeDocumentClassificationJob",
                    "Resource": f"arn:aws:comprehend:{REGION}:{ACCOUNT}:document-classifier-job/*",
                }
            )
        ]
        with pytest.raises(ClientError) as refused:
            comprehend.describe_document_classification_job(JobId="0123456789abcdef")
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
        assert cloud.enforcer.denied[-1].resource.endswith(
            ":document-classification-job/0123456789abcdef"
        )
