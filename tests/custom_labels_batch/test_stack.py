"""The synthesized CustomLabelsBatch template and its state machine: the properties that keep
the model from running (and billing) longer than the images need, checked directly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stacks.asl_polls import read_definition
from tests.helpers.cleanup import cleanup
from tests.helpers.templates import resources, stack_template

pytestmark = pytest.mark.synth

STACK = "CustomLabelsBatch-test"
ASL = Path(__file__).resolve().parents[2] / "statemachines" / "custom_labels_batch.asl.json"
BUDGET_CHOICES = {"StartBudgetLeft", "DrainBudgetLeft", "StopBudgetLeft"}
MODEL_STARTED = "StartModel"


@pytest.fixture(scope="module")
def template(assembly_dir: Path) -> dict[str, Any]:
    return stack_template(assembly_dir, STACK)


@pytest.fixture(scope="module")
def states() -> dict[str, Any]:
    return read_definition(ASL)["States"]


def _targets(state: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(kind, next state) for every transition out of a state."""
    if "Next" in state:
        yield "next", state["Next"]
    if "Default" in state:
        yield "next", state["Default"]
    for choice in state.get("Choices", []):
        yield "next", choice["Next"]
    for catcher in state.get("Catch", []):
        yield "catch", catcher["Next"]


def _reachable(states: dict[str, Any], start: str, kinds: set[str]) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [target for kind, target in _targets(states[name]) if kind in kinds]
    return seen


def test_images_queue_up_for_a_processor_that_starts_disabled(template: dict[str, Any]) -> None:
    notifications = resources(template, "Custom::S3BucketNotifications")
    (config,) = [n["Properties"]["NotificationConfiguration"] for n in notifications.values()]
    (queue_config,) = config["QueueConfigurations"]
    assert queue_config["Events"] == ["s3:ObjectCreated:*"]
    assert "Filter" not in queue_config  # any key; the processor checks the extension itself

    (mapping,) = resources(template, "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["Enabled"] is False
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["ScalingConfig"]["MaximumConcurrency"] == 2  # one inference unit
    function = template["Resources"][props["FunctionName"]["Ref"]]["Properties"]
    queue = template["Resources"][props["EventSourceArn"]["Fn::GetAtt"][0]]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 10
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_the_schedule_starts_the_state_machine_hourly(template: dict[str, Any]) -> None:
    (rule,) = resources(template, "AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    (target,) = rule["Properties"]["Targets"]
    (machine_id,) = resources(template, "AWS::StepFunctions::StateMachine")
    assert target["Arn"] == {"Fn::GetAtt": [machine_id, "Arn"]}


def test_the_model_is_started_with_the_configured_inference_units(
    template: dict[str, Any],
) -> None:
    (machine,) = resources(template, "AWS::StepFunctions::StateMachine").values()
    definition = machine["Properties"]["Definition"]
    start = definition["States"]["StartModel"]["Parameters"]
    assert start["MinInferenceUnits"] == 1
    assert start["MaxInferenceUnits"] == 1
    assert "${" not in json.dumps(definition)
    assert definition["TimeoutSeconds"] <= 24 * 3600


def test_every_loop_passes_a_budget(states: dict[str, Any]) -> None:
    """Without the budget checks the state graph has no cycle: every wait loop is bounded."""
    graph = {
        name: [t for _, t in _targets(state) if t not in BUDGET_CHOICES]
        for name, state in states.items()
        if name not in BUDGET_CHOICES
    }
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in done:
            return
        assert name not in visiting, f"unbounded loop: {' -> '.join([*path, name])}"
        visiting.add(name)
        for target in graph[name]:
            visit(target, [*path, name])
        visiting.discard(name)
        done.add(name)

    for name in graph:
        visit(name, [])
    for budget in BUDGET_CHOICES:
        assert states[budget]["Type"] == "Choice"
        assert states[budget]["Choices"][0]["Variable"].startswith("$.config.")


def test_once_the_model_may_run_every_failure_stops_it(states: dict[str, Any]) -> None:
    """Every task between StartModel and StopModel catches all errors on a path that stops
    the model and notifies."""
    checked = 0
    for name in _reachable(states, MODEL_STARTED, {"next"}):
        state = states[name]
        if state["Type"] != "Task" or "StopModel" not in _reachable(states, name, {"next"}):
            continue
        catchers = [c for c in state.get("Catch", []) if "States.ALL" in c["ErrorEquals"]]
        assert catchers, f"{name} can fail without stopping the model"
        handled = _reachable(states, catchers[0]["Next"], {"next"})
        assert {"StopModelAfterError", "NotifyFailure", "RunFailed"} <= handled, name
        checked += 1
    assert checked >= 6
    assert states["StopModelAfterError"]["Catch"][0]["Next"] == "NotifyFailure"


def test_every_service_call_retries_throttling(states: dict[str, Any]) -> None:
    for name, state in states.items():
        if state["Type"] != "Task":
            continue
        errors = {e for retrier in state.get("Retry", []) for e in retrier["ErrorEquals"]}

        def throttling(error: str) -> bool:
            # Where the service model declares no throttling error (Step Functions), throttling
            # reaches the state as the service's base exception (`Sfn.SfnException`).
            prefix, _, rest = error.partition(".")
            return "Throttl" in rest or "TooManyRequests" in rest or rest == f"{prefix}Exception"

        assert any(throttling(e) for e in errors), name
        for retrier in state.get("Retry", []):
            assert retrier["MaxAttempts"] <= 10 and retrier.get("BackoffRate", 1) >= 1


def test_stack_deletion_stops_the_model_version_and_never_deletes_it(
    template: dict[str, Any],
) -> None:
    found = cleanup(template)
    assert found.properties["RekognitionProjectArn"] == {"Ref": "ProjectArn"}
    assert found.properties["RekognitionVersionName"] == {
        "Fn::Select": [3, {"Fn::Split": ["/", {"Ref": "ProjectVersionArn"}]}]
    }
    (machine_id,) = [
        k for k, v in template["Resources"].items()
        if v["Type"] == "AWS::StepFunctions::StateMachine"
    ]  # fmt: skip
    assert found.protects(template, machine_id)
    assert {a: r for a, r in found.grants.items() if a.startswith("rekognition:")} == {
        "rekognition:DescribeProjectVersions": {'{"Ref": "ProjectArn"}'},
        "rekognition:StopProjectVersion": {'{"Ref": "ProjectVersionArn"}'},
    }
