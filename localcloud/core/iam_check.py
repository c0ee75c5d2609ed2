"""The least-privilege check: every recorded AWS call against its principal's IAM policies.

For each call a function, state machine or service role made on the local cloud, derive the IAM
authorizations AWS evaluates it with, and evaluate them against the identity policies attached to
that principal's role in the deployed template. The action and the resource types it is
authorized on come from the IAM reference (`localcloud.core.iam_database`): a request is authorized
on every resource type of its action that it names (Comprehend's StartDocumentClassificationJob:
the job and the classifier), by ARN or by the values the type's ARN format takes; a required
resource the request cannot name yet (a job before it starts) is authorized with `*` for what is
unknown. What only the request knows is read from it here: S3's object and version actions
(a CopyObject needs s3:GetObject on the source and s3:PutObject on the target), the names
services give resources in their parameters, and the roles handed to a service (iam:PassRole).
The report lists every call that would be denied, and every granted action/resource pair that no
call used.

Not evaluated here: resource-based policies (the delivery between services evaluates them),
permission boundaries, SCPs and session policies; AWS managed policies (their documents are not
in the template: calls under them are reported as unverifiable, never as allowed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import botocore.session

from localcloud.core.iam_database import Action, ActionResource, database
from localcloud.core.identity import RecordedCall
from localcloud.core.policies import Decision, Statement, evaluate, statements_of

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud

# Permissions used by AWS itself on the principal's behalf, not by the code under test:
# the Lambda runtime writes logs, X-Ray receives traces, Step Functions delivers logs.
SERVICE_SIDE_PREFIXES = ("logs:", "xray:")
# API operations whose IAM action has another name. S3: "Required permissions for Amazon S3 API
# operations" (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations.html, each
# operation's "Permissions" section); SQS: a batch action needs the permission of its single
# action (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/
# sqs-api-permissions-reference.html); Lambda: Invoke is lambda:InvokeFunction. Every action
# named here must exist in the IAM database (tests/localcloud/test_iam_check.py).
OPERATION_ACTIONS = {
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "UploadPartCopy"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("s3", "ListParts"): "s3:ListMultipartUploadParts",
    ("s3", "ListMultipartUploads"): "s3:ListBucketMultipartUploads",
    ("s3", "GetBucketNotificationConfiguration"): "s3:GetBucketNotification",
    ("s3", "PutBucketNotificationConfiguration"): "s3:PutBucketNotification",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "PutBucketLifecycleConfiguration"): "s3:PutLifecycleConfiguration",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "sqs:ChangeMessageVisibility",
    ("lambda", "Invoke"): "lambda:InvokeFunction",
}
# S3 reads and deletes of one version are their own actions (the same reference).
S3_VERSIONED_ACTIONS = {
    "s3:GetObject": "s3:GetObjectVersion",
    "s3:DeleteObject": "s3:DeleteObjectVersion",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
    "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
}
# Services whose role parameters are not handed to the service (nothing is passed).
NO_PASS_ROLE_SERVICES = ("sts", "iam")


class NoIamActionError(LookupError):
    """An API operation for which the IAM database knows no action."""


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


def _action(service: str, operation: str) -> Action:
    """The IAM action of an API operation: `<signing name>:<operation>` where the database
    knows it, else the documented exception."""
    db = database()
    name = OPERATION_ACTIONS.get((service, operation)) or f"{_signing_name(service)}:{operation}"
    action = db.action(name)
    if action is None:
        raise NoIamActionError(f"no IAM action for {service}:{operation} (tried {name})")
    return action


# What a request names: the values of the ARN formats' variables ---------------------------------
Values = dict[str, str]
TYPE_KEY = "__resource_type__"  # in a set of values: the one resource type they are for


def _queue_values(url: str) -> Values:
    parts = urlparse(url).path.strip("/").split("/")
    values = {"QueueName": parts[-1]}
    if len(parts) > 1:
        values["Account"] = parts[-2]
    return values


def _function_name(name: str) -> str:
    """Lambda takes a name, a partial ARN or an ARN, qualified or not; IAM authorizes the
    function's unqualified ARN."""
    if name.startswith("arn:"):
        return name.split(":")[6]
    if ":function:" in name or name.count(":") >= 2:  # account:function:name[:qualifier]
        return name.split(":")[2]
    return name.split(":", maxsplit=1)[0]


def _request_values(call: RecordedCall, action: Action) -> list[Values]:
    """One set of variable values per resource the request names (several for batch
    requests over tables or parameters). Parameters carry the values under the variables'
    own names (`TableName`, `FunctionName`, `EndpointName`, `JobId`, `UUID`, ...) except
    where a service names them otherwise."""
    p = call.params
    base: Values = {k: v for k, v in p.items() if isinstance(v, str) and not v.startswith("arn:")}
    service = call.service
    if service == "sqs" and "QueueUrl" in p:
        base.update(_queue_values(str(p["QueueUrl"])))
    elif service == "lambda" and "FunctionName" in p:
        base["FunctionName"] = _function_name(str(p["FunctionName"]))
    elif service == "ssm":
        names = p.get("Names") or ([p["Name"]] if "Name" in p else [])
        return [{**base, "ParameterNameWithoutLeadingSlash": str(n).lstrip("/")} for n in names]
    elif service == "dynamodb" and "RequestItems" in p:
        return [{**base, "TableName": str(table)} for table in p["RequestItems"]]
    elif service == "glue" and "Name" in p:
        # Glue's workflow, trigger and crawler operations take the resource's name as `Name`.
        for resource in action.resources:
            for variable in resource.type.variables:
                if variable.endswith("Name"):
                    base.setdefault(variable, str(p["Name"]))
    elif service == "comprehend":
        if p.get("VersionName") and "DocumentClassifierName" in p:
            # A classifier version is authorized on `document-classifier/<name>/version/<v>`.
            base["DocumentClassifierName"] += f"/version/{p['VersionName']}"
        if "EndpointName" in p:
            model = str(p.get("ModelArn", ""))
            kind = "EntityRecognizer" if ":entity-recognizer/" in model else "DocumentClassifier"
            base[f"{kind}EndpointName"] = str(p["EndpointName"])
    elif service == "events" and "Name" in p:
        # DescribeRule, EnableRule, DisableRule, PutRule, ...: the rule's name as `Name`.
        base.setdefault("RuleName", str(p["Name"]))
    elif service == "redshift-data" and "ClusterIdentifier" in p:
        base["ClusterName"] = str(p["ClusterIdentifier"])
    elif service == "translate":
        if "Name" in p:  # GetTerminology, ImportTerminology, ...: the resource's own name
            base["ResourceName"] = str(p["Name"])
        # Both resource types take a `${ResourceName}`; each list names one of them.
        named = [
            {**base, "ResourceName": str(name), TYPE_KEY: kind}
            for kind, key in (
                ("terminology", "TerminologyNames"),
                ("parallel-data", "ParallelDataNames"),
            )
            for name in p.get(key) or []
        ]
        return named or [base]
    elif service.startswith("sagemaker"):
        # SageMaker writes resource names in ARNs in lower case.
        base = {k: v.lower() if k.endswith("Name") else v for k, v in base.items()}
    return [base]


def _arns_named(params: dict[str, Any]) -> list[str]:
    """ARNs passed as top-level parameters (alone or in lists)."""
    found = []
    for value in params.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.startswith("arn:"):
                found.append(item)
    return found


def _resources(
    action: Action, call: RecordedCall, region: str, account: str, extra_arns: list[str]
) -> list[tuple[ActionResource | None, str]]:
    """The resources a call is authorized on: every resource type of the action that the
    request names, by ARN or by the values of the type's ARN format; a required type the
    request cannot name yet (a job not started) with `*` for what is unknown; `*` for actions
    without resource-level permissions."""
    if not action.takes_resources:
        return [(None, "*")]
    arns = _arns_named(call.params) + extra_arns
    if call.service == "lambda" and "FunctionName" in call.params:
        arns = [a for a in arns if a != call.params["FunctionName"]]
    found: list[tuple[ActionResource | None, str]] = []
    for values in _request_values(call, action):
        context = {"Partition": "aws", "Region": region, "Account": account, **values}
        for resource in action.resources:
            if values.get(TYPE_KEY, resource.type.name) != resource.type.name:
                continue
            named = [arn for arn in arns if resource.type.accepts(arn)]
            if named:
                found += [(resource, arn) for arn in named]
            elif resource.type.variables and all(v in context for v in resource.type.variables):
                found.append((resource, resource.type.render(context)))
    required = [r for r in action.resources if r.required]
    if required and not any(resource in required for resource, _ in found):
        # A required resource the request cannot name yet: a job before it starts.
        context = {"Partition": "aws", "Region": region, "Account": account}
        found.append((required[0], required[0].type.render(context)))
    if not found:
        return [(None, "*")]
    return list(dict.fromkeys(found))


def _s3_authorizations(call: RecordedCall) -> list[Authorization]:
    """S3 authorizes a request on the bucket, or on each object it reads or writes; a request
    for one version of an object needs the action's version variant."""
    p = call.params
    bucket = f"arn:aws:s3:::{p.get('Bucket', '')}"
    obj = f"{bucket}/{p.get('Key', '')}"

    def on_object(action: str, arn: str, versioned: bool) -> Authorization:
        name = S3_VERSIONED_ACTIONS.get(action, action) if versioned else action
        if database().action(name) is None:
            raise NoIamActionError(f"{name} is not an IAM action")
        return Authorization(name, arn)

    if call.operation == "CopyObject":
        source = p.get("CopySource")
        if isinstance(source, dict):
            src = f"arn:aws:s3:::{source['Bucket']}/{source['Key']}"
            src_versioned = bool(source.get("VersionId"))
        else:  # botocore has already encoded it as "bucket/key?versionId=..."
            path, _, query = str(source).partition("?")
            src = f"arn:aws:s3:::{unquote(path)}"
            src_versioned = "versionId=" in query
        return [
            on_object("s3:GetObject", src, src_versioned),
            on_object("s3:PutObject", obj, False),
        ]
    if call.operation == "DeleteObjects":
        return [
            on_object("s3:DeleteObject", f"{bucket}/{item['Key']}", bool(item.get("VersionId")))
            for item in p.get("Delete", {}).get("Objects", [])
        ]
    action = _action("s3", call.operation)
    if action.resource_type("object") is not None:
        return [on_object(action.full_name, obj, bool(p.get("VersionId")))]
    context: tuple[tuple[str, str], ...] = ()
    if "s3:prefix" in action.condition_keys:
        context = (("s3:prefix", str(p.get("Prefix", ""))),)
    return [Authorization(action.full_name, bucket, context)]


def _passed_roles(call: RecordedCall) -> list[Authorization]:
    """Handing a role to a service (any role ARN in the request) needs iam:PassRole, with the
    service's principal as `iam:PassedToService`."""
    if call.service in NO_PASS_ROLE_SERVICES:
        return []
    roles: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and re.fullmatch(r"arn:aws[\w-]*:iam::\d{12}:role/.+", value):
            roles.append(value)

    walk(call.params)
    service = f"{_signing_name(call.service)}.amazonaws.com"
    return [
        Authorization("iam:PassRole", role, (("iam:PassedToService", service),))
        for role in dict.fromkeys(roles)
    ]


def _context(
    action: Action, call: RecordedCall, region: str, account: str
) -> tuple[tuple[str, str], ...]:
    """Condition keys the request sets that the project's policies may test."""
    if "lambda:FunctionArn" in action.condition_keys and "FunctionName" in call.params:
        name = _function_name(str(call.params["FunctionName"]))
        return (("lambda:FunctionArn", f"arn:aws:lambda:{region}:{account}:function:{name}"),)
    return ()


def _tagging(
    action: Action, resources: list[tuple[ActionResource | None, str]], call: RecordedCall
) -> list[Authorization]:
    """Creating a resource with tags also needs the tagging action the reference lists as
    dependent (SageMaker's `sagemaker:AddTags`)."""
    if not (call.params.get("Tags") or call.params.get("tags")):
        return []
    needed = []
    for resource, arn in resources:
        dependents = resource.dependent_actions if resource else action.dependent_actions
        for dependent in dependents:
            if "tag" in dependent.lower() and database().action(dependent) is not None:
                needed.append(Authorization(dependent, arn))
    return needed


def authorizations(
    call: RecordedCall, region: str, account: str, named_arns: list[str] | None = None
) -> list[Authorization]:
    """What IAM authorizes a call with: the action and resource types from the IAM database
    (Service Authorization Reference), the resources from the request. `named_arns` are ARNs
    a request names only indirectly (a Redshift workgroup by name: its ARN holds an id)."""
    if call.service == "s3":
        needed = _s3_authorizations(call)
    else:
        action = _action(call.service, call.operation)
        resources = _resources(action, call, region, account, named_arns or [])
        context = _context(action, call, region, account)
        needed = [Authorization(action.full_name, arn, context) for _, arn in resources]
        needed += _tagging(action, resources, call)
    return needed + _passed_roles(call)


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
        named = _named_arns(cloud, call)
        for needed in authorizations(call, cloud.region, cloud.account_id, named):
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


def _named_arns(cloud: Any, call: RecordedCall) -> list[str]:
    """ARNs of resources a request names only by a name the local engine resolves."""
    engine = getattr(cloud, "engines", {}).get(call.service)
    resolve = getattr(engine, "iam_resources", None)
    return list(resolve(call.operation, call.params)) if resolve is not None else []


def _grants(action: str, resource: str, needed: Authorization) -> bool:
    single = Statement("Allow", (action,), (), (resource,), (), None)
    return single.applies(needed.action, needed.resource, {})


def _unique(items: list[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


class Enforcer:
    """Denies, as IAM would, every call a deployed role's policies do not allow: the caller
    gets the service's access-denied error and the call never reaches the service. Calls by
    principals without a role in a deployed stack (the person using the account, the local
    deployer) pass, and so does what only an AWS managed policy could allow (its document is
    not in the template). Each denial is kept in `denied`."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.denied: list[DeniedCall] = []

    def __call__(self, call: RecordedCall, model: Any) -> Any:
        policy = self.cloud.role_policies.get(call.principal or "")
        if policy is None:
            return None
        try:
            needed = authorizations(
                call, self.cloud.region, self.cloud.account_id, _named_arns(self.cloud, call)
            )
        except NoIamActionError:
            return None  # the least-privilege report names it
        for authorization in needed:
            if authorization.action.startswith(SERVICE_SIDE_PREFIXES):
                continue
            decision, _ = evaluate(
                policy.statements,
                authorization.action,
                authorization.resource,
                dict(authorization.context),
            )
            if decision is Decision.ALLOW:
                continue
            if decision is Decision.NOT_ALLOWED and policy.managed_policies:
                continue
            denied = DeniedCall(
                policy.role_arn, call.operation, authorization.action, authorization.resource
            )
            self.denied.append(denied)
            return access_denied(model.service_model, denied, decision)
        return None


def access_denied(service_model: Any, denied: DeniedCall, decision: Decision) -> Any:
    """The (HTTP response, parsed response) pair botocore turns into the service's
    access-denied error: the code the service model names (S3's and SQS's `AccessDenied`,
    most services' `AccessDeniedException`), else AWS's common `AccessDeniedException`
    (https://docs.aws.amazon.com/general/latest/gr/api-retries.html lists it among the
    errors common to all services, HTTP 400), with IAM's message."""
    from botocore.awsrequest import AWSResponse

    code, status = "AccessDeniedException", 400
    for shape in service_model.error_shapes:
        error = shape.metadata.get("error", {})
        name = str(error.get("code") or shape.name)
        if name.startswith("AccessDenied"):
            code, status = name, int(error.get("httpStatusCode", status))
            break
    if service_model.service_name == "s3":
        code, status = "AccessDenied", 403
    reason = (
        "with an explicit deny in an identity-based policy"
        if decision is Decision.DENY
        else f"because no identity-based policy allows the {denied.action} action"
    )
    message = (
        f"User: {denied.principal} is not authorized to perform: {denied.action} on "
        f"resource: {denied.resource} {reason}"
    )
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
    }
    return AWSResponse("https://localcloud.invalid/", status, {}, None), parsed
