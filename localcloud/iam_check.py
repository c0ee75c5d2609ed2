"""The least-privilege check: every recorded AWS call against its principal's IAM policies.

For each call a function, state machine or service role made on the local cloud, derive the IAM
actions and resource ARNs AWS authorizes it with (a CopyObject needs s3:GetObject on the source
and s3:PutObject on the target; a versioned GetObject needs s3:GetObjectVersion; handing a role
to a service needs iam:PassRole), and evaluate them against the identity policies attached to
that principal's role in the deployed template. The report lists every call that would be
denied, and every granted action/resource pair that no call used.

Not evaluated: resource-based policies (bucket, queue and topic policies), permission
boundaries, SCPs and session policies; AWS managed policies (their documents are not in the
template: calls under them are reported as unverifiable, never as allowed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import botocore.session

from localcloud.identity import RecordedCall
from localcloud.policies import Decision, Statement, evaluate, statements_of

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

# Permissions used by AWS itself on the principal's behalf, not by the code under test:
# the Lambda runtime writes logs, X-Ray receives traces, Step Functions delivers logs.
SERVICE_SIDE_PREFIXES = ("logs:", "xray:")
ROLE_PARAMETERS = ("RoleArn", "DataAccessRoleArn", "ExecutionRoleArn", "ServiceRoleArn")
# S3 operations authorized by an action of another name (Service Authorization Reference).
S3_OBJECT_ACTIONS = {
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
    "GetObjectTagging": "s3:GetObjectTagging",
    "PutObjectTagging": "s3:PutObjectTagging",
    "DeleteObjectTagging": "s3:DeleteObjectTagging",
    "GetObjectAcl": "s3:GetObjectAcl",
    "PutObjectAcl": "s3:PutObjectAcl",
    "GetObjectAttributes": "s3:GetObject",
}
S3_BUCKET_ACTIONS = {
    "HeadBucket": "s3:ListBucket",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
}
SQS_BATCH_ACTIONS = {
    "DeleteMessageBatch": "DeleteMessage",
    "SendMessageBatch": "SendMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
PASSED_TO = {
    "translate": "translate.amazonaws.com",
    "comprehend": "comprehend.amazonaws.com",
    "sagemaker": "sagemaker.amazonaws.com",
    "glue": "glue.amazonaws.com",
    "firehose": "firehose.amazonaws.com",
    "stepfunctions": "states.amazonaws.com",
    "events": "events.amazonaws.com",
    "rekognition": "rekognition.amazonaws.com",
}


@dataclass(frozen=True)
class Authorization:
    """One IAM authorization a call needs."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()


@dataclass
class PrincipalPolicy:
    role_arn: str
    logical_id: str
    stack: str
    statements: list[Statement] = field(default_factory=list)
    managed_policies: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DeniedCall:
    principal: str
    operation: str
    action: str
    resource: str


@dataclass(frozen=True)
class UnusedGrant:
    principal: str
    action: str
    resource: str
    policy: str


@dataclass
class IamReport:
    checked_calls: int = 0
    denied: list[DeniedCall] = field(default_factory=list)
    unverifiable: list[DeniedCall] = field(default_factory=list)
    unused: list[UnusedGrant] = field(default_factory=list)
    principals: list[str] = field(default_factory=list)

    def format(self) -> str:
        lines = [f"{self.checked_calls} calls by {len(self.principals)} principals checked"]
        for d in self.denied:
            lines.append(f"DENIED  {_short(d.principal)} {d.operation}: {d.action} on {d.resource}")
        for d in self.unverifiable:
            lines.append(f"UNVERIFIED {_short(d.principal)} {d.action} on {d.resource}")
        for u in self.unused:
            lines.append(f"unused  {_short(u.principal)} {u.action} on {u.resource}")
        return "\n".join(lines)


def _short(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


@cache
def _signing_name(service: str) -> str:
    model = botocore.session.get_session().get_service_model(service)
    return str(model.metadata.get("signingName") or model.metadata["endpointPrefix"])


def _queue_arn(url: str, region: str, account: str) -> str:
    parts = urlparse(url).path.strip("/").split("/")
    return f"arn:aws:sqs:{region}:{parts[-2] if len(parts) > 1 else account}:{parts[-1]}"


def _function_arn(name: str, region: str, account: str) -> str:
    if name.startswith("arn:"):
        return ":".join(name.split(":")[:7])
    return f"arn:aws:lambda:{region}:{account}:function:{name}"


def authorizations(call: RecordedCall, region: str, account: str) -> list[Authorization]:
    """What AWS authorizes a call with (Service Authorization Reference)."""
    p = call.params
    op = call.operation
    prefix = _signing_name(call.service)
    needed: list[Authorization] = []
    if call.service == "s3":
        bucket = f"arn:aws:s3:::{p.get('Bucket', '')}"
        obj = f"{bucket}/{p.get('Key', '')}"
        versioned = "Version" if p.get("VersionId") else ""
        if op in ("GetObject", "HeadObject"):
            needed.append(Authorization(f"s3:GetObject{versioned}", obj))
        elif op == "PutObject":
            needed.append(Authorization("s3:PutObject", obj))
        elif op == "CopyObject":
            source = p.get("CopySource")
            if isinstance(source, dict):
                src = f"arn:aws:s3:::{source['Bucket']}/{source['Key']}"
                src_version = "Version" if source.get("VersionId") else ""
            else:  # botocore has already encoded it as "bucket/key?versionId=..."
                path, _, query = str(source).partition("?")
                src = f"arn:aws:s3:::{unquote(path)}"
                src_version = "Version" if "versionId=" in query else ""
            needed.append(Authorization(f"s3:GetObject{src_version}", src))
            needed.append(Authorization("s3:PutObject", obj))
        elif op in S3_OBJECT_ACTIONS:
            needed.append(Authorization(S3_OBJECT_ACTIONS[op], obj))
        elif op == "DeleteObject":
            needed.append(Authorization(f"s3:DeleteObject{versioned}", obj))
        elif op == "DeleteObjects":
            for item in p.get("Delete", {}).get("Objects", []):
                kind = "Version" if item.get("VersionId") else ""
                needed.append(Authorization(f"s3:DeleteObject{kind}", f"{bucket}/{item['Key']}"))
        elif op in ("ListObjectsV2", "ListObjects"):
            needed.append(
                Authorization("s3:ListBucket", bucket, (("s3:prefix", p.get("Prefix", "")),))
            )
        elif op == "ListObjectVersions":
            needed.append(
                Authorization(
                    "s3:ListBucketVersions", bucket, (("s3:prefix", p.get("Prefix", "")),)
                )
            )
        else:
            needed.append(Authorization(S3_BUCKET_ACTIONS.get(op, f"s3:{op}"), bucket))
    elif call.service == "sqs":
        url = p.get("QueueUrl")
        resource = (
            _queue_arn(url, region, account)
            if url
            else f"arn:aws:sqs:{region}:{account}:{p.get('QueueName', '*')}"
        )
        action = SQS_BATCH_ACTIONS.get(op, op)
        needed.append(Authorization(f"sqs:{action}", resource))
    elif call.service == "sns":
        needed.append(Authorization(f"sns:{op}", p.get("TopicArn") or p.get("TargetArn") or "*"))
    elif call.service == "stepfunctions":
        resource = p.get("stateMachineArn") or p.get("executionArn") or "*"
        needed.append(Authorization(f"states:{op}", resource))
    elif call.service == "lambda":
        if op == "Invoke":
            needed.append(
                Authorization(
                    "lambda:InvokeFunction", _function_arn(p["FunctionName"], region, account)
                )
            )
        elif "UUID" in p:
            needed.append(
                Authorization(
                    f"lambda:{op}",
                    f"arn:aws:lambda:{region}:{account}:event-source-mapping:{p['UUID']}",
                )
            )
        elif "FunctionName" in p:
            needed.append(
                Authorization(f"lambda:{op}", _function_arn(p["FunctionName"], region, account))
            )
        else:
            needed.append(Authorization(f"lambda:{op}", "*"))
    elif call.service == "dynamodb":
        tables = [p["TableName"]] if "TableName" in p else list(p.get("RequestItems", {}))
        for table in tables or ["*"]:
            needed.append(
                Authorization(
                    f"dynamodb:{op}", f"arn:aws:dynamodb:{region}:{account}:table/{table}"
                )
            )
    elif call.service == "comprehend":
        needed += _comprehend(op, p, f"arn:aws:comprehend:{region}:{account}")
    elif call.service == "rekognition":
        arn = p.get("ProjectVersionArn") or p.get("ProjectArn") or "*"
        needed.append(Authorization(f"rekognition:{op}", arn))
    elif call.service == "ssm" and op == "GetParameters":
        for name in p.get("Names", []):
            needed.append(
                Authorization(
                    "ssm:GetParameters",
                    f"arn:aws:ssm:{region}:{account}:parameter/{str(name).lstrip('/')}",
                )
            )
    elif call.service == "firehose" and "DeliveryStreamName" in p:
        stream = f"arn:aws:firehose:{region}:{account}:deliverystream/{p['DeliveryStreamName']}"
        needed.append(Authorization(f"firehose:{op}", stream))
    elif call.service == "secretsmanager" and "SecretId" in p:
        needed.append(Authorization(f"secretsmanager:{op}", str(p["SecretId"])))
    elif call.service == "redshift-data" and op == "ExecuteStatement":
        from localcloud.engines.redshift import TARGET_ARNS

        target = p.get("WorkgroupName") or p.get("ClusterIdentifier") or "*"
        needed.append(Authorization("redshift-data:ExecuteStatement", TARGET_ARNS.get(target, "*")))
    elif call.service in ("sagemaker", "sagemaker-a2i-runtime") and op in SAGEMAKER_REVIEW:
        needed.append(Authorization(f"sagemaker:{op}", _sagemaker_review(op, p, region, account)))
    elif call.service in ("sagemaker", "sagemaker-runtime"):
        needed += _sagemaker(op, p, f"arn:aws:sagemaker:{region}:{account}")
    elif call.service == "glue":
        needed += _glue(op, p, f"arn:aws:glue:{region}:{account}")
    elif call.service == "ssm" and "Name" in p:
        name = str(p["Name"]).lstrip("/")
        needed.append(
            Authorization(f"ssm:{op}", f"arn:aws:ssm:{region}:{account}:parameter/{name}")
        )
    else:
        needed.append(Authorization(f"{prefix}:{op}", "*"))
    for parameter in ROLE_PARAMETERS:
        role = p.get(parameter)
        if isinstance(role, str) and role.startswith("arn:aws:iam::"):
            passed_to = PASSED_TO.get(call.service, f"{prefix}.amazonaws.com")
            needed.append(
                Authorization("iam:PassRole", role, (("iam:PassedToService", passed_to),))
            )
    return needed


# Amazon A2I: the resource each call is authorized on (Service Authorization Reference).
SAGEMAKER_REVIEW = {
    "StartHumanLoop": "flow-definition",
    "DescribeHumanLoop": "human-loop",
    "StopHumanLoop": "human-loop",
    "DeleteHumanLoop": "human-loop",
    "CreateFlowDefinition": "flow-definition",
    "DescribeFlowDefinition": "flow-definition",
    "DeleteFlowDefinition": "flow-definition",
    "CreateHumanTaskUi": "human-task-ui",
    "DescribeHumanTaskUi": "human-task-ui",
    "DeleteHumanTaskUi": "human-task-ui",
}


def _sagemaker_review(op: str, p: dict[str, Any], region: str, account: str) -> str:
    if op == "StartHumanLoop":
        return str(p["FlowDefinitionArn"])
    kind = SAGEMAKER_REVIEW[op]
    name = p.get("HumanLoopName") or p.get("FlowDefinitionName") or p.get("HumanTaskUiName")
    return f"arn:aws:sagemaker:{region}:{account}:{kind}/{name}"


def _comprehend(op: str, p: dict[str, Any], base: str) -> list[Authorization]:
    """Comprehend custom classification: each request names the classifier, job or endpoint
    it acts on; a job not started yet is `document-classifier-job/*`."""
    resources: list[str] = []
    if op == "CreateDocumentClassifier":
        name = f"{base}:document-classifier/{p['DocumentClassifierName']}"
        resources.append(f"{name}/version/{p['VersionName']}" if p.get("VersionName") else name)
    if op == "CreateEndpoint":
        resources.append(f"{base}:document-classifier-endpoint/{p['EndpointName']}")
    for key in ("DocumentClassifierArn", "ModelArn", "DesiredModelArn", "EndpointArn"):
        if key in p:
            resources.append(str(p[key]))
    if op == "StartDocumentClassificationJob":
        resources.append(f"{base}:document-classifier-job/*")
    if "JobId" in p:
        resources.append(f"{base}:document-classifier-job/{p['JobId']}")
    return [Authorization(f"comprehend:{op}", r) for r in resources or ["*"]]


SAGEMAKER_RESOURCES = {
    "TrainingJobName": "training-job",
    "ModelName": "model",
    "TransformJobName": "transform-job",
    "EndpointConfigName": "endpoint-config",
    "EndpointName": "endpoint",
}


def _sagemaker(op: str, p: dict[str, Any], base: str) -> list[Authorization]:
    """SageMaker authorizes on the resources a request names (names lower-cased in ARNs):
    CreateEndpoint and UpdateEndpoint on the endpoint and its config; a transform job or an
    endpoint config only on itself (Service Authorization Reference)."""
    resources = []
    for member, kind in SAGEMAKER_RESOURCES.items():
        if member not in p:
            continue
        if member == "ModelName" and op in ("CreateTransformJob", "CreateEndpointConfig"):
            continue
        if member == "EndpointConfigName" and op in ("DescribeEndpoint", "DeleteEndpoint"):
            continue
        resources.append(f"{base}:{kind}/{str(p[member]).lower()}")
    return [Authorization(f"sagemaker:{op}", r) for r in resources or ["*"]]


def _glue(op: str, p: dict[str, Any], base: str) -> list[Authorization]:
    """Glue authorizes workflow-run calls on the workflow, job calls on the job."""
    if "Workflow" in op and "Name" in p:
        return [Authorization(f"glue:{op}", f"{base}:workflow/{p['Name']}")]
    if "JobName" in p:
        return [Authorization(f"glue:{op}", f"{base}:job/{p['JobName']}")]
    if "Trigger" in op and "Name" in p:
        return [Authorization(f"glue:{op}", f"{base}:trigger/{p['Name']}")]
    return [Authorization(f"glue:{op}", "*")]


def principal_policies(cloud: LocalCloud) -> dict[str, PrincipalPolicy]:
    """Every role of every deployed stack, with the statements attached to it."""
    policies: dict[str, PrincipalPolicy] = {}
    by_name: dict[str, PrincipalPolicy] = {}
    for stack in cloud.stacks.values():
        for logical_id, state in stack.resources_of_type("AWS::IAM::Role").items():
            policy = PrincipalPolicy(state.attributes["Arn"], logical_id, stack.name)
            for inline in state.properties.get("Policies", []):
                policy.statements += statements_of(
                    inline["PolicyDocument"], f"{logical_id}/{inline['PolicyName']}"
                )
            policy.managed_policies = list(state.properties.get("ManagedPolicyArns", []))
            policies[policy.role_arn] = policy
            by_name[state.ref] = policy
        for logical_id, state in stack.resources_of_type("AWS::IAM::Policy").items():
            for role_name in state.properties.get("Roles", []):
                if role_name in by_name:
                    by_name[role_name].statements += statements_of(
                        state.properties["PolicyDocument"], logical_id
                    )
    return policies


def check(cloud: LocalCloud, calls: Iterable[RecordedCall] | None = None) -> IamReport:
    policies = principal_policies(cloud)
    report = IamReport()
    used: set[tuple[str, str, str, str]] = set()  # role, statement source, action, resource
    seen_principals: set[str] = set()
    for call in calls if calls is not None else cloud.recorder.calls():
        policy = policies.get(call.principal or "")
        if policy is None:
            continue  # the person using the account, or the local deployer
        seen_principals.add(policy.role_arn)
        report.checked_calls += 1
        for needed in authorizations(call, cloud.region, cloud.account_id):
            decision, allowing = evaluate(
                policy.statements, needed.action, needed.resource, dict(needed.context)
            )
            if decision is Decision.ALLOW:
                for statement in allowing:
                    for action in statement.actions:
                        for resource in statement.resources:
                            if _grants(action, resource, needed):
                                used.add((policy.role_arn, statement.source, action, resource))
                continue
            denied = DeniedCall(
                call.principal or "", call.operation, needed.action, needed.resource
            )
            if policy.managed_policies and decision is Decision.NOT_ALLOWED:
                report.unverifiable.append(denied)
            else:
                report.denied.append(denied)
    for role_arn in sorted(seen_principals):
        policy = policies[role_arn]
        for statement in policy.statements:
            if statement.effect != "Allow":
                continue
            for action in statement.actions:
                if action.startswith(SERVICE_SIDE_PREFIXES):
                    continue
                for resource in statement.resources:
                    if (role_arn, statement.source, action, resource) not in used:
                        report.unused.append(
                            UnusedGrant(role_arn, action, resource, statement.source)
                        )
    report.principals = sorted(seen_principals)
    report.denied = _unique(report.denied)
    report.unverifiable = _unique(report.unverifiable)
    return report


def _grants(action: str, resource: str, needed: Authorization) -> bool:
    single = Statement("Allow", (action,), (), (resource,), (), None)
    return single.applies(needed.action, needed.resource, {})


def _unique(items: list[Any]) -> list[Any]:
    return list(dict.fromkeys(items))
