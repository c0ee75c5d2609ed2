"""CloudFormation's `DescribeStacks` for the stacks the local cloud deployed.

The local cloud deploys templates itself (`LocalCloud.deploy`), so moto's CloudFormation backend
knows none of its stacks. This engine answers `DescribeStacks` from the deployed stacks instead,
in CloudFormation's own wire protocol (AWS query: a form-encoded request, an XML answer built by
walking botocore's output shape), so an unmodified client finds a stack's outputs as it would on
AWS: `describe_stacks(StackName=...)["Stacks"][0]["Outputs"]`. CloudFormation's other operations
stay with moto.

What it answers: every deployed stack (or the one named by `StackName`, a name or a stack ID)
with `StackId`, `StackName`, `Description`, `Parameters` (a `NoEcho` value masked as `*****`; an SSM
parameter type with the parameter's name and its `ResolvedValue`), `CreationTime`, `StackStatus`
`CREATE_COMPLETE`, `Outputs` (`OutputKey`, `OutputValue`, `Description`, `ExportName`) and the
drift status `NOT_CHECKED`. An unknown stack is `ValidationError` "Stack with id ... does not
exist", as CloudFormation answers.

How it differs: there are no updates, deletions, rollbacks, tags, notification ARNs or change
sets; `CreationTime` is when this engine first saw the stack (the first `DescribeStacks` after
its deployment); every stack is listed on one page (no `NextToken`).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs
from xml.etree import ElementTree

from botocore.awsrequest import AWSResponse
from botocore.model import ListShape, MapShape, OperationNotFoundError, Shape, StructureShape

from localcloud.core.protocol import (
    CallContext,
    LocalEngine,
    ServiceError,
    _BodyStream,
    _request_body,
    validate_request,
)
from localcloud.core.template import NO_VALUE, resolve

if TYPE_CHECKING:
    from localcloud.core.cloud import DeployedStack

SSM_PARAMETER_TYPE = "AWS::SSM::Parameter::Value"


class StackDescriptions(LocalEngine):
    """Answers `cloudformation:DescribeStacks` from the local cloud's deployed stacks."""

    service_name = "cloudformation"
    validation_error_code = "ValidationError"
    operations: ClassVar[frozenset[str]] = frozenset({"DescribeStacks"})

    def __init__(
        self, stacks: Callable[[], Mapping[str, DeployedStack]], now: Callable[[], datetime]
    ) -> None:
        self._stacks = stacks
        self._now = now
        self._first_seen: dict[str, datetime] = {}

    # the operation ---------------------------------------------------------------------------
    def handle(self, operation: str, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        if operation != "DescribeStacks":
            raise ServiceError("InvalidAction", f"{operation} is not answered by this engine.")
        stacks = dict(self._stacks())
        for name in stacks:
            self._first_seen.setdefault(name, self._now())
        wanted = params.get("StackName")
        if wanted:
            found = [s for s in stacks.values() if wanted in (s.name, s.context.stack_id)]
            if not found:
                raise ServiceError("ValidationError", f"Stack with id {wanted} does not exist")
            return {"Stacks": [self._describe(found[0])]}
        return {"Stacks": [self._describe(stack) for stack in stacks.values()]}

    def _describe(self, stack: DeployedStack) -> dict[str, Any]:
        template = stack.artifact.template
        described: dict[str, Any] = {
            "StackId": stack.context.stack_id,
            "StackName": stack.name,
            "Parameters": self._parameters(stack),
            "CreationTime": self._first_seen.get(stack.name, self._now()),
            "StackStatus": "CREATE_COMPLETE",
            "DisableRollback": False,
            "Outputs": self._outputs(stack),
            "EnableTerminationProtection": False,
            "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
        }
        if "Description" in template:
            described["Description"] = str(template["Description"])
        return described

    @staticmethod
    def _parameters(stack: DeployedStack) -> list[dict[str, str]]:
        declared = stack.artifact.template.get("Parameters", {})
        described = []
        for name, value in stack.context.parameters.items():
            spec = declared.get(name, {})
            entry = {"ParameterKey": name, "ParameterValue": _text(value)}
            if spec.get("NoEcho") in (True, "true", "True"):
                entry["ParameterValue"] = "*****"  # as the CloudFormation user guide documents
            elif str(spec.get("Type", "")).startswith(SSM_PARAMETER_TYPE):
                # The context holds the value read from SSM; the stack was given the name.
                entry["ParameterValue"] = _text(spec.get("Default", value))
                entry["ResolvedValue"] = _text(value)
            described.append(entry)
        return described

    @staticmethod
    def _outputs(stack: DeployedStack) -> list[dict[str, str]]:
        declared = stack.artifact.template.get("Outputs", {})
        described = []
        for name, value in stack.outputs.items():
            spec = declared.get(name, {})
            entry = {"OutputKey": name, "OutputValue": _text(value)}
            if "Description" in spec:
                entry["Description"] = _text(resolve(spec["Description"], stack.context))
            export = spec.get("Export")
            if export:
                entry["ExportName"] = _text(resolve(export["Name"], stack.context))
            described.append(entry)
        return described

    # the wire protocol (AWS query) -----------------------------------------------------------
    def answer_request(self, request: Any, operation: str, ctx: CallContext) -> AWSResponse:
        namespace = self.service_model.metadata.get("xmlNamespace", "")
        try:
            try:
                operation_model = self.service_model.operation_model(operation)
            except OperationNotFoundError as exc:
                raise ServiceError("InvalidAction", f"Unknown operation {operation}") from exc
            params = _decode_query(_request_body(request), operation_model.input_shape)
            validate_request(self, operation_model, params)
            result = self.handle(operation, params, ctx)
        except ServiceError as error:
            return _xml_response(request, error.status or 400, _error_document(error, namespace))
        root = ElementTree.Element(f"{operation}Response", xmlns=namespace)
        output = operation_model.output_shape
        if output is not None:
            wrapper = output.serialization.get("resultWrapper", f"{operation}Result")
            _encode(root, wrapper, output, result)
        metadata = ElementTree.SubElement(root, "ResponseMetadata")
        ElementTree.SubElement(metadata, "RequestId").text = str(uuid.uuid4())
        return _xml_response(request, 200, root)


def _text(value: Any) -> str:
    if value is NO_VALUE or value is None:
        return ""
    if isinstance(value, list):  # CloudFormation renders a list output joined by commas
        return ",".join(_text(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decode_query(body: bytes, shape: Shape | None) -> dict[str, Any]:
    """The top-level scalar members of a form-encoded query request (all DescribeStacks has)."""
    if shape is None:
        return {}
    form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    params: dict[str, Any] = {}
    for name, member in shape.members.items():
        values = form.get(member.serialization.get("name", name))
        if not values:
            continue
        if member.type_name not in ("string", "integer", "long", "boolean"):
            raise ServiceError("ValidationError", f"{name} is not decoded by the local engine")
        value: Any = values[0]
        if member.type_name in ("integer", "long"):
            value = int(value)
        elif member.type_name == "boolean":
            value = value == "true"
        params[name] = value
    return params


def _encode(parent: ElementTree.Element, name: str, shape: Shape, value: Any) -> None:
    """`value` as the XML element `name`, the way the query protocol serialises `shape`."""
    kind = shape.type_name
    if isinstance(shape, ListShape):
        item_shape = shape.member
        if shape.serialization.get("flattened"):
            for item in value:
                _encode(parent, name, item_shape, item)
            return
        element = ElementTree.SubElement(parent, name)
        item_name = item_shape.serialization.get("name", "member")
        for item in value:
            _encode(element, item_name, item_shape, item)
        return
    element = ElementTree.SubElement(parent, name)
    if isinstance(shape, StructureShape):
        for member_name, member in shape.members.items():
            if value.get(member_name) is not None:
                _encode(element, member.serialization.get("name", member_name), member,
                        value[member_name])  # fmt: skip
    elif isinstance(shape, MapShape):
        for key, item in value.items():
            entry = ElementTree.SubElement(element, "entry")
            ElementTree.SubElement(entry, "key").text = str(key)
            _encode(entry, "value", shape.value, item)
    elif kind == "timestamp":
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        element.text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    elif kind == "boolean":
        element.text = "true" if value else "false"
    elif kind == "blob":
        element.text = base64.b64encode(value).decode("ascii")
    else:
        element.text = str(value)


def _error_document(error: ServiceError, namespace: str) -> ElementTree.Element:
    root = ElementTree.Element("ErrorResponse", xmlns=namespace)
    detail = ElementTree.SubElement(root, "Error")
    ElementTree.SubElement(detail, "Type").text = "Sender"
    ElementTree.SubElement(detail, "Code").text = error.code
    ElementTree.SubElement(detail, "Message").text = error.message
    ElementTree.SubElement(root, "RequestId").text = str(uuid.uuid4())
    return root


def _xml_response(request: Any, status: int, document: ElementTree.Element) -> AWSResponse:
    body = ElementTree.tostring(document, encoding="utf-8", xml_declaration=True)
    headers = {
        "Content-Type": "text/xml",
        "Content-Length": str(len(body)),
        "x-amzn-RequestId": str(uuid.uuid4()),
        "Date": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }
    return AWSResponse(request.url, status, headers, _BodyStream(body))
