"""A Step Functions state machine defined by an ASL file in `statemachines/`.

The file is ASL with `${Placeholder}` strings and `Poll` loops, expanded when it is read
(`stacks/asl_polls.py`). The construct substitutes the placeholders itself and
inlines the result as the template's `Definition` object (not an opaque string), so cfn-lint
validates the definition that deploys. It then reads every Task state and grants the role
exactly the API calls the definition makes, on the resources the caller names for each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Aws, Duration, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.asl_polls import read_definition
from stacks.constructs.acknowledge import acknowledge, unscoped_policy
from stacks.constructs.log_group import WorkflowLogGroup
from stacks.constructs.python_function import PythonFunction

STATEMACHINES_DIR = Path(__file__).resolve().parents[2] / "statemachines"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")
SDK_PREFIX = "arn:aws:states:::aws-sdk:"
# aws-sdk integration service names whose IAM prefix differs.
IAM_PREFIX = {"sfn": "states"}
# Optimized integrations whose resources the caller names, like aws-sdk ones.
OPTIMIZED = {
    "arn:aws:states:::dynamodb:getItem": "dynamodb:GetItem",
    "arn:aws:states:::dynamodb:putItem": "dynamodb:PutItem",
    "arn:aws:states:::dynamodb:updateItem": "dynamodb:UpdateItem",
    "arn:aws:states:::dynamodb:deleteItem": "dynamodb:DeleteItem",
}
# Names the executions of the state machine itself (e.g. to describe a previous run).
OWN_EXECUTIONS = "own-executions"


class DefinitionError(ValueError):
    """The ASL file and the construct's arguments do not agree."""


def load_definition(file_name: str) -> dict[str, Any]:
    """The file's definition, its Poll loops expanded into plain ASL."""
    return read_definition(STATEMACHINES_DIR / file_name)


def substitute(node: Any, values: Mapping[str, Any], used: set[str] | None = None) -> Any:
    """Replace `${Name}` placeholders. A string that is exactly one placeholder takes the
    value as is (a number stays a number); placeholders inside longer strings are spliced."""
    used = used if used is not None else set()
    if isinstance(node, dict):
        return {key: substitute(value, values, used) for key, value in node.items()}
    if isinstance(node, list):
        return [substitute(item, values, used) for item in node]
    if not isinstance(node, str):
        return node
    whole = PLACEHOLDER.fullmatch(node)
    if whole:
        name = whole.group(1)
        if name not in values:
            raise DefinitionError(f"no value for placeholder ${{{name}}}")
        used.add(name)
        return values[name]

    def splice(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise DefinitionError(f"no value for placeholder ${{{name}}}")
        used.add(name)
        return str(values[name])

    return PLACEHOLDER.sub(splice, node)


def task_states(states: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Task state, including those inside Parallel branches and Map processors."""
    for name, state in states.items():
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from task_states(branch["States"])
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from task_states(processor["States"])


def sdk_action(resource: str) -> str:
    """`arn:aws:states:::aws-sdk:translate:describeTextTranslationJob` ->
    `translate:DescribeTextTranslationJob`."""
    service, action = resource[len(SDK_PREFIX) :].split(":")[:2]
    action = action.split(".")[0]
    return f"{IAM_PREFIX.get(service, service)}:{action[0].upper()}{action[1:]}"


class AslStateMachine(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definition_file: str,
        substitutions: Mapping[str, Any],
        sdk_resources: Mapping[str, Sequence[str]] | None = None,
        pass_roles: Sequence[iam.IRole] = (),
        unscoped_reason: str | None = None,
        timeout: Duration = Duration.hours(24),
    ) -> None:
        """`sdk_resources` names, for every aws-sdk action the definition calls, the resources
        it may act on; an action missing from it, or listed but never called, is an error.
        `pass_roles` are roles the definition hands to a service (e.g. a data access role).
        Actions whose only resource is `"*"` (AWS offers no resource-level permission for
        them) need `unscoped_reason`, which becomes their cdk-nag acknowledgment."""
        super().__init__(scope, construct_id)
        used: set[str] = set()
        definition = substitute(load_definition(definition_file), substitutions, used)
        unused = set(substitutions) - used
        if unused:
            raise DefinitionError(f"{definition_file}: substitutions never used: {sorted(unused)}")
        definition["TimeoutSeconds"] = int(timeout.to_seconds())

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=f"Execution role of the {construct_id} state machine",
        )
        self._grant_tasks(definition_file, definition, sdk_resources or {}, unscoped_reason)
        for role in pass_roles:
            self.role.add_to_policy(
                iam.PolicyStatement(actions=["iam:PassRole"], resources=[role.role_arn])
            )

        self.log_group = WorkflowLogGroup(self, "Logs")
        # Log delivery and X-Ray APIs accept only Resource "*" (AWS documents this for
        # Step Functions logging); they live in their own policy with that reason.
        unscoped_policy(
            self,
            "LogDeliveryPolicy",
            self.role,
            [
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
            ],
            "CloudWatch Logs vended-log delivery and X-Ray tracing actions used by Step "
            "Functions support only Resource '*' (Step Functions logging documentation).",
        )
        self.resource = sfn.CfnStateMachine(
            self,
            "Resource",
            definition=definition,
            role_arn=self.role.role_arn,
            state_machine_type="STANDARD",
            logging_configuration=sfn.CfnStateMachine.LoggingConfigurationProperty(
                level="ALL",
                include_execution_data=False,
                destinations=[
                    sfn.CfnStateMachine.LogDestinationProperty(
                        cloud_watch_logs_log_group=sfn.CfnStateMachine.CloudWatchLogsLogGroupProperty(
                            log_group_arn=self.log_group.log_group_arn
                        )
                    )
                ],
            ),
            tracing_configuration=sfn.CfnStateMachine.TracingConfigurationProperty(enabled=True),
        )
        self.resource.node.add_dependency(self.role)
        if self._own_execution_actions:
            self._grant_own_executions()
        self.state_machine = sfn.StateMachine.from_state_machine_arn(
            self, "Imported", self.resource.attr_arn
        )

    @property
    def state_machine_arn(self) -> str:
        return self.resource.attr_arn

    @property
    def executions_arn(self) -> str:
        """Every execution of this state machine: `...:execution:<state machine name>:*`."""
        return Fn.join(
            "",
            [
                f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:execution:",
                Fn.select(6, Fn.split(":", self.resource.attr_arn)),
                ":*",
            ],
        )

    @property
    def executions_nag_arn(self) -> str:
        """`executions_arn` as cdk-nag names it in a finding."""
        logical_id = Stack.of(self).get_logical_id(self.resource)
        name = '{"Fn::Select":[6,{"Fn::Split":[":",{"Fn::GetAtt":["' + logical_id + '","Arn"]}]}]}'
        return f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{name}:*"

    def grant_start(self, function: PythonFunction) -> None:
        """Let `function` start executions, naming the state machine in its
        `STATE_MACHINE_ARN`."""
        function.function.add_environment("STATE_MACHINE_ARN", self.state_machine_arn)
        function.add_to_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[self.state_machine_arn]
            )
        )

    def _grant_tasks(
        self,
        file_name: str,
        definition: Mapping[str, Any],
        sdk_resources: Mapping[str, Sequence[str]],
        unscoped_reason: str | None,
    ) -> None:
        sdk_called: set[str] = set()
        for name, state in task_states(definition["States"]):
            resource = state["Resource"]
            parameters = state.get("Parameters", {})
            if resource.startswith(SDK_PREFIX) or resource in OPTIMIZED:
                action = OPTIMIZED.get(resource) or sdk_action(resource)
                if action not in sdk_resources:
                    raise DefinitionError(
                        f"{file_name}: state {name} calls {action}; name its resources in "
                        "sdk_resources"
                    )
                sdk_called.add(action)
            elif resource == "arn:aws:states:::lambda:invoke":
                self._grant(["lambda:InvokeFunction"], [parameters["FunctionName"]])
            elif resource == "arn:aws:states:::sns:publish":
                self._grant(["sns:Publish"], [parameters["TopicArn"]])
            else:
                raise DefinitionError(f"{file_name}: state {name} uses unsupported {resource}")
        unused = set(sdk_resources) - sdk_called
        if unused:
            raise DefinitionError(f"{file_name}: sdk_resources never called: {sorted(unused)}")
        self._own_execution_actions = sorted(
            a for a in sdk_called if list(sdk_resources[a]) == [OWN_EXECUTIONS]
        )
        unscoped = sorted(a for a in sdk_called if list(sdk_resources[a]) == ["*"])
        for action in sorted(sdk_called - set(unscoped) - set(self._own_execution_actions)):
            if "*" in sdk_resources[action]:
                raise DefinitionError(f"{action}: '*' cannot be mixed with other resources")
            self._grant([action], list(sdk_resources[action]))
        if unscoped:
            if not unscoped_reason:
                raise DefinitionError(f"{unscoped} act on '*': give unscoped_reason")
            unscoped_policy(self, "UnscopedPolicy", self.role, unscoped, unscoped_reason)

    def _grant_own_executions(self) -> None:
        # A separate policy: the role's default policy is created before the state machine,
        # which cannot reference its own ARN.
        own = iam.Policy(
            self,
            "OwnExecutionsPolicy",
            statements=[
                iam.PolicyStatement(
                    actions=self._own_execution_actions, resources=[self.executions_arn]
                )
            ],
        )
        own.attach_to_role(self.role)
        acknowledge(
            own,
            f"AwsSolutions-IAM5[Resource::{self.executions_nag_arn}]",
            "The state machine describes its own earlier executions (to tell a live run "
            "from a stale lock); execution names exist only at run time.",
        )

    def _grant(self, actions: list[str], resources: list[str]) -> None:
        self.role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))
