"""The synthesized ComprehendModelLifecycle template: the properties that matter, checked
directly, and the state machine's definition read as a graph."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.templates import assert_function_defaults, resources, stack_template

pytestmark = pytest.mark.synth

STACK = "ComprehendModelLifecycle-test"
FAILURE_NOTIFICATION = "NotifyFailure"
# Throttling errors each integration must retry, by task resource.
THROTTLING = {
    "arn:aws:states:::lambda:invoke": "Lambda.TooManyRequestsException",
    "arn:aws:states:::sns:publish": "SNS.ThrottledException",
    "arn:aws:states:::dynamodb:deleteItem": "DynamoDB.ThrottlingException",
    "arn:aws:states:::aws-sdk:ssm:": "Ssm.ThrottlingException",
    "arn:aws:states:::aws-sdk:comprehend:": "Comprehend.TooManyRequestsException",
}


@pytest.fixture(scope="module")
def template(assembly_dir: Path) -> dict[str, Any]:
    return stack_template(assembly_dir, STACK)


@pytest.fixture(scope="module")
def definition(template: dict[str, Any]) -> dict[str, Any]:
    (machine,) = resources(template, "AWS::StepFunctions::StateMachine").values()
    return dict(machine["Properties"]["Definition"])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, policy in resources(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            yield name, statement


def _text(value: Any) -> str:
    """An ARN from the template as text, intrinsic functions flattened into it."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(_text(part) for part in value["Fn::Join"][1])
    return json.dumps(value, sort_keys=True)


# --- Resources and permissions -------------------------------------------------------------------


def test_no_policy_grants_every_action_or_a_whole_service(template: dict[str, Any]) -> None:
    for name, statement in _statements(template):
        for action in _as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), f"{name} grants {action}"


def test_unscoped_resources_are_only_for_actions_aws_cannot_scope(
    template: dict[str, Any],
) -> None:
    unscopable = re.compile(r"^(xray|logs):|^comprehend:ListDocumentClassifiers$")
    for name, statement in _statements(template):
        if statement["Resource"] == "*":
            actions = _as_list(statement["Action"])
            assert all(unscopable.match(a) for a in actions), f"{name}: {actions} on *"


def test_comprehend_grants_name_only_this_workflows_models_endpoint_and_jobs(
    template: dict[str, Any],
) -> None:
    (classifier,) = {
        match
        for _, statement in _statements(template)
        for resource in _as_list(statement["Resource"])
        for match in re.findall(r"document-classifier/(cml-[0-9a-f]{8})", _text(resource))
    }
    allowed = re.compile(
        rf":document-classifier/{classifier}/version/\*$"
        rf"|:document-classifier-endpoint/{classifier}-endpoint$"
        r"|:document-classification-job/\*$"
    )
    actions = set()
    for name, statement in _statements(template):
        comprehend = [a for a in _as_list(statement["Action"]) if a.startswith("comprehend:")]
        if not comprehend or statement["Resource"] == "*":
            continue
        actions.update(comprehend)
        for resource in _as_list(statement["Resource"]):
            assert allowed.search(_text(resource)), f"{name}: {comprehend} on {resource}"
    assert "comprehend:CreateDocumentClassifier" in actions
    assert "comprehend:DeleteDocumentClassifier" in actions


def test_the_comprehend_data_access_role_is_guarded_and_reaches_only_round_data(
    template: dict[str, Any],
) -> None:
    roles = resources(template, "AWS::IAM::Role")
    (logical_id,) = [k for k in roles if k.startswith("ComprehendDataAccessRole")]
    (trust,) = roles[logical_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "comprehend.amazonaws.com"}
    assert set(trust["Condition"]) == {"StringEquals", "ArnLike"}
    (policy,) = [
        p["Properties"]
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": logical_id} in p["Properties"]["Roles"]
    ]
    for statement in policy["PolicyDocument"]["Statement"]:
        for resource in _as_list(statement["Resource"]):
            text = _text(resource)
            if statement["Action"] == "s3:ListBucket":
                assert statement["Condition"] == {"StringLike": {"s3:prefix": ["rounds/*"]}}
            else:
                assert re.search(r"/rounds/(\*/jobs/)?\*$", text), f"{statement['Action']} {text}"


def test_uploads_reach_intake_through_a_queue_with_a_dead_letter_queue(
    template: dict[str, Any],
) -> None:
    (notifications,) = resources(template, "Custom::S3BucketNotifications").values()
    (queue_config,) = notifications["Properties"]["NotificationConfiguration"][
        "QueueConfigurations"
    ]
    assert queue_config["Events"] == ["s3:ObjectCreated:*"]
    assert queue_config["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "train/"}]
    queues = resources(template, "AWS::SQS::Queue")
    assert len(queues) == 2
    (source_id,) = [k for k, q in queues.items() if "RedrivePolicy" in q["Properties"]]
    redrive = queues[source_id]["Properties"]["RedrivePolicy"]
    dead_letters = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert dead_letters in queues and dead_letters != source_id
    assert redrive["maxReceiveCount"] >= 10  # an upload may wait out several rounds
    assert queue_config["QueueArn"] == {"Fn::GetAtt": [source_id, "Arn"]}
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    # Anything dead-lettered raises an alarm on the round notifications topic.
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    assert any(
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letters, "QueueName"]}}
        in alarm["Properties"].get("Dimensions", [])
        for alarm in alarms
    )


def test_queue_visibility_covers_six_intake_timeouts(template: dict[str, Any]) -> None:
    (mapping,) = resources(template, "AWS::Lambda::EventSourceMapping").values()
    function = template["Resources"][mapping["Properties"]["FunctionName"]["Ref"]]
    assert function["Properties"]["Handler"] == "lambdas.comprehend_model_lifecycle.intake.handler"
    queue = template["Resources"][mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]]
    timeout = function["Properties"]["Timeout"]
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * timeout
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_functions_use_the_project_defaults(template: dict[str, Any]) -> None:
    functions = {
        k: f for k, f in resources(template, "AWS::Lambda::Function").items()
        if not k.startswith("BucketNotificationsHandler")
        and not k.startswith("EndpointKeeper")  # its own settings: tests/common
    }  # fmt: skip
    handlers = {f["Properties"]["Handler"] for f in functions.values()}
    assert handlers == {
        f"lambdas.comprehend_model_lifecycle.{m}.handler"
        for m in ("intake", "prepare_round", "evaluate_round", "finish_round")
    } | {"lambdas.cleanup.destroy.handler"}
    for function in functions.values():
        props = function["Properties"]
        assert_function_defaults(props)
        if props["Handler"] == "lambdas.cleanup.destroy.handler":
            assert props["Timeout"] == 900  # the longest a function runs: time to wait
            continue
        variables = props["Environment"]["Variables"]
        assert variables["SELECTION_METRIC"] == "F1"
        assert variables["CLASSIFIER_MODE"] == "MULTI_CLASS"
        assert variables["TEST_PERCENT"] == "10"


def test_the_state_table_recovers_and_expires_consumed_uploads(template: dict[str, Any]) -> None:
    (table,) = [
        t for k, t in resources(template, "AWS::DynamoDB::Table").items() if k.startswith("State")
    ]
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert table["DeletionPolicy"] == "Retain"


def test_the_live_model_is_recorded_in_the_documented_parameters(
    template: dict[str, Any], definition: dict[str, Any]
) -> None:
    outputs = {k: v["Value"] for k, v in template["Outputs"].items()}
    assert outputs["ClassifierParameterName"] == f"/{STACK}/CURRENT_CLASSIFIER_ARN"
    assert outputs["EndpointParameterName"] == f"/{STACK}/CURRENT_ENDPOINT_ARN"
    states = definition["States"]
    assert states["RecordLiveModel"]["Parameters"]["Name"] == f"/{STACK}/CURRENT_CLASSIFIER_ARN"
    assert states["RecordLiveEndpoint"]["Parameters"]["Name"] == f"/{STACK}/CURRENT_ENDPOINT_ARN"


# --- The state machine ---------------------------------------------------------------------------


def _successors(state: dict[str, Any]) -> list[str]:
    found = [state[key] for key in ("Next", "Default") if key in state]
    found += [choice["Next"] for choice in state.get("Choices", [])]
    found += [catch["Next"] for catch in state.get("Catch", [])]
    return found


def _scopes(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The top-level states and those of every Map processor."""
    yield definition["States"]
    for state in definition["States"].values():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield processor["States"]


def _increments(state: dict[str, Any]) -> set[str]:
    """The paths a Pass state sets to another path plus one."""
    found = set()
    result_path = state.get("ResultPath", "$")
    for key, value in (state.get("Parameters") or {}).items():
        match = re.fullmatch(r"States\.MathAdd\((\$[\w.]+), 1\)", str(value))
        if state["Type"] == "Pass" and match and key.endswith(".$"):
            found.add(f"{result_path}.{key[:-2]}")
    return found


def _reachable(states: dict[str, Any], start: str, avoiding: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name == avoiding:
            continue
        seen.add(name)
        todo += _successors(states[name])
    return seen


def _has_cycle(graph: dict[str, list[str]]) -> bool:
    colour: dict[str, int] = {}

    def visit(name: str) -> bool:
        colour[name] = 1
        for successor in graph[name]:
            if colour.get(successor) == 1 or (successor not in colour and visit(successor)):
                return True
        colour[name] = 2
        return False

    return any(name not in colour and visit(name) for name in graph)


def test_every_loop_counts_its_iterations_against_a_budget(definition: dict[str, Any]) -> None:
    """A budget guard is a Choice rule that goes round again only while a counter, which a
    Pass state on the way back adds one to, is below a `$.config.max...` value. Without the
    guards' edges no loop may remain."""
    config = definition["States"]["Configure"]["Result"]
    guards = []
    for states in _scopes(definition):
        graph = {name: _successors(state) for name, state in states.items()}
        for name, state in states.items():
            for choice in state.get("Choices", []):
                budget = choice.get("NumericLessThanPath") or choice.get(
                    "NumericLessThanEqualsPath"
                )
                if not (budget and budget.startswith("$.config.max")):
                    continue
                assert isinstance(config[budget.removeprefix("$.config.")], int)
                # A state after the guard, before coming back to it, adds one to the counter.
                on_the_way_back = _reachable(states, choice["Next"], avoiding=name)
                assert any(
                    choice["Variable"] in _increments(states[n])
                    and name in _reachable(states, n, avoiding="")
                    for n in on_the_way_back
                ), f"{name}: {choice['Variable']} is not counted on the way round"
                graph[name] = [n for n in graph[name] if n != choice["Next"]]
                guards.append(name)
        assert not _has_cycle(graph), f"a loop without a budget among {sorted(states)}"
    assert sorted(guards) == [
        "EndpointPollBudget", "JobPollBudget", "MoreRounds", "TrainingPollBudget"
    ]  # fmt: skip


def test_every_poll_budget_is_a_positive_whole_number(definition: dict[str, Any]) -> None:
    config = definition["States"]["Configure"]["Result"]
    assert config["pollSeconds"] > 0
    for name, value in config.items():
        if name.startswith("max"):
            assert isinstance(value, int) and value >= 1, name
    # The budgets cover the defaults (6 hours of training at one poll a minute) and the
    # execution ends, with a notification, before its timeout.
    assert config["maxTrainingPolls"] * config["pollSeconds"] == 6 * 3600
    assert definition["TimeoutSeconds"] >= config["maxRounds"] * config["pollSeconds"] * (
        config["maxTrainingPolls"] + config["maxJobPolls"] + config["maxEndpointPolls"]
    )


def _all_paths_reach(states: dict[str, Any], start: str, goal: str) -> bool:
    """Whether every path from `start` passes through `goal` before the execution ends."""

    def reaches(name: str, seen: frozenset[str]) -> bool:
        if name == goal:
            return True
        state = states[name]
        successors = _successors(state)
        if name in seen or not successors or state["Type"] in ("Succeed", "Fail"):
            return False
        return all(reaches(s, seen | {name}) for s in successors)

    return reaches(start, frozenset())


def test_every_failure_is_caught_and_ends_in_a_failure_notification(
    definition: dict[str, Any],
) -> None:
    states = definition["States"]
    notifications = {
        n for n, s in states.items() if s.get("Resource") == "arn:aws:states:::sns:publish"
    }
    lock_releases = {
        n for n, s in states.items() if s.get("Resource") == "arn:aws:states:::dynamodb:deleteItem"
    }
    failure_catches = 0
    for name, state in states.items():
        if state["Type"] not in ("Task", "Map"):
            continue
        catches = {
            catch["Next"]
            for catch in state.get("Catch", [])
            if catch["ErrorEquals"] == ["States.ALL"]
        }
        if name in notifications:
            assert catches, f"{name}: a failed notification must still end the round"
            continue
        if name in lock_releases:
            continue  # after the notification; a lock left behind is taken over as stale
        if name == "WakeKeeper":
            # The promoted model serves; telling the keeper is best effort after retries.
            assert catches == {state["Next"]}
            continue
        assert catches, f"{name} has no catch-all"
        for target in catches:
            failure_catches += 1
            assert _all_paths_reach(states, target, FAILURE_NOTIFICATION), (
                f"a failure of {name} can end without a failure notification"
            )
    assert failure_catches >= 15
    notify = states[FAILURE_NOTIFICATION]
    assert notify["Resource"] == "arn:aws:states:::sns:publish"
    assert "$.error.Error" in notify["Parameters"]["Message.$"]
    assert "$.error.Cause" in notify["Parameters"]["Message.$"]
    # The execution still fails after notifying, for the failure alarm.
    assert _all_paths_reach(states, FAILURE_NOTIFICATION, "Failed")


def test_every_status_an_asynchronous_resource_can_end_in_is_handled(
    definition: dict[str, Any],
) -> None:
    states = definition["States"]
    job_states = definition["States"]["ClassifyTestSet"]["ItemProcessor"]["States"]
    checks = [
        (states, "TrainingStatus", {"TRAINED", "TRAINED_WITH_WARNING"}, {"SUBMITTED", "TRAINING"}),
        (job_states, "JobStatus", {"COMPLETED"}, {"SUBMITTED", "IN_PROGRESS", "STOP_REQUESTED"}),
        (states, "EndpointStatus", {"IN_SERVICE"}, {"CREATING", "UPDATING", "IN_SERVICE"}),
    ]
    for scope, name, done, waiting in checks:
        choice = scope[name]
        compared = {
            rule["StringEquals"]
            for choice_rule in choice["Choices"]
            for rule in [choice_rule, *choice_rule.get("Or", []), *choice_rule.get("And", [])]
            if "StringEquals" in rule
        }
        assert done | waiting <= compared, name
        # Anything else (IN_ERROR, FAILED, STOPPED, DELETING, ...) is a failure.
        default = choice["Default"]
        if scope is states:
            assert _all_paths_reach(states, default, FAILURE_NOTIFICATION), name
        else:
            assert scope[default]["Type"] == "Fail", name
    assert any(c["ErrorEquals"] == ["States.ALL"] for c in states["ClassifyTestSet"]["Catch"])


def _tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        processor = state.get("ItemProcessor")
        if processor:
            yield from _tasks(processor["States"])


def test_every_task_retries_its_services_throttling_with_a_bounded_backoff(
    definition: dict[str, Any],
) -> None:
    tasks = list(_tasks(definition["States"]))
    assert len(tasks) >= 20
    for name, state in tasks:
        (throttling,) = [e for r, e in THROTTLING.items() if state["Resource"].startswith(r)]
        retried = {error for retry in state.get("Retry", []) for error in retry["ErrorEquals"]}
        assert throttling in retried, f"{name} does not retry {throttling}"
        caught = {error for catch in state.get("Catch", []) for error in catch["ErrorEquals"]}
        for retry in state["Retry"]:
            if retry["MaxAttempts"] == 0:  # an outcome the Catch expects is not retried
                assert set(retry["ErrorEquals"]) <= caught, name
                continue
            assert 1 <= retry["MaxAttempts"] <= 10 and retry["BackoffRate"] >= 1, name
        if state["Resource"] == "arn:aws:states:::lambda:invoke":
            assert 0 < state["TimeoutSeconds"] <= 960, name


def test_the_endpoint_moves_to_a_better_model_in_place(definition: dict[str, Any]) -> None:
    states = definition["States"]
    update = states["UpdateEndpoint"]
    assert update["Resource"] == "arn:aws:states:::aws-sdk:comprehend:updateEndpoint"
    assert update["Parameters"] == {
        "EndpointArn.$": "$.endpoint.arn",
        "DesiredModelArn.$": "$.candidate.arn",
    }
    # The live model is recorded only once the endpoint serves the candidate.
    (served,) = [choice for choice in states["EndpointStatus"]["Choices"] if "And" in choice]
    assert {"Variable": "$.endpointState.modelArn", "StringEqualsPath": "$.candidate.arn"} in (
        served["And"]
    )
    assert served["Next"] == "RecordLiveModel"
    assert states["Decide"]["Choices"] == [
        {"Variable": "$.evaluation.value.decision", "StringEquals": "promoted",
         "Next": "ReadLiveEndpoint"}
    ]  # fmt: skip


def test_an_endpoint_a_round_created_and_that_failed_is_deleted(
    definition: dict[str, Any],
) -> None:
    states = definition["States"]
    for name in ("EndpointFailed", "EndpointTimedOut"):
        assert _all_paths_reach(states, name, FAILURE_NOTIFICATION)
        assert states[name]["Next"] == "CleanUpNewEndpoint"
    clean_up = states["CleanUpNewEndpoint"]
    # Only when this round found no live endpoint, i.e. created it: a live one stays.
    assert clean_up["Choices"] == [
        {"Variable": "$.noEndpoint", "IsPresent": True, "Next": "DeleteNewEndpoint"}
    ]
    assert states["ReadLiveEndpoint"]["Catch"][0]["ResultPath"] == "$.noEndpoint"
    assert states["DeleteNewEndpoint"]["Resource"].endswith(":comprehend:deleteEndpoint")


def test_the_round_notification_names_the_rejected_uploads(definition: dict[str, Any]) -> None:
    states = definition["States"]
    payload = states["EvaluateRound"]["Parameters"]["Payload"]
    assert payload["rejected.$"] == "$.plan.value.rejected"
    assert states["NotifyRound"]["Parameters"]["Message.$"] == (
        "States.JsonToString($.evaluation.value)"
    )
    assert states["NotifyNotTrained"]["Parameters"]["Message.$"] == (
        "States.JsonToString($.plan.value)"
    )


def test_both_models_classify_the_same_test_documents(definition: dict[str, Any]) -> None:
    classify = definition["States"]["ClassifyTestSet"]
    assert classify["ItemsPath"] == "$.evaluate.models"
    assert classify["ItemSelector"]["testDocumentsUri.$"] == "$.plan.value.testDocumentsUri"
    start = classify["ItemProcessor"]["States"]["StartClassificationJob"]["Parameters"]
    assert start["InputDataConfig"] == {
        "S3Uri.$": "$.testDocumentsUri",
        "InputFormat": "ONE_DOC_PER_LINE",
    }
    assert definition["States"]["EvaluateBoth"]["Parameters"] == {
        "models.$": "States.Array($.roles.candidate, $.roles.current)"
    }


def test_stack_deletion_removes_the_endpoint_and_classifier_versions_the_rounds_created(
    template: dict[str, Any], definition: dict[str, Any]
) -> None:
    (cleanup_id, cleanup) = next(iter(resources(template, "Custom::RuntimeCleanup").items()))
    props = cleanup["Properties"]
    assert props["StackName"] == {"Ref": "AWS::StackName"}
    (endpoint_arn,) = props["ComprehendEndpointArns"]
    (classifier,) = props["ComprehendClassifierNames"]
    endpoint_name = definition["States"]["CreateEndpoint"]["Parameters"]["EndpointName"]
    assert _text(endpoint_arn).endswith(f":document-classifier-endpoint/{endpoint_name}")
    assert definition["States"]["TrainCandidate"]["Parameters"]["DocumentClassifierName"] == (
        classifier
    )
    # The resources the workflow creates carry the stack's name.
    for state in ("TrainCandidate", "CreateEndpoint"):
        assert definition["States"][state]["Parameters"]["Tags"] == [
            {"Key": "StackName", "Value": {"Ref": "AWS::StackName"}}
        ]
    # The state machine and Intake (which starts it) are deleted before the cleanup runs.
    (machine_id,) = resources(template, "AWS::StepFunctions::StateMachine")
    assert cleanup_id in template["Resources"][machine_id].get("DependsOn", [])
    # Its role may delete exactly this endpoint and this classifier's versions.
    function_id = props["ServiceToken"]["Fn::GetAtt"][0]
    role_id = template["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    granted: dict[str, set[str]] = {}
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for action in _as_list(statement["Action"]):
                granted.setdefault(action, set()).update(
                    _text(r) for r in _as_list(statement["Resource"])
                )
    version_arn = f":document-classifier/{classifier}/version/*"
    assert {a for a in granted if a.startswith("comprehend:")} == {
        "comprehend:DescribeEndpoint", "comprehend:DeleteEndpoint",
        "comprehend:ListDocumentClassifiers", "comprehend:StopTrainingDocumentClassifier",
        "comprehend:DeleteDocumentClassifier",
    }  # fmt: skip
    assert granted["comprehend:DeleteEndpoint"] == {_text(endpoint_arn)}
    assert granted["comprehend:ListDocumentClassifiers"] == {"*"}
    (version,) = granted["comprehend:DeleteDocumentClassifier"]
    assert version.endswith(version_arn)
