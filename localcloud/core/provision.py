"""Creates a stack's resources on moto, one CloudFormation resource type at a time.

moto implements the services' APIs; this module plays CloudFormation's part: it calls those APIs
with each resource's resolved properties, keeps each resource's `Ref` value and attributes, and
registers what only the local cloud runs (Lambda handlers, event wiring). A resource type without
a provisioner here fails the deployment with its name, rather than being silently skipped.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import string
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any

from localcloud.core.assembly import REPO_ROOT
from localcloud.core.runtime import FunctionConfig
from localcloud.core.template import ResourceState, StackContext

if TYPE_CHECKING:
    from localcloud.core.assembly import StackArtifact
    from localcloud.core.cloud import LocalCloud


class NotEmulatedError(RuntimeError):
    """The template uses a resource type the local cloud cannot create."""


@dataclass
class ProvisionRequest:
    logical_id: str
    resource_type: str
    properties: dict[str, Any]
    ctx: StackContext
    cloud: LocalCloud
    artifact: StackArtifact

    def physical_name(self, max_length: int = 64, lower: bool = False, separator: str = "-") -> str:
        return generated_name(self.ctx.stack_name, self.logical_id, max_length, lower, separator)

    def client(self, service: str) -> Any:
        return self.cloud.deployer_client(service)


def generated_name(
    stack_name: str,
    logical_id: str,
    max_length: int = 64,
    lower: bool = False,
    separator: str = "-",
) -> str:
    """A generated name like CloudFormation's: stack, logical id and a unique suffix.

    Deterministic, so the test events under events/ can name a stack's resources."""
    suffix = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).hexdigest()[:12].upper()
    stem = f"{stack_name}{separator}{logical_id}"
    stem = stem[: max_length - len(suffix) - 1]
    name = f"{stem}{separator}{suffix}"
    return name.lower() if lower else name


Provisioner = Callable[[ProvisionRequest], ResourceState]
CUSTOM_RESOURCE = "AWS::CloudFormation::CustomResource"


def provisioner(*resource_types: str) -> Callable[[Provisioner], Provisioner]:
    """Mark a function as what creates `resource_types`; `provisioners_in` collects them."""

    def mark(function: Provisioner) -> Provisioner:
        function.resource_types = resource_types  # type: ignore[attr-defined]
        return function

    return mark


def provisioners_in(*modules: ModuleType) -> Mapping[str, Provisioner]:
    """The resource types the marked functions of `modules` create, each type once."""
    found: dict[str, Provisioner] = {}
    for module in modules:
        for function in vars(module).values():
            for resource_type in getattr(function, "resource_types", ()):
                if resource_type in found:
                    raise ValueError(f"{resource_type} has two provisioners")
                found[resource_type] = function
    return MappingProxyType(found)


def provision(request: ProvisionRequest) -> ResourceState:
    function = request.cloud.provisioner_for(request.resource_type)
    if function is None:
        raise NotEmulatedError(
            f"{request.ctx.stack_name}/{request.logical_id}: the local cloud cannot create "
            f"{request.resource_type} resources"
        )
    state = function(request)
    state.properties = request.properties
    return state


def _state(request: ProvisionRequest, ref: str, **attributes: Any) -> ResourceState:
    return ResourceState(request.logical_id, request.resource_type, ref, dict(attributes))


def _placeholder_zip(note: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("LOCALCLOUD.txt", note)
    return buffer.getvalue()


class StaleAssemblyError(RuntimeError):
    """The assembly's handler code differs from the repository: synthesize again."""


def _asset_dir(request: ProvisionRequest, code: dict[str, Any]) -> Path:
    key = code.get("S3Key")
    asset = request.artifact.asset_for_key(key) if key else None
    if asset is None:
        raise NotEmulatedError(
            f"{request.logical_id}: code {code} is not a file asset of this cloud assembly"
        )
    _check_fresh(asset.source)
    return asset.source


def _check_fresh(asset_dir: Path) -> None:
    """The local cloud runs the synthesized assets; refuse ones older than the sources."""
    shipped = asset_dir / "lambdas"
    if not shipped.is_dir():
        return
    repo = REPO_ROOT / "lambdas"
    for path in shipped.rglob("*.py"):
        original = repo / path.relative_to(shipped)
        if not original.is_file() or original.read_bytes() != path.read_bytes():
            raise StaleAssemblyError(
                f"{path.relative_to(asset_dir)} in {asset_dir.parent.name} differs from the "
                "repository: run `make synth` (or `cdk synth`) so the local cloud runs "
                "the code that deploys"
            )


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# --- metadata -------------------------------------------------------------------------------------
@provisioner("AWS::CDK::Metadata")
def _metadata(request: ProvisionRequest) -> ResourceState:
    return _state(request, request.logical_id)


# --- S3 -------------------------------------------------------------------------------------------
@provisioner("AWS::S3::Bucket")
def _bucket(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    s3 = request.client("s3")
    name = props.get("BucketName") or request.physical_name(63, lower=True)
    s3.create_bucket(Bucket=name)
    if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    encryption = props.get("BucketEncryption")
    if encryption:
        rules = []
        for rule in encryption["ServerSideEncryptionConfiguration"]:
            api_rule = {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
            if "BucketKeyEnabled" in rule:
                api_rule["BucketKeyEnabled"] = rule["BucketKeyEnabled"]
            rules.append(api_rule)
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    block = props.get("PublicAccessBlockConfiguration")
    if block:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=block)
    lifecycle = props.get("LifecycleConfiguration")
    if lifecycle:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": _lifecycle_rules(lifecycle["Rules"])}
        )
    notifications = props.get("NotificationConfiguration")
    if notifications:
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration=_notification_config(notifications)
        )
    arn = f"arn:aws:s3:::{name}"
    return _state(
        request,
        name,
        Arn=arn,
        DomainName=f"{name}.s3.amazonaws.com",
        RegionalDomainName=f"{name}.s3.{request.ctx.region}.amazonaws.com",
        WebsiteURL=f"http://{name}.s3-website-{request.ctx.region}.amazonaws.com",
    )


def _lifecycle_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    converted = []
    for index, rule in enumerate(rules):
        out: dict[str, Any] = {"ID": rule.get("Id", f"rule-{index}"), "Status": rule["Status"]}
        out["Filter"] = {"Prefix": rule.get("Prefix", "")}
        if "ExpirationInDays" in rule:
            out["Expiration"] = {"Days": rule["ExpirationInDays"]}
        if "NoncurrentVersionExpiration" in rule:
            out["NoncurrentVersionExpiration"] = {
                "NoncurrentDays": rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
            }
        if "AbortIncompleteMultipartUpload" in rule:
            out["AbortIncompleteMultipartUpload"] = {
                "DaysAfterInitiation": rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
            }
        converted.append(out)
    return converted


def _notification_config(config: dict[str, Any]) -> dict[str, Any]:
    """Map the AWS::S3::Bucket NotificationConfiguration property to the S3 API's shape."""
    out: dict[str, Any] = {}
    for cfn_key, api_key, target_key, api_target_key in (
        ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
        ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
        ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
    ):
        for entry in config.get(cfn_key, []):
            item: dict[str, Any] = {api_target_key: entry[target_key], "Events": [entry["Event"]]}
            rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules")
            if rules:
                item["Filter"] = {"Key": {"FilterRules": rules}}
            out.setdefault(api_key, []).append(item)
    if "EventBridgeConfiguration" in config:
        out["EventBridgeConfiguration"] = {}
    return out


@provisioner("AWS::S3::BucketPolicy")
def _bucket_policy(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    request.client("s3").put_bucket_policy(
        Bucket=props["Bucket"], Policy=_json(props["PolicyDocument"])
    )
    return _state(request, request.physical_name())


@provisioner("Custom::S3BucketNotifications")
def _bucket_notifications(request: ProvisionRequest) -> ResourceState:
    """aws-cdk-lib configures bucket notifications with a custom resource whose handler calls
    PutBucketNotificationConfiguration; the local cloud makes that call itself."""
    props = request.properties
    request.client("s3").put_bucket_notification_configuration(
        Bucket=props["BucketName"],
        NotificationConfiguration=props["NotificationConfiguration"],  # already the API's shape
    )
    return _state(request, request.physical_name())


# --- SQS / SNS ------------------------------------------------------------------------------------
_QUEUE_ATTRIBUTES = (
    "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled", "FifoQueue",
    "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit",
)  # fmt: skip


@provisioner("AWS::SQS::Queue")
def _queue(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    fifo = bool(props.get("FifoQueue"))
    name = props.get("QueueName") or request.physical_name(80 - (5 if fifo else 0))
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    attributes = {k: str(props[k]).lower() if isinstance(props[k], bool) else str(props[k])
                  for k in _QUEUE_ATTRIBUTES if k in props}  # fmt: skip
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = _json(props["RedrivePolicy"])
    url = request.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = f"arn:aws:sqs:{request.ctx.region}:{request.ctx.account_id}:{name}"
    return _state(request, url, Arn=arn, QueueName=name, QueueUrl=url)


@provisioner("AWS::SQS::QueuePolicy")
def _queue_policy(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    for url in props["Queues"]:
        request.client("sqs").set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": _json(props["PolicyDocument"])}
        )
    return _state(request, request.physical_name())


@provisioner("AWS::SNS::Topic")
def _topic(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    sns = request.client("sns")
    name = props.get("TopicName") or request.physical_name(256)
    attributes = {}
    if "KmsMasterKeyId" in props:
        attributes["KmsMasterKeyId"] = props["KmsMasterKeyId"]
    if props.get("FifoTopic"):
        attributes["FifoTopic"] = "true"
    arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
    for subscription in props.get("Subscription", []):
        sns.subscribe(
            TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"]
        )
    return _state(request, arn, TopicArn=arn, TopicName=name)


@provisioner("AWS::SNS::TopicPolicy")
def _topic_policy(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    for arn in props["Topics"]:
        request.client("sns").set_topic_attributes(
            TopicArn=arn, AttributeName="Policy", AttributeValue=_json(props["PolicyDocument"])
        )
    return _state(request, request.physical_name())


@provisioner("AWS::SNS::Subscription")
def _subscription(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    attributes = {}
    for key in ("FilterPolicy", "RawMessageDelivery", "RedrivePolicy", "FilterPolicyScope"):
        if key in props:
            value = props[key]
            attributes[key] = _json(value) if isinstance(value, dict) else str(value).lower()
    arn = request.client("sns").subscribe(
        TopicArn=props["TopicArn"],
        Protocol=props["Protocol"],
        Endpoint=props["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return _state(request, arn, Arn=arn)


# --- IAM ------------------------------------------------------------------------------------------
@provisioner("AWS::IAM::Role")
def _role(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    iam = request.client("iam")
    name = props.get("RoleName") or request.physical_name(64)
    role = iam.create_role(
        RoleName=name,
        Path=props.get("Path", "/"),
        AssumeRolePolicyDocument=_json(props["AssumeRolePolicyDocument"]),
        Description=props.get("Description", ""),
    )["Role"]
    for policy in props.get("Policies", []):
        iam.put_role_policy(
            RoleName=name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=_json(policy["PolicyDocument"]),
        )
    for managed in props.get("ManagedPolicyArns", []):
        request.cloud.managed_policy_attachments.setdefault(role["Arn"], []).append(managed)
    return _state(request, name, Arn=role["Arn"], RoleId=role["RoleId"])


@provisioner("AWS::IAM::Policy")
def _policy(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    for role in props.get("Roles", []):
        request.client("iam").put_role_policy(
            RoleName=role,
            PolicyName=props["PolicyName"],
            PolicyDocument=_json(props["PolicyDocument"]),
        )
    return _state(request, request.physical_name())


# --- Logs / CloudWatch ----------------------------------------------------------------------------
@provisioner("AWS::Logs::LogGroup")
def _log_group(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    name = props.get("LogGroupName") or request.physical_name(512)
    logs = request.client("logs")
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=props["RetentionInDays"])
    arn = f"arn:aws:logs:{request.ctx.region}:{request.ctx.account_id}:log-group:{name}:*"
    return _state(request, name, Arn=arn)


# PutMetricAlarm takes the alarm's properties under the same names.
_ALARM_PARAMETERS = (
    "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions",
    "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
    "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
    "TreatMissingData", "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId",
)  # fmt: skip


@provisioner("AWS::CloudWatch::Alarm")
def _alarm(request: ProvisionRequest) -> ResourceState:
    """Created in moto's CloudWatch (so DescribeAlarms lists it) and evaluated on the local
    clock by `localcloud.core.alarms`, which also runs its actions."""
    props = request.properties
    name = props.get("AlarmName") or request.physical_name(255)
    arguments = {key: props[key] for key in _ALARM_PARAMETERS if key in props}
    request.client("cloudwatch").put_metric_alarm(AlarmName=name, **arguments)
    request.cloud.alarms[name] = props
    arn = f"arn:aws:cloudwatch:{request.ctx.region}:{request.ctx.account_id}:alarm:{name}"
    request.cloud.delivery.alarms.register(name, arn, props)
    return _state(request, name, Arn=arn)


# --- Lambda ---------------------------------------------------------------------------------------
@provisioner("AWS::Lambda::LayerVersion")
def _layer(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    name = props.get("LayerName") or request.physical_name(64)
    source = _asset_dir(request, props["Content"])
    arn = request.client("lambda").publish_layer_version(
        LayerName=name,
        Content={"ZipFile": _placeholder_zip(f"layer contents are in {source}")},
        CompatibleRuntimes=props.get("CompatibleRuntimes", []),
    )["LayerVersionArn"]
    return _state(request, arn, LayerVersionArn=arn)


@provisioner("AWS::Lambda::Function")
def _function(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    name = props.get("FunctionName") or request.physical_name(64)
    environment = props.get("Environment", {}).get("Variables", {})
    code = props["Code"]
    # Inline code (ZipFile) belongs to aws-cdk-lib's own custom resource handlers, whose work
    # the local cloud performs itself (see Custom::S3BucketNotifications); it is not run.
    inline = "ZipFile" in code
    code_dir = Path("/inline-code-not-run") if inline else _asset_dir(request, code)
    created = request.client("lambda").create_function(
        FunctionName=name,
        Runtime=props.get("Runtime", "python3.14"),
        Role=props["Role"],
        Handler=props.get("Handler", "index.handler"),
        Code={"ZipFile": _placeholder_zip(f"function code is in {code_dir}")},
        Timeout=int(props.get("Timeout", 3)),
        MemorySize=int(props.get("MemorySize", 128)),
        Environment={"Variables": {k: str(v) for k, v in environment.items()}},
        Architectures=props.get("Architectures", ["x86_64"]),
    )
    logging_config = props.get("LoggingConfig", {})
    log_group = logging_config.get("LogGroup", f"/aws/lambda/{name}")
    config = FunctionConfig(
        name=name,
        arn=created["FunctionArn"],
        handler=props["Handler"],
        role_arn=props["Role"],
        code_dir=code_dir,
        environment={k: str(v) for k, v in environment.items()},
        timeout_seconds=int(props.get("Timeout", 3)),
        memory_mb=int(props.get("MemorySize", 128)),
        log_group=log_group,
        stack_name=request.ctx.stack_name,
        logical_id=request.logical_id,
        dead_letter_target=props.get("DeadLetterConfig", {}).get("TargetArn"),
        reserved_concurrency=props.get("ReservedConcurrentExecutions"),
    )
    if not inline:
        request.cloud.runtime.register(config)
    return _state(request, name, Arn=created["FunctionArn"])


@provisioner("AWS::Lambda::EventSourceMapping")
def _event_source_mapping(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    arguments: dict[str, Any] = {
        "FunctionName": props["FunctionName"],
        "EventSourceArn": props["EventSourceArn"],
        "Enabled": bool(props.get("Enabled", True)),
    }
    for key in ("BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes",
                "ScalingConfig", "FilterCriteria"):  # fmt: skip
        if key in props:
            arguments[key] = props[key]
    mapping = request.client("lambda").create_event_source_mapping(**arguments)
    return _state(request, mapping["UUID"], Id=mapping["UUID"])


@provisioner("AWS::Lambda::Permission")
def _permission(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    statement_id = request.physical_name(100)
    arguments = {
        "FunctionName": props["FunctionName"],
        "StatementId": statement_id,
        "Action": props["Action"],
        "Principal": props["Principal"],
    }
    for key in ("SourceArn", "SourceAccount"):
        if key in props:
            arguments[key] = props[key]
    request.client("lambda").add_permission(**arguments)
    return _state(request, statement_id)


@provisioner("AWS::Lambda::EventInvokeConfig")
def _event_invoke_config(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    config = request.cloud.runtime.resolve(props["FunctionName"])
    destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    config.on_failure_destination = destination
    request.cloud.async_settings[config.name] = {
        "MaximumRetryAttempts": int(props.get("MaximumRetryAttempts", 2)),
        "MaximumEventAgeInSeconds": int(props.get("MaximumEventAgeInSeconds", 21600)),
    }
    return _state(request, request.physical_name())


# --- Step Functions -------------------------------------------------------------------------------
@provisioner("AWS::StepFunctions::StateMachine")
def _state_machine(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    name = props.get("StateMachineName") or request.physical_name(80)
    if "Definition" in props:
        definition = json.dumps(props["Definition"])
    else:
        definition = props["DefinitionString"]
    for key, value in props.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    arn = request.client("stepfunctions").create_state_machine(
        name=name,
        definition=definition,
        roleArn=props["RoleArn"],
        type=props.get("StateMachineType", "STANDARD"),
    )["stateMachineArn"]
    return _state(request, arn, Arn=arn, Name=name)


# --- EventBridge --------------------------------------------------------------------------------
@provisioner("AWS::Events::Rule")
def _rule(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    events = request.client("events")
    name = props.get("Name") or request.physical_name(64)
    arguments: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED")}
    if "EventPattern" in props:
        arguments["EventPattern"] = _json(props["EventPattern"])
    if "ScheduleExpression" in props:
        arguments["ScheduleExpression"] = props["ScheduleExpression"]
    if "EventBusName" in props:
        arguments["EventBusName"] = props["EventBusName"]
    arn = events.put_rule(**arguments)["RuleArn"]
    targets = []
    for target in props.get("Targets", []):
        keys = ("Id", "Arn", "RoleArn", "Input", "InputPath", "DeadLetterConfig", "RetryPolicy")
        entry = {key: target[key] for key in keys if key in target}
        if "InputTransformer" in target:
            entry["InputTransformer"] = target["InputTransformer"]
        targets.append(entry)
    if targets:
        bus = {"EventBusName": props["EventBusName"]} if "EventBusName" in props else {}
        events.put_targets(Rule=name, Targets=targets, **bus)
    return _state(request, name, Arn=arn)


# --- DynamoDB -------------------------------------------------------------------------------------
@provisioner("AWS::DynamoDB::Table")
def _table(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    dynamodb = request.client("dynamodb")
    name = props.get("TableName") or request.physical_name(255)
    arguments: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if arguments["BillingMode"] == "PROVISIONED":
        arguments["ProvisionedThroughput"] = props.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification"):
        if key in props:
            arguments[key] = props[key]
    table = dynamodb.create_table(**arguments)["TableDescription"]
    recovery = props.get("PointInTimeRecoverySpecification", {})
    if recovery.get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    attributes = {"Arn": table["TableArn"]}
    if "LatestStreamArn" in table:
        attributes["StreamArn"] = table["LatestStreamArn"]
    return _state(request, name, **attributes)


DYNAMIC_REFERENCE = re.compile(
    r"\{\{resolve:secretsmanager:(?P<id>.+?):SecretString:(?P<key>[^:]*):[^:]*:[^:]*\}\}"
)


def resolve_secret_references(request: ProvisionRequest, value: str) -> str:
    """CloudFormation resolves `{{resolve:secretsmanager:...}}` at deployment."""

    def lookup(match: re.Match[str]) -> str:
        secret = request.client("secretsmanager").get_secret_value(SecretId=match["id"])
        document = secret["SecretString"]
        return str(json.loads(document)[match["key"]]) if match["key"] else document

    return DYNAMIC_REFERENCE.sub(lookup, value)


@provisioner("AWS::SecretsManager::Secret")
def _secret(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    name = props.get("Name") or request.physical_name(128)
    value = props.get("SecretString")
    generate = props.get("GenerateSecretString")
    if generate is not None:
        excluded = set(generate.get("ExcludeCharacters", ""))
        alphabet = [
            c
            for c in string.ascii_letters + string.digits + string.punctuation
            if c not in excluded
            and not (generate.get("ExcludePunctuation") and c in string.punctuation)
        ]
        length = int(generate.get("PasswordLength", 32))
        while True:
            password = "".join(secrets.choice(alphabet) for _ in range(length))
            if not generate.get("RequireEachIncludedType") or all(
                any(c in group for c in password)
                for group in (string.ascii_lowercase, string.ascii_uppercase, string.digits)
            ):
                break
        if "SecretStringTemplate" in generate:
            document = json.loads(generate["SecretStringTemplate"])
            document[generate["GenerateStringKey"]] = password
            value = json.dumps(document)
        else:
            value = password
    created = request.client("secretsmanager").create_secret(
        Name=name, SecretString=value or "", Description=props.get("Description", "")
    )
    return _state(request, created["ARN"], Id=created["ARN"])


@provisioner("AWS::Logs::LogStream")
def _log_stream(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    name = props.get("LogStreamName") or request.physical_name(512)
    request.client("logs").create_log_stream(logGroupName=props["LogGroupName"], logStreamName=name)
    return _state(request, name)


@provisioner("AWS::SSM::Parameter")
def _ssm_parameter(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    # CloudFormation names a parameter it names itself without a leading slash.
    name = props.get("Name") or request.physical_name(128)
    arguments = _drop_empty(
        {
            "Name": name,
            "Value": props["Value"],
            "Type": props.get("Type", "String"),
            "Description": props.get("Description"),
            "Tier": props.get("Tier"),
            "AllowedPattern": props.get("AllowedPattern"),
        }
    )
    request.client("ssm").put_parameter(**arguments, Overwrite=True)
    return _state(request, name, Type=arguments["Type"], Value=props["Value"])


def _drop_empty(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
