"""The bounded poll loop, declared once (`stacks/asl_polls.py`): what a Poll expands into, the
declarations it refuses, that the expanded loop runs and stops at its budget, and that every
poll loop of the workflows is declared as a Poll."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from stacks.asl_polls import PollDeclarationError, expand_polls, iter_polls, read_definition
from tests.helpers.statemachines import CannedService, executor

REPO_ROOT = Path(__file__).resolve().parents[2]
STATEMACHINES = sorted((REPO_ROOT / "statemachines").glob("*.asl.json"))
DESCRIBE_JOB = "arn:aws:states:::aws-sdk:translate:describeTextTranslationJob"

# Every poll loop of the workflows, by file: the Poll's (its Wait state's) name and where the
# loop's states go. A loop kept hand-written would be listed in HAND_WRITTEN with its reason.
POLLS = {
    "caption_translation.asl.json": {"WaitForJob"},
    "comprehend_model_lifecycle.asl.json": {"WaitForTraining", "WaitForJob", "WaitForEndpoint"},
    "custom_labels_batch.asl.json": {"WaitForModel", "WaitForQueue", "WaitForStop"},
    "ticket_classification_training.asl.json": {"WaitForTraining", "WaitForEndpoint"},
}
HAND_WRITTEN: dict[str, set[str]] = {}


def _poll(**changes: Any) -> dict[str, Any]:
    """A minimal Poll: a translation job described until done, at most `$.maxPolls` times."""
    poll: dict[str, Any] = {
        "Type": "Poll",
        "SecondsPath": "$.pollSeconds",
        "Describe": {
            "Name": "DescribeJob",
            "Resource": DESCRIBE_JOB,
            "Parameters": {"JobId.$": "$.jobId"},
            "ResultSelector": {"status.$": "$.TextTranslationJobProperties.JobStatus"},
            "ResultPath": "$.described",
        },
        "Status": {
            "Name": "JobStatus",
            "Variable": "$.described.status",
            "Done": {"Is": ["COMPLETED"], "Next": "Finished"},
            "Pending": ["SUBMITTED", "IN_PROGRESS"],
            "Default": "Failed",
        },
        "Budget": {
            "Order": "count-then-check",
            "Count": "CountPoll",
            "Check": "PollsLeft",
            "Counter": "$.poll.count",
            "Below": "$.maxPolls",
            "Exhausted": "TimedOut",
        },
    }
    for part, fields in changes.items():
        if isinstance(fields, dict) and isinstance(poll.get(part), dict):
            poll[part] = {k: v for k, v in {**poll[part], **fields}.items() if v is not None}
        else:
            poll[part] = fields
    return poll


def _machine(poll: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "StartAt": "Start",
        "States": {
            "Start": {
                "Type": "Pass",
                "Result": {"count": 0},
                "ResultPath": "$.poll",
                "Next": "Wait",
            },
            "Wait": poll,
            "Finished": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "JobFailed"},
            "TimedOut": {"Type": "Fail", "Error": "JobTimedOut"},
        },
    }


def _expanded(**changes: Any) -> dict[str, Any]:
    states: dict[str, Any] = expand_polls(_machine(_poll(**changes)))["States"]
    return states


def test_a_minimal_poll_expands_into_wait_describe_status_count_and_check() -> None:
    states = _expanded()
    assert list(states) == [
        "Start",
        "Wait",
        "DescribeJob",
        "JobStatus",
        "CountPoll",
        "PollsLeft",
        "Finished",
        "Failed",
        "TimedOut",
    ]
    assert states["Wait"] == {"Type": "Wait", "SecondsPath": "$.pollSeconds", "Next": "DescribeJob"}
    assert states["DescribeJob"] == {
        "Type": "Task",
        "Resource": DESCRIBE_JOB,
        "Parameters": {"JobId.$": "$.jobId"},
        "ResultSelector": {"status.$": "$.TextTranslationJobProperties.JobStatus"},
        "ResultPath": "$.described",
        "Next": "JobStatus",
    }
    assert states["JobStatus"] == {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.described.status", "StringEquals": "COMPLETED", "Next": "Finished"},
            {
                "Or": [
                    {"Variable": "$.described.status", "StringEquals": "SUBMITTED"},
                    {"Variable": "$.described.status", "StringEquals": "IN_PROGRESS"},
                ],
                "Next": "CountPoll",
            },
        ],
        "Default": "Failed",
    }
    assert states["CountPoll"] == {
        "Type": "Pass",
        "Parameters": {"count.$": "States.MathAdd($.poll.count, 1)"},
        "ResultPath": "$.poll",
        "Next": "PollsLeft",
    }
    assert states["PollsLeft"] == {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.poll.count", "NumericLessThanPath": "$.maxPolls", "Next": "Wait"}
        ],
        "Default": "TimedOut",
    }


def test_check_then_count_rebuilds_the_counters_object_and_waits_after_counting() -> None:
    states = _expanded(
        Budget={
            "Order": "check-then-count",
            "Counter": "$.poll.count",
            "Fields": ["jobId", "count"],
            "UpTo": "$.maxPolls",
            "Below": None,
            "Comment": "Bounded.",
        }
    )
    assert list(states)[2:6] == ["DescribeJob", "JobStatus", "PollsLeft", "CountPoll"]
    assert states["JobStatus"]["Choices"][1]["Next"] == "PollsLeft"
    assert states["PollsLeft"] == {
        "Type": "Choice",
        "Comment": "Bounded.",
        "Choices": [
            {
                "Variable": "$.poll.count",
                "NumericLessThanEqualsPath": "$.maxPolls",
                "Next": "CountPoll",
            }
        ],
        "Default": "TimedOut",
    }
    assert states["CountPoll"] == {
        "Type": "Pass",
        "Parameters": {"jobId.$": "$.poll.jobId", "count.$": "States.MathAdd($.poll.count, 1)"},
        "ResultPath": "$.poll",
        "Next": "Wait",
    }


def test_a_counter_directly_under_the_root_is_counted_through_a_scratch_path() -> None:
    states = _expanded(Budget={"Counter": "$.polls", "Scratch": "$.counted", "Keep": "KeepPolls"})
    assert list(states)[4:7] == ["CountPoll", "KeepPolls", "PollsLeft"]
    assert states["CountPoll"] == {
        "Type": "Pass",
        "Parameters": {"value.$": "States.MathAdd($.polls, 1)"},
        "ResultPath": "$.counted",
        "Next": "KeepPolls",
    }
    assert states["KeepPolls"] == {
        "Type": "Pass",
        "InputPath": "$.counted.value",
        "ResultPath": "$.polls",
        "Next": "PollsLeft",
    }


def test_rules_given_as_choice_rules_other_outcomes_and_pending_by_default() -> None:
    done = {"And": [{"Variable": "$.described.status", "StringEquals": "COMPLETED"}]}
    states = _expanded(
        Comment="Confirmed, not assumed.",
        Status={
            "Done": {"When": done, "Next": "Finished"},
            "Other": [{"Is": ["STOPPED"], "Next": "Failed"}],
            "Pending": "Default",
            "Default": None,
        },
    )
    assert states["Wait"]["Comment"] == "Confirmed, not assumed."
    assert states["JobStatus"] == {
        "Type": "Choice",
        "Choices": [
            {**done, "Next": "Finished"},
            {"Variable": "$.described.status", "StringEquals": "STOPPED", "Next": "Failed"},
        ],
        "Default": "CountPoll",
    }


def test_a_describe_with_its_own_next_keeps_it_and_must_lead_to_the_status_check() -> None:
    machine = _machine(_poll(Describe={"Next": "PickStatus"}))
    machine["States"]["PickStatus"] = {"Type": "Pass", "Next": "JobStatus"}
    states = expand_polls(machine)["States"]
    assert states["DescribeJob"]["Next"] == "PickStatus"

    machine["States"]["PickStatus"]["Next"] = "Finished"
    with pytest.raises(PollDeclarationError, match="Poll state Wait: Describe Next PickStatus"):
        expand_polls(machine)


def test_polls_inside_map_and_parallel_states_are_expanded_and_the_input_is_left_alone() -> None:
    inner = _machine(_poll())
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {"Type": "Map", "ItemProcessor": inner, "Next": "Both"},
            "Both": {"Type": "Parallel", "Branches": [copy.deepcopy(inner)], "End": True},
        },
    }
    before = copy.deepcopy(definition)
    expanded = expand_polls(definition)
    assert definition == before
    for processor in (
        expanded["States"]["Each"]["ItemProcessor"],
        expanded["States"]["Both"]["Branches"][0],
    ):
        assert processor["States"]["Wait"]["Type"] == "Wait"
        assert "PollsLeft" in processor["States"]
    assert [name for name, _ in iter_polls(definition)] == ["Wait", "Wait"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"SecondsPath": None}, "the Poll lacks SecondsPath"),
        ({"Seconds": 5}, "the Poll has unknown Seconds"),
        ({"Describe": {"Type": "Task"}}, "Describe is always a Task"),
        ({"Describe": {"Resource": None}}, "Describe lacks Resource"),
        ({"Describe": {"Name": None}}, "Describe Name names a state"),
        ({"Status": {"Pending": None}}, "Status lacks Pending"),
        ({"Status": {"Default": None}}, "Status lacks Default"),
        ({"Status": {"Pending": "Default"}}, "remove Status Default"),
        ({"Status": {"Pending": "IN_PROGRESS"}}, "Status Pending is a list of statuses"),
        ({"Status": {"Variable": None}}, "give Status a Variable"),
        ({"Status": {"Done": {"Next": "Finished"}}}, "Status Done needs one of Is or When"),
        (
            {"Status": {"Done": {"When": {"Next": "X"}, "Next": "Finished"}}},
            "When is a Choice rule without Next",
        ),
        ({"Budget": {"Order": "count-first"}}, "Budget Order is one of"),
        ({"Budget": {"UpTo": "$.maxPolls"}}, "Budget needs one of Below or UpTo"),
        ({"Budget": {"Below": None}}, "Budget needs one of Below or UpTo"),
        ({"Budget": {"Counter": "$.poll[0]"}}, "Budget Counter is a path of field names"),
        ({"Budget": {"Counter": "$.polls"}}, "counted through Scratch"),
        ({"Budget": {"Scratch": "$.counted"}}, "Scratch and Keep serve only"),
        ({"Budget": {"Fields": ["jobId"]}}, "Budget Fields lists the fields of $.poll"),
        ({"Budget": {"Exhausted": None}}, "Budget lacks Exhausted"),
        ({"Budget": {"Check": "CountPoll"}}, "state CountPoll is defined twice"),
        ({"Budget": {"Count": "Finished"}}, "state Finished is defined twice"),
    ],
)
def test_a_malformed_poll_is_refused_naming_its_state(
    changes: dict[str, Any], message: str
) -> None:
    poll = _poll(**{k: v for k, v in changes.items() if v is not None})
    for part, value in changes.items():
        if value is None:
            del poll[part]
    with pytest.raises(PollDeclarationError, match=r"Poll state Wait\b") as refused:
        expand_polls(_machine(poll))
    assert message in str(refused.value)


def _runs_until(order: str, limit: str, statuses: list[str]) -> tuple[str, int]:
    """How a run of the expanded minimal Poll ends, and how many times it described the job."""
    budget = {"Order": order, "Below": None, limit: "$.maxPolls"}
    machine = expand_polls(_machine(_poll(Budget=budget)))
    translate = CannedService("translate", {})
    answers = iter(statuses)

    def describe(request: Any, operation: str) -> Any:
        translate.results[operation] = {
            "TextTranslationJobProperties": {"JobId": "job", "JobStatus": next(answers)}
        }
        return translate.responder()(request, operation)

    with executor() as sfn:
        sfn.answer("translate", "DescribeTextTranslationJob", describe)
        run = sfn.run(machine, {"jobId": "job", "pollSeconds": 1, "maxPolls": 2})
    return (run.error or run.status), len(translate.calls)


@pytest.mark.parametrize(
    ("order", "limit", "describes"),
    [
        ("count-then-check", "Below", 2),
        ("count-then-check", "UpTo", 3),
        ("check-then-count", "Below", 3),
    ],
)
def test_a_job_that_never_finishes_ends_the_loop_when_its_budget_is_spent(
    order: str, limit: str, describes: int
) -> None:
    assert _runs_until(order, limit, ["IN_PROGRESS"] * 10) == ("JobTimedOut", describes)


def test_a_job_that_finishes_within_the_budget_leaves_the_loop_done() -> None:
    assert _runs_until("count-then-check", "Below", ["SUBMITTED", "COMPLETED"]) == ("SUCCEEDED", 2)


def _states_levels(definition: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield definition["States"]
    for state in definition["States"].values():
        for branch in state.get("Branches", []):
            yield from _states_levels(branch)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from _states_levels(state[key])


def _transitions(state: Mapping[str, Any]) -> set[str]:
    targets = {state[key] for key in ("Next", "Default") if key in state}
    targets |= {choice["Next"] for choice in state.get("Choices", [])}
    return targets | {catcher["Next"] for catcher in state.get("Catch", [])}


def _has_cycle(states: Mapping[str, Any], leaving_out: set[str]) -> list[str]:
    """A cycle of transitions that passes none of `leaving_out`, or []."""
    graph = {
        name: _transitions(state) - leaving_out
        for name, state in states.items()
        if name not in leaving_out
    }
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str]:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return []
        for target in sorted(graph.get(name, ())):
            found = visit(target, [*path, name])
            if found:
                return found
        done.add(name)
        return []

    for name in graph:
        found = visit(name, [])
        if found:
            return found
    return []


@pytest.mark.parametrize("path", STATEMACHINES, ids=lambda p: p.name)
def test_every_poll_loop_of_the_workflows_is_declared_as_a_poll(path: Path) -> None:
    """No Wait state is written by hand, and with the Polls' waits left out no transitions
    form a cycle: every loop of the workflow is a declared, bounded Poll."""
    source = json.loads(path.read_text())
    polls = {name for name, _ in iter_polls(source)}
    assert polls == POLLS[path.name]
    hand_written = HAND_WRITTEN.get(path.name, set())
    waits = {
        name
        for states in _states_levels(source)
        for name, state in states.items()
        if state.get("Type") == "Wait"
    }
    assert waits == hand_written
    for states in _states_levels(read_definition(path)):
        assert _has_cycle(states, polls | hand_written) == []
