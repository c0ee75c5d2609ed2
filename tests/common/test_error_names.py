"""Error names and codes checked against AWS's own data (botocore's service models), not against
what the code's authors believed:

- every name a state machine's Retry or Catch matches is one its state can raise;
- every AWS error code handler code compares is an error of the service that raised it;
- every error a local engine answers with is an error of the service it emulates.

A name or code the data does not know never matches, so the retry or the special case it guards
silently does nothing on AWS.
"""

from __future__ import annotations

import ast
import builtins
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import botocore.parsers
import botocore.session
import pytest
from botocore import xform_name
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)

from localcloud.core.assembly import CloudAssembly
from localcloud.core.moto_hooks import OPTIMIZED_BASE_EXCEPTIONS, sdk_error_prefix, sdk_service_name
from localcloud.core.protocol import DEFAULT_VALIDATION_ERROR
from stacks.asl_polls import read_definition

REPO_ROOT = Path(__file__).resolve().parents[2]
STATEMACHINES = sorted((REPO_ROOT / "statemachines").glob("*.asl.json"))

# AWS data ---------------------------------------------------------------------------------------
_SESSION = botocore.session.get_session()

# Errors every AWS API may answer with, though service models rarely declare them: the list of
# https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html and the query
# protocol's older one (e.g. https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html).
COMMON_ERRORS = frozenset(
    {
        "AccessDeniedException",
        "ExpiredTokenException",
        "IncompleteSignature",
        "InternalFailure",
        "InvalidAction",
        "InvalidClientTokenId",
        "InvalidParameterCombination",
        "InvalidParameterValue",
        "InvalidQueryParameter",
        "MalformedHttpRequestException",
        "MalformedQueryString",
        "MissingAction",
        "MissingAuthenticationToken",
        "MissingParameter",
        "NotAuthorized",
        "OptInRequired",
        "RequestAbortedException",
        "RequestEntityTooLargeException",
        "RequestExpired",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "ThrottlingException",
        "UnknownOperationException",
        "UnrecognizedClientException",
        "ValidationError",
    }
)

# Errors of lambda:invoke tasks besides the Invoke API's own: Step Functions reports Lambda's
# transient service errors and a function's unhandled crash under these names
# (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
LAMBDA_TASK_ERRORS = frozenset(
    {
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "Lambda.Unknown",
    }
)

# Optimized integrations: the service part of their error names (`DynamoDB.` for
# arn:aws:states:::dynamodb:putItem, where aws-sdk:dynamodb says `DynamoDb.`) and botocore's name
# of the service. The guide shows `Lambda.` (see LAMBDA_TASK_ERRORS); the others are those moto's
# executor forms, after LocalStack's, which records them against AWS.
# tests/localcloud/test_task_error_names.py checks the executor and this table agree.
OPTIMIZED_INTEGRATIONS = {
    "dynamodb": ("DynamoDB", "dynamodb"),
    "sns": ("SNS", "sns"),
    "sqs": ("SQS", "sqs"),
    "lambda": ("Lambda", "lambda"),
}

# The error names the States language reserves, as the executor's ASL grammar spells them
# (https://states-language.net/spec.html#appendix-a).
STATES_ERRORS = frozenset(name.to_name() for name in StatesErrorNameType)

# Error codes a model's documentation names: S3 declares few error shapes and lists its codes in
# the documentation of `Error.Code`; operations name others (PutObject's `409
# ConditionalRequestConflict`, SageMaker's `ValidationException` for GetEndpointPolicy).
_DOCUMENTED_CODE = re.compile(
    r"<i>Code:</i>\s*(\w+)|<code>\d{3} (\w+)</code>|\b(\w+(?:Exception|Error|Fault))\b"
)


@cache
def service_model(service: str) -> Any:
    return _SESSION.get_service_model(service)


def _documentation(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "documentation" and isinstance(value, str):
                yield value
            else:
                yield from _documentation(value)
    elif isinstance(node, list):
        for value in node:
            yield from _documentation(value)


@cache
def service_errors(service: str) -> frozenset[str]:
    """The error codes of `service`: every error shape's name and wire code, and the codes its
    model's documentation names."""
    codes: set[str] = set()
    for shape in service_model(service).error_shapes:
        codes.add(shape.name)
        code = shape.metadata.get("error", {}).get("code")
        if code:
            codes.add(code)
    raw = _SESSION.get_component("data_loader").load_service_model(service, "service-2")
    for text in _documentation(raw):
        for match in _DOCUMENTED_CODE.finditer(text):
            codes.update(group for group in match.groups() if group)
    return frozenset(codes)


@cache
def exception_classes(service: str) -> frozenset[str]:
    """The names of the exception classes botocore raises for `service` (`client.exceptions`)."""
    return frozenset(shape.name for shape in service_model(service).error_shapes)


@cache
def bodiless_error_code(service: str, status: int) -> str:
    """The code botocore gives an error response without a body (a HEAD request's 404)."""
    model = service_model(service)
    parser = botocore.parsers.create_parser(model.protocol)
    operation = model.operation_model(model.operation_names[0])
    parsed = parser.parse(
        {"status_code": status, "headers": {}, "body": b""}, operation.output_shape
    )
    return str(parsed.get("Error", {}).get("Code", ""))


def is_error_of(code: str, services: Iterable[str]) -> bool:
    if code in COMMON_ERRORS:
        return True
    for service in services:
        if code in service_errors(service):
            return True
        if code.isdigit() and bodiless_error_code(service, int(code)) == code:
            return True
    return False


def suffixed(code: str) -> str:
    """Step Functions always ends an error name with "Exception", without doubling it
    (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html)."""
    return code if code.endswith("Exception") else code + "Exception"


def service_error_names(prefix: str, services: Iterable[str], base: str) -> set[str]:
    """The names a Task state's service errors take: each error the service model declares
    (its shape, the class an SDK raises), and the SDK's base exception `base` for every error
    the model does not declare (AWS's common errors such as InternalFailure among them)."""
    names = {f"{prefix}.{base}"}
    for service in services:
        names |= {f"{prefix}.{suffixed(shape)}" for shape in exception_classes(service)}
    return names


# The project's code ------------------------------------------------------------------------------
HANDLER_ROOTS = ("lambdas", "glue_jobs")


def _python_files(*roots: str) -> list[Path]:
    return sorted(p for root in roots for p in (REPO_ROOT / root).rglob("*.py"))


@cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _created_client(node: ast.AST) -> str | None:
    """The service of a client made by `kit.clients("s3")`, `clients("s3")` or
    `boto3.client("s3", ...)`."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    creates = (isinstance(func, ast.Name) and func.id == "clients") or (
        isinstance(func, ast.Attribute) and func.attr in ("client", "clients")
    )
    first = node.args[0]
    if creates and isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


@cache
def handler_services() -> frozenset[str]:
    """Every service the handlers and Glue jobs create clients for (Powertools' parameters
    utility reads SSM)."""
    services: set[str] = set()
    for path in _python_files(*HANDLER_ROOTS):
        tree = _parse(path)
        for node in ast.walk(tree):
            service = _created_client(node)
            if service:
                services.add(service)
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "aws_lambda_powertools.utilities"
                and any(alias.name == "parameters" for alias in node.names)
            ):
                services.add("ssm")
    return frozenset(services)


@cache
def _operations(service: str) -> frozenset[str]:
    return frozenset(xform_name(name) for name in service_model(service).operation_names)


@cache
def function_error_types() -> frozenset[str]:
    """Names a Lambda function's own failure is reported under: the Python runtime reports the
    exception's class name (https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html),
    so the classes the handlers define, Python's built-in exceptions, and the classes botocore
    raises for the modelled errors of the services the handlers call."""
    names = {
        n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)
    }
    for path in _python_files("lambdas"):
        names |= {n.name for n in ast.walk(_parse(path)) if isinstance(n, ast.ClassDef)}
    for service in handler_services():
        names |= exception_classes(service)
    return frozenset(names)


# State machines ---------------------------------------------------------------------------------
SDK_PREFIX = "arn:aws:states:::aws-sdk:"
OPTIMIZED_PREFIX = "arn:aws:states:::"


def _nested(state: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for branch in state.get("Branches", []):
        yield branch["States"]
    processor = state.get("ItemProcessor") or state.get("Iterator")
    if processor:
        yield processor["States"]


def _all_states(states: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state with its path, those inside Parallel branches and Map processors included."""
    for name, state in states.items():
        yield f"{path}{name}", state
        for inner in _nested(state):
            yield from _all_states(inner, f"{path}{name}/")


def _raisers(state: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The states whose errors reach `state`'s Retry and Catch: itself, or for a Map or Parallel
    state every state inside it."""
    if state.get("Type") == "Task":
        return [state]
    return [inner for states in _nested(state) for _, inner in _all_states(states)]


def _lambda_task_error(name: str) -> str | None:
    if "." not in name:
        if name in function_error_types():
            return None
        return "not an exception class the functions or botocore define, nor a built-in one"
    if name in LAMBDA_TASK_ERRORS:
        return None
    invoke = service_model("lambda").operation_model("Invoke")
    codes = {shape.name for shape in invoke.error_shapes}
    if name in {f"Lambda.{suffixed(code)}" for code in codes}:
        return None
    return "not an error of Lambda's Invoke API or one Step Functions reports for it"


def why_not_raised(name: str, state: Mapping[str, Any]) -> str | None:
    """None if `state` can fail with the error `name`, else the reason it cannot."""
    if name.startswith("States."):
        return None if name in STATES_ERRORS else "not an error name of the States language"
    reasons = []
    for raiser in _raisers(state):
        if raiser.get("Type") == "Fail":
            if raiser.get("Error") == name:
                return None
            continue
        if raiser.get("Type") != "Task":
            continue
        reason = _task_error(name, raiser["Resource"])
        if reason is None:
            return None
        reasons.append(reason)
    return "; ".join(sorted(set(reasons))) or "no state inside raises it"


def _task_error(name: str, resource: Any) -> str | None:
    if not isinstance(resource, str) or resource.startswith("arn:aws:lambda:"):
        return _lambda_task_error(name)  # a function ARN as the Resource
    if resource.startswith(SDK_PREFIX):
        service = resource[len(SDK_PREFIX) :].split(":")[0]
        prefix = sdk_error_prefix(service)
        if name in service_error_names(prefix, [sdk_service_name(service)], f"{prefix}Exception"):
            return None
        return (
            f"not {prefix}.<an error {sdk_service_name(service)}'s model declares>Exception "
            f"nor {prefix}.{prefix}Exception"
        )
    if resource.startswith(OPTIMIZED_PREFIX):
        service = resource[len(OPTIMIZED_PREFIX) :].split(":")[0]
        if service == "lambda":
            return _lambda_task_error(name)
        if service not in OPTIMIZED_INTEGRATIONS:
            return f"the error names of the {service} integration are not known to this check"
        prefix, botocore_name = OPTIMIZED_INTEGRATIONS[service]
        base = OPTIMIZED_BASE_EXCEPTIONS[prefix]
        if name in service_error_names(prefix, [botocore_name], base):
            return None
        return f"not {prefix}.<an error {botocore_name}'s model declares>Exception nor {base}"
    return f"the error names of {resource} are not known to this check"


def name_problems(definition: Mapping[str, Any], where: str) -> list[str]:
    """Every ErrorEquals name of `definition` that its state cannot raise, with the reason."""
    problems = []
    for path, state in _all_states(definition["States"]):
        for field in ("Retry", "Catch"):
            for rule in state.get(field, []):
                for name in rule["ErrorEquals"]:
                    reason = why_not_raised(name, state)
                    if reason:
                        problems.append(f"{where}: {path} {field} {name}: {reason}")
    return problems


def _template_definitions(assembly_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for stack in CloudAssembly(assembly_dir).stacks():
        template = json.loads(stack.template_path.read_text())
        for name, resource in template["Resources"].items():
            if resource["Type"] == "AWS::StepFunctions::StateMachine":
                found.append(
                    (f"{stack.template_path.name}/{name}", resource["Properties"]["Definition"])
                )
    return found


@pytest.mark.parametrize("path", STATEMACHINES, ids=lambda p: p.name)
def test_every_retry_and_catch_names_an_error_its_state_can_raise(path: Path) -> None:
    assert name_problems(read_definition(path), path.name) == []


@pytest.mark.synth
def test_every_synthesized_state_machine_names_errors_its_states_can_raise(
    assembly_dir: Path,
) -> None:
    definitions = _template_definitions(assembly_dir)
    assert definitions
    problems = [p for where, d in definitions for p in name_problems(d, where)]
    assert problems == []


def _task(resource: str, *names: str, catch: bool = False) -> dict[str, Any]:
    rule = {"ErrorEquals": list(names)}
    state: dict[str, Any] = {"Type": "Task", "Resource": resource, "End": True}
    state["Catch" if catch else "Retry"] = [{**rule, "Next": "Done"} if catch else rule]
    return {"StartAt": "T", "States": {"T": state, "Done": {"Type": "Succeed"}}}


@pytest.mark.parametrize(
    ("resource", "name"),
    [
        ("arn:aws:states:::dynamodb:putItem", "DynamoDB.RequestLimitExceeded"),  # no suffix
        ("arn:aws:states:::dynamodb:putItem", "DynamoDb.RequestLimitExceededException"),
        ("arn:aws:states:::aws-sdk:sqs:receiveMessage", "Sqs.InternalErrorException"),
        ("arn:aws:states:::aws-sdk:sfn:describeExecution", "Sfn.InternalErrorException"),
        # Errors the model does not declare arrive as the base exception, not under their code.
        ("arn:aws:states:::aws-sdk:sfn:describeExecution", "Sfn.ThrottlingException"),
        ("arn:aws:states:::aws-sdk:sqs:receiveMessage", "Sqs.InternalFailureException"),
        ("arn:aws:states:::aws-sdk:sqs:receiveMessage", "Sqs.SdkClientException"),
        ("arn:aws:states:::sns:publish", "SNS.SdkClientException"),
        ("arn:aws:states:::aws-sdk:ssm:getParameter", "Sqs.QueueDoesNotExistException"),
        ("arn:aws:states:::aws-sdk:ssm:getParameter", "Ssm.ParameterNotFoundExceptionException"),
        ("arn:aws:states:::lambda:invoke", "Lambda.ConditionalCheckFailedException"),
        ("arn:aws:states:::lambda:invoke", "SlowDown"),  # a function never raises it
        ("arn:aws:states:::aws-sdk:sqs:receiveMessage", "States.Everything"),
    ],
)
def test_a_name_the_state_cannot_raise_is_reported(resource: str, name: str) -> None:
    assert name_problems(_task(resource, name), "bad") != []
    assert name_problems(_task(resource, name, catch=True), "bad") != []


@pytest.mark.parametrize(
    ("resource", "name"),
    [
        ("arn:aws:states:::dynamodb:putItem", "DynamoDB.RequestLimitExceededException"),
        ("arn:aws:states:::dynamodb:putItem", "DynamoDB.ConditionalCheckFailedException"),
        ("arn:aws:states:::aws-sdk:dynamodb:putItem", "DynamoDb.RequestLimitExceededException"),
        ("arn:aws:states:::aws-sdk:sqs:receiveMessage", "Sqs.QueueDoesNotExistException"),
        ("arn:aws:states:::aws-sdk:sfn:describeExecution", "Sfn.SfnException"),
        ("arn:aws:states:::aws-sdk:sqs:receiveMessage", "Sqs.SqsException"),
        ("arn:aws:states:::dynamodb:putItem", "DynamoDB.AmazonDynamoDBException"),
        ("arn:aws:states:::aws-sdk:ssm:getParameter", "Ssm.InternalServerErrorException"),
        ("arn:aws:states:::aws-sdk:s3:createBucket", "S3.BucketAlreadyExistsException"),
        ("arn:aws:states:::sns:publish", "SNS.KMSThrottlingException"),
        ("arn:aws:states:::lambda:invoke", "Lambda.ServiceException"),
        ("arn:aws:states:::lambda:invoke", "Lambda.ResourceNotReadyException"),
        ("arn:aws:states:::lambda:invoke", "TooManyRequestsException"),
        ("arn:aws:states:::lambda:invoke", "InputError"),
        ("arn:aws:states:::aws-sdk:sqs:receiveMessage", "States.TaskFailed"),
    ],
)
def test_a_name_the_state_can_raise_passes(resource: str, name: str) -> None:
    assert name_problems(_task(resource, name), "good") == []


def test_names_inside_map_and_parallel_states_are_checked() -> None:
    inner = _task("arn:aws:states:::aws-sdk:sfn:describeExecution", "Sfn.InternalErrorException")
    mapped = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": inner,
                "Catch": [{"ErrorEquals": ["DynamoDB.RequestLimitExceeded"], "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
    }
    parallel = {
        "StartAt": "P",
        "States": {"P": {"Type": "Parallel", "Branches": [inner], "End": True}},
    }
    assert [p.split(": ")[1] for p in name_problems(mapped, "m")] == [
        "M Catch DynamoDB.RequestLimitExceeded",
        "M/T Retry Sfn.InternalErrorException",
    ]
    assert [p.split(": ")[1] for p in name_problems(parallel, "p")] == [
        "P/T Retry Sfn.InternalErrorException"
    ]


def test_the_sdk_service_part_follows_the_developer_guide_examples() -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
    assert sdk_error_prefix("acmpca") == "AcmPca"
    assert sdk_error_prefix("s3") == "S3"


# Error codes compared in handler code ------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    where: str
    codes: frozenset[str]
    services: frozenset[str]
    exception_class: bool = False  # `client.exceptions.X`: X is a class name, not a code


def _strings(node: ast.AST, constants: Mapping[str, frozenset[str]]) -> frozenset[str] | None:
    """The strings a literal (or a module constant) holds; a dict's keys."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return frozenset({node.value})
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1:
        return _strings(node.args[0], constants) if node.func.id in ("frozenset", "set") else None
    elements: list[ast.expr | None] = []
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        elements = list(node.elts)
    elif isinstance(node, ast.Dict):
        elements = list(node.keys)
    parts = [_strings(e, constants) if e is not None else None for e in elements]
    if not parts or any(p is None for p in parts):
        return None
    return frozenset(s for part in parts if part is not None for s in part)


def _is_code_access(node: ast.AST) -> bool:
    """`error.response["Error"]["Code"]`, `exc.response.get("Error", {}).get("Code", "")`..."""
    text = ast.unparse(node)
    return ".response" in text and "'Code'" in text


def _bindings(scope: ast.AST) -> dict[str, str]:
    """Names bound to a client in `scope`: `sfn = clients("stepfunctions")`."""
    bound = {}
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            service = _created_client(node.value)
            if service and isinstance(node.targets[0], ast.Name):
                bound[node.targets[0].id] = service
    return bound


@cache
def _project_functions() -> dict[str, list[tuple[ast.Module, ast.FunctionDef]]]:
    functions: dict[str, list[tuple[ast.Module, ast.FunctionDef]]] = {}
    for path in _python_files(*HANDLER_ROOTS):
        tree = _parse(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                functions.setdefault(node.name, []).append((tree, node))
    return functions


_FUNCTION_SERVICES: dict[str, frozenset[str]] = {}


def _function_services(name: str, seen: frozenset[str]) -> set[str]:
    """The services the project's functions (or methods) called `name` call, at any depth."""
    if name in _FUNCTION_SERVICES:
        return set(_FUNCTION_SERVICES[name])
    if name in seen:
        return set()
    services: set[str] = set()
    for tree, function in _project_functions().get(name, []):
        bound = _module_bindings(tree) | _bindings(function)
        services |= _called_services(function.body, bound, seen | {name})
    if not seen:  # complete only when not cut short by a cycle
        _FUNCTION_SERVICES[name] = frozenset(services)
    return services


@cache
def _module_bindings(tree: ast.Module) -> dict[str, str]:
    return _bindings(tree)


def _call_services(call: ast.Call, bound: Mapping[str, str], seen: frozenset[str]) -> set[str]:
    """The services whose errors a call can raise: a client call, or a project function's."""
    func = call.func
    if isinstance(func, ast.Name):
        return _function_services(func.id, seen)
    if not isinstance(func, ast.Attribute):
        return set()
    receiver, method = func.value, func.attr
    service = _created_client(receiver) or (
        bound.get(receiver.id) if isinstance(receiver, ast.Name) else None
    )
    if service is not None:
        return {service} if method in _operations(service) else set()
    callable_on = {s for s in handler_services() if method in _operations(s)}
    return callable_on or _function_services(method, seen)


def _called_services(
    nodes: Iterable[ast.AST], bound: Mapping[str, str], seen: frozenset[str] = frozenset()
) -> set[str]:
    services: set[str] = set()
    for top in nodes:
        for node in ast.walk(top):
            if isinstance(node, ast.Call):
                services |= _call_services(node, bound, seen)
    return services


class _Module:
    """One source file: where it compares AWS error codes, and which clients raised them."""

    def __init__(self, path: Path, accessors: frozenset[str]) -> None:
        self.path = path
        self.tree = _parse(path)
        self.accessors = accessors
        self._names: dict[ast.AST, set[str]] = {}
        self.parents = {
            child: node for node in ast.walk(self.tree) for child in ast.iter_child_nodes(node)
        }
        self.constants: dict[str, frozenset[str]] = {}
        for node in self.tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                values = _strings(node.value, self.constants)
                if isinstance(node.targets[0], ast.Name) and values is not None:
                    self.constants[node.targets[0].id] = values
        self.imported = {
            alias.asname or alias.name.split(".")[0]
            for node in ast.walk(self.tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }

    def where(self, node: ast.AST) -> str:
        path = (
            self.path.relative_to(REPO_ROOT) if self.path.is_relative_to(REPO_ROOT) else self.path
        )
        return f"{path}:{getattr(node, 'lineno', 0)}"

    def _ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        while node in self.parents:
            node = self.parents[node]
            yield node

    def _function(self, node: ast.AST) -> ast.AST:
        for ancestor in self._ancestors(node):
            if isinstance(ancestor, ast.FunctionDef | ast.AsyncFunctionDef):
                return ancestor
        return self.tree

    def _handling_try(self, node: ast.AST) -> ast.Try | None:
        """The try statement one of whose except clauses holds `node`."""
        child = node
        for ancestor in self._ancestors(node):
            if isinstance(ancestor, ast.Try) and child in ancestor.handlers:
                return ancestor
            if isinstance(ancestor, ast.FunctionDef | ast.AsyncFunctionDef):
                return None
            child = ancestor
        return None

    def _bound(self, scope: ast.AST) -> dict[str, str]:
        return _module_bindings(self.tree) | _bindings(scope)

    def _services_at(self, node: ast.AST) -> set[str]:
        """The services whose errors reach `node`: those the guarded try body calls; in a function
        judging an error handed to it, those of the try statements that hand it over; else
        every service the module calls, or failing that every service the handlers call."""
        scope = self._function(node)
        handling = self._handling_try(node)
        if handling is not None:
            services = _called_services(handling.body, self._bound(scope))
        elif isinstance(scope, ast.FunctionDef):
            services = set()
            for call in ast.walk(self.tree):
                if isinstance(call, ast.Call) and getattr(call.func, "id", None) == scope.name:
                    caller = self._handling_try(call)
                    if caller is not None:
                        outer = self._function(call)
                        services |= _called_services(caller.body, self._bound(outer))
        else:
            services = set()
        return (
            services
            or _called_services([self.tree], self._bound(self.tree))
            or set(handler_services())
        )

    def _is_code(self, node: ast.AST, names: set[str]) -> bool:
        if _is_code_access(node):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return node.func.id in self.accessors
        return isinstance(node, ast.Name) and node.id in names

    def _code_names(self, scope: ast.AST) -> set[str]:
        """Names assigned an error code in `scope` (`code = error_code(error)`)."""
        if scope not in self._names:
            self._names[scope] = {
                node.targets[0].id
                for node in ast.walk(scope)
                if isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and self._is_code(node.value, set())
            }
        return self._names[scope]

    def _compared_codes(self, node: ast.AST) -> frozenset[str] | None:
        if not isinstance(node, ast.Compare | ast.Call):
            return None
        names = self._code_names(self._function(node))
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for left, right in itertools.pairwise(operands):
                for code, other in ((left, right), (right, left)):
                    if self._is_code(code, names):
                        values = _strings(other, self.constants)
                        if values is not None:
                            return values
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            table = node.func.value  # a table keyed by code: `STATUS.get(code, 502)`
            if (
                node.func.attr == "get"
                and isinstance(table, ast.Name)
                and table.id in self.constants
                and self._is_code(node.args[0], names)
            ):
                return self.constants[table.id]
        return None

    def _exception_class(self, node: ast.AST) -> Comparison | None:
        """`client.exceptions.ConditionalCheckFailedException`: a class of the client's service."""
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)):
            return None
        receiver = node.value.value
        if node.value.attr != "exceptions":
            return None
        if isinstance(receiver, ast.Name) and receiver.id in self.imported:
            return None  # a library's exceptions module, not a client's
        scope = self._function(node)
        bound = self._bound(scope)
        service = _created_client(receiver) or (
            bound.get(receiver.id) if isinstance(receiver, ast.Name) else None
        )
        services = {service} if service else set()
        if not services:  # the services of the calls made on the same client
            for call in ast.walk(scope):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and ast.dump(call.func.value) == ast.dump(receiver)
                ):
                    services |= _call_services(call, bound, frozenset())
        return Comparison(
            self.where(node),
            frozenset({node.attr}),
            frozenset(services or handler_services()),
            exception_class=True,
        )

    def comparisons(self) -> Iterator[Comparison]:
        for node in ast.walk(self.tree):
            found = self._exception_class(node)
            if found is not None:
                yield found
                continue
            codes = self._compared_codes(node)
            if codes:
                yield Comparison(self.where(node), codes, frozenset(self._services_at(node)))


def code_accessors(paths: Iterable[Path]) -> frozenset[str]:
    """Functions returning an error's code (`error_code(error)`), wherever they are defined."""
    names = set()
    for path in paths:
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.FunctionDef) and isinstance(node.body[-1], ast.Return):
                returned = node.body[-1].value
                if (
                    returned is not None
                    and not isinstance(returned, ast.Compare)
                    and _is_code_access(returned)
                ):
                    names.add(node.name)
    return frozenset(names)


def code_comparisons(paths: Iterable[Path]) -> list[Comparison]:
    paths = list(paths)
    accessors = code_accessors([*paths, *_python_files(*HANDLER_ROOTS)])
    return [c for path in paths for c in _Module(path, accessors).comparisons()]


def comparison_problems(comparisons: Iterable[Comparison]) -> list[str]:
    problems = []
    for comparison in comparisons:
        for code in sorted(comparison.codes):
            if comparison.exception_class:
                known = any(code in exception_classes(s) for s in comparison.services)
            else:
                known = is_error_of(code, comparison.services)
            if not known:
                services = sorted(comparison.services)
                problems.append(f"{comparison.where}: {code} is no error of {services}")
    return problems


@cache
def _handler_comparisons() -> dict[tuple[str, str], Comparison]:
    return {
        (c.where.split(":")[0], code): c
        for c in code_comparisons(_python_files(*HANDLER_ROOTS))
        for code in c.codes
    }


def test_every_error_code_handler_code_compares_is_an_error_of_its_service() -> None:
    comparisons = code_comparisons(_python_files(*HANDLER_ROOTS))
    assert comparison_problems(comparisons) == []


@pytest.mark.parametrize(
    ("path", "code", "services"),
    [
        ("lambdas/shared/s3.py", "PreconditionFailed", {"s3"}),
        ("lambdas/shared/s3.py", "404", {"s3"}),
        ("lambdas/shared/quarantine.py", "NoSuchVersion", {"s3"}),
        (
            "lambdas/comprehend_model_lifecycle/locking.py",
            "ExecutionDoesNotExist",
            {"stepfunctions"},
        ),
        ("lambdas/custom_labels_batch/labelling.py", "ResourceNotReadyException", {"rekognition"}),
        ("lambdas/caption_translation/start_batch.py", "ExecutionAlreadyExists", {"stepfunctions"}),
        (
            "lambdas/comprehend_feedback_loop/start_loops.py",
            "ConflictException",
            {"sagemaker-a2i-runtime"},
        ),
        ("glue_jobs/glue_ml_pipeline/pipeline_model.py", "ResourceInUse", {"sagemaker"}),
        ("glue_jobs/glue_ml_pipeline/pipeline_model.py", "ParameterNotFound", {"ssm"}),
    ],
)
def test_a_compared_code_is_tied_to_the_client_that_raised_it(
    path: str, code: str, services: set[str]
) -> None:
    """The scan finds the comparisons (a scan that finds nothing proves nothing), and judges each
    by the service of the call it guards, also through the project's own wrappers."""
    assert _handler_comparisons()[(path, code)].services == services


@pytest.mark.parametrize(
    ("path", "code", "service"),
    [
        # A table keyed by code, judged by the services its module calls.
        ("lambdas/comprehend_feedback_loop/api.py", "ThrottlingException", "comprehend"),
        # A conditional write made with whichever client's write method it is handed.
        ("lambdas/shared/aws.py", "ConditionalCheckFailedException", "dynamodb"),
        # Errors of a callable handed in, judged by what the project's functions call.
        (
            "lambdas/caption_translation/translation.py",
            "TextSizeLimitExceededException",
            "translate",
        ),
    ],
)
def test_a_code_whose_client_is_not_in_sight_is_judged_by_the_services_around_it(
    path: str, code: str, service: str
) -> None:
    assert service in _handler_comparisons()[(path, code)].services


HANDLER_WITH_WRONG_CODES = """
from botocore.exceptions import ClientError
LATER = frozenset({"RequestLimitExceeded", "ThrottlingException", "InternalErrorException"})

def save(dynamodb, item):
    try:
        dynamodb.put_item(TableName="t", Item=item)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailed":
            return False
        if error.response.get("Error", {}).get("Code") in LATER:
            raise
    except dynamodb.exceptions.ConditionCheckFailedException:
        return False
    return True

def enqueue(sqs, url):
    try:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    except ClientError as error:
        if str(error.response["Error"]["Code"]) in ("QueueDoesNotExist", "NoSuchBucket"):
            return None
        raise
"""


def test_a_code_its_service_never_raises_is_reported(tmp_path: Path) -> None:
    source = tmp_path / "handler.py"
    source.write_text(HANDLER_WITH_WRONG_CODES)
    problems = comparison_problems(code_comparisons([source]))
    assert sorted(p.split(": ", 1)[1] for p in problems) == [
        "ConditionCheckFailedException is no error of ['dynamodb']",
        "ConditionalCheckFailed is no error of ['dynamodb']",
        "InternalErrorException is no error of ['dynamodb']",
        "NoSuchBucket is no error of ['sqs']",  # an S3 code, compared after an SQS call
    ]


# Errors local engines answer with ----------------------------------------------------------------
LOCALCLOUD = REPO_ROOT / "localcloud"


def _class_constant(node: ast.ClassDef, name: str) -> str | None:
    for statement in node.body:
        if isinstance(statement, ast.Assign | ast.AnnAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            value = statement.value
            named = any(isinstance(t, ast.Name) and t.id == name for t in targets)
            if named and isinstance(value, ast.Constant) and isinstance(value.value, str):
                return value.value
    return None


@cache
def _registered_engines() -> dict[str, str]:
    """Engines the local cloud registers by service (`engines["sagemaker-runtime"] = Cls(...)`),
    by class name."""
    registered = {}
    plugins = (node for path in _localcloud_files() for node in ast.walk(_parse(path)))
    for node in plugins:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            key = node.targets[0].slice
            value = node.value
            if (
                isinstance(key, ast.Constant)
                and isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
            ):
                registered[value.func.id] = str(key.value)
    return registered


def emulated_services(tree: ast.Module) -> set[str]:
    """The services a module's engines answer: each engine's `service_name`, and the service
    the local cloud registers an engine class of the module for."""
    services = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            service = _class_constant(node, "service_name") or _registered_engines().get(node.name)
            if service:
                services.add(service)
    return services


# What the AWS JSON and RPC v2 CBOR front ends answer before a request reaches the service: a
# member breaking the model's constraints, a body that does not parse. Many models leave them out
# (Glue, Redshift Data and A2I Runtime declare ValidationException, SageMaker and Rekognition name
# it in their documentation; Comprehend and Translate do neither), so these two codes are taken
# on trust, and only where the local cloud's wire protocols answer with them.
PROTOCOL_ERRORS = frozenset({"ValidationException", "SerializationException"})


@dataclass(frozen=True)
class RaisedError:
    where: str
    code: str
    services: frozenset[str]  # the code must be an error of one of them
    every: bool = False  # ... of every one of them (wire protocols serve every engine)


def _handed_over_defaults(trees: Iterable[ast.Module]) -> dict[str, str]:
    """Functions that raise a code they are handed, with its default (`error_code="..."`)."""
    defaults = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.args.defaults:
                names = [a.arg for a in node.args.args][-len(node.args.defaults) :]
                for name, default in zip(names, node.args.defaults, strict=True):
                    if name == "error_code" and isinstance(default, ast.Constant):
                        defaults[node.name] = str(default.value)
    return defaults


def raised_errors(paths: Iterable[Path]) -> list[RaisedError]:
    """Every `ServiceError("<Code>", ...)` in `paths`, and every code handed to a function that
    raises it, with the services it answers for: those of its module's engines, or for a module
    without engines (the wire protocols) every engine's."""
    trees = {path: _parse(path) for path in paths}
    defaults = _handed_over_defaults([*trees.values(), *map(_parse, _localcloud_files())])
    found = []
    for path, tree in trees.items():
        own = frozenset(emulated_services(tree))
        services, every = (own, False) if own else (EVERY_ENGINE_SERVICE, True)
        shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path.name
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            code: Any = None
            if name == "ServiceError" and node.args:
                code = node.args[0]
            elif name in defaults:
                given = [k.value for k in node.keywords if k.arg == "error_code"]
                code = given[0] if given else ast.Constant(defaults[str(name)])
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                where = f"{shown}:{node.lineno}"
                found.append(RaisedError(where, code.value, services, every))
    return found


def raised_error_problems(errors: Iterable[RaisedError]) -> list[str]:
    problems = []
    for error in errors:
        if error.every and error.code in PROTOCOL_ERRORS:
            continue
        unknown_to = sorted(s for s in error.services if not is_error_of(error.code, [s]))
        if unknown_to and (error.every or len(unknown_to) == len(error.services)):
            problems.append(f"{error.where}: {error.code} is no error of {unknown_to}")
    return problems


def _localcloud_files() -> list[Path]:
    return sorted(LOCALCLOUD.rglob("*.py"))


EVERY_ENGINE_SERVICE = frozenset(
    service for path in _localcloud_files() for service in emulated_services(_parse(path))
)


def test_every_validation_error_an_engine_answers_with_is_an_error_of_its_service() -> None:
    """The code the wire protocols answer a request breaking the model's constraints with."""
    problems, checked = [], set()
    for path in _localcloud_files():
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.ClassDef):
                service = _class_constant(node, "service_name")
                code = _class_constant(node, "validation_error_code") or DEFAULT_VALIDATION_ERROR
                if service:
                    checked.add(service)
                if service and not (is_error_of(code, [service]) or code in PROTOCOL_ERRORS):
                    problems.append(f"{path.name}: {node.name} answers {code}")
    assert problems == []
    assert {"translate", "comprehend", "rekognition", "glue", "sagemaker"} <= checked


def test_local_engines_answer_only_with_errors_of_the_services_they_emulate() -> None:
    errors = raised_errors(_localcloud_files())
    assert any(e.code == "TooManyRequestsException" and e.services == {"translate"} for e in errors)
    assert raised_error_problems(errors) == []


ENGINE_WITH_WRONG_CODES = """
from localcloud.core.protocol import LocalEngine, ServiceError, page_by_key

class QueueEngine(LocalEngine):
    service_name = "sqs"

    def handle(self, operation, params, ctx):
        if operation == "ReceiveMessage":
            raise ServiceError("InternalError", "boom", 500)
        page_by_key([], key, None, 10, error_code="InvalidNextToken")
        raise ServiceError("QueueDoesNotExist", "gone")
"""


def test_an_engine_error_its_service_never_raises_is_reported(tmp_path: Path) -> None:
    source = tmp_path / "queue_engine.py"
    source.write_text(ENGINE_WITH_WRONG_CODES)
    problems = raised_error_problems(raised_errors([source]))
    assert sorted(p.split(": ", 1)[1] for p in problems) == [
        "InternalError is no error of ['sqs']",
        "InvalidNextToken is no error of ['sqs']",
    ]
