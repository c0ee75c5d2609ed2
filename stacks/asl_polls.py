"""Bounded poll loops, declared once in an ASL file and expanded into plain ASL.

A workflow that waits for a job, a model or an endpoint runs the same loop each time: wait,
describe the resource, choose on its status, and count the poll against a budget that ends the
loop when it is spent. An ASL file in `statemachines/` declares such a loop as one pseudo-state
of type `Poll`, named after the loop's Wait state. `expand_polls` turns every Poll (at any depth:
Map processors and Parallel branches too) into plain states when the file is read, before its
`${Placeholder}`s are substituted, so the stacks, the tests and the local cloud see the same ASL.

    "WaitForJob": {
      "Type": "Poll",
      "SecondsPath": "$.limits.pollSeconds",
      "Describe": {
        "Name": "DescribeTranslationJob",
        "Resource": "arn:aws:states:::aws-sdk:translate:describeTextTranslationJob",
        "Parameters": {"JobId.$": "$.started.jobId"},
        "ResultSelector": {"status.$": "$.TextTranslationJobProperties.JobStatus"},
        "ResultPath": "$.described",
        "Retry": [...],
        "Catch": [...]
      },
      "Status": {
        "Name": "CheckJobStatus",
        "Variable": "$.described.status",
        "Done": {"Is": ["COMPLETED", "COMPLETED_WITH_ERROR"], "Next": "JobFinished"},
        "Pending": ["SUBMITTED", "IN_PROGRESS"],
        "Other": [{"Is": ["FAILED"], "Next": "JobFailed"}],
        "Default": "UnexpectedJobStatus"
      },
      "Budget": {
        "Order": "count-then-check",
        "Count": "CountPoll",
        "Check": "PollBudgetLeft",
        "Counter": "$.poll.count",
        "Below": "$.limits.maxPolls",
        "Exhausted": "StopTranslationJob"
      }
    }

expands into

    WaitForJob              Wait SecondsPath, then DescribeTranslationJob
    DescribeTranslationJob  the Task as declared, then CheckJobStatus
    CheckJobStatus          Choice: Done, then Pending (to the budget), then each of Other;
                            anything else goes to Default
    CountPoll               Pass: $.poll.count + 1
    PollBudgetLeft          Choice: $.poll.count < $.limits.maxPolls -> WaitForJob,
                            otherwise StopTranslationJob

The parts of a Poll:

- `SecondsPath` (the Wait's), and an optional `Comment`, which the Wait state carries.
- `Describe`: the Task's own fields, without `Type`, and its state `Name`. It continues to the
  status check unless it gives a `Next` of its own: states written by hand between the two
  (e.g. picking a status out of a list) must then lead to the status check.
- `Status`: the Choice's `Name`, optional `Comment`, and the rules. `Done` and each of `Other`
  are `{"Is": [statuses], "Next": state}`, compared with `Variable`, or `{"When": rule, "Next":
  state}` with `rule` any Choice rule without `Next`. `Pending` lists the statuses that poll
  again; `"Pending": "Default"` polls again on every value no rule matches, and then the
  declaration has no `Default` of its own.
- `Budget`: the names of the states that `Check` the counter and `Count` a poll, in the
  `Order` "check-then-count" (check, add one, wait) or "count-then-check" (add one, check,
  wait); the `Counter` path; the maximum, `Below` (counter < maximum) or `UpTo` (counter <=
  maximum), both paths; where the loop goes when the budget is spent (`Exhausted`); an optional
  `Comment` for the check. Starting from 0, "count-then-check" with `Below` N describes the
  resource at most N times; with `UpTo` N, or "check-then-count" with `Below` N, N + 1 times.
  A count rebuilds the object that holds the counter, so `Fields` lists that object's fields,
  in order, when it holds more than the counter (the others are copied). A counter directly
  under `$` cannot be rebuilt so: a first Pass writes the count to a `Scratch` path and a
  second, named `Keep`, copies it back.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

POLL = "Poll"
ORDERS = ("check-then-count", "count-then-check")
LIMITS = {"Below": "NumericLessThanPath", "UpTo": "NumericLessThanEqualsPath"}
FIELD_PATH = re.compile(r"\$(\.[A-Za-z_][A-Za-z0-9_]*)+")


class PollDeclarationError(ValueError):
    """A Poll pseudo-state that does not say all its loop needs, or says something it cannot."""


def read_definition(path: Path) -> dict[str, Any]:
    """The ASL file at `path`, its Poll loops expanded."""
    return expand_polls(json.loads(path.read_text(encoding="utf-8")))


def expand_polls(definition: Mapping[str, Any]) -> dict[str, Any]:
    """`definition` (a state machine, a Map's processor or a Parallel branch) with every Poll,
    at any depth, replaced by the plain states of its loop. The input is left as it was."""
    states: dict[str, Any] = {}
    for name, state in definition["States"].items():
        expanded = _poll(name, state) if state.get("Type") == POLL else [(name, _nested(state))]
        for state_name, plain in expanded:
            if state_name in states or (state_name != name and state_name in definition["States"]):
                raise PollDeclarationError(
                    f"state {state_name} is defined twice"
                    + (f" (Poll state {name} generates it)" if state_name != name else "")
                )
            states[state_name] = plain
    for name, state in definition["States"].items():
        if state.get("Type") == POLL and "Next" in state["Describe"]:
            _check_leads_to_status(name, state, states)
    return {**definition, "States": states}


def _check_leads_to_status(name: str, poll: Mapping[str, Any], states: Mapping[str, Any]) -> None:
    """A Describe with a Next of its own must still reach the Poll's status check."""
    status = poll["Status"]["Name"]
    seen, pending = set(), [poll["Describe"]["Next"]]
    while pending:
        current = pending.pop()
        if current == status:
            return
        if current in seen or current not in states:
            continue
        seen.add(current)
        state = states[current]
        pending += [state[key] for key in ("Next", "Default") if key in state]
        pending += [rule["Next"] for rule in state.get("Choices", []) if "Next" in rule]
    raise PollDeclarationError(
        f"Poll state {name}: Describe Next {poll['Describe']['Next']} never leads to the status "
        f"check {status}"
    )


def iter_polls(definition: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(name, declaration) of every Poll in an unexpanded definition, at any depth."""
    for name, state in definition["States"].items():
        if state.get("Type") == POLL:
            yield name, state
        for branch in state.get("Branches", []):
            yield from iter_polls(branch)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from iter_polls(state[key])


def _nested(state: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(state)
    if "Branches" in result:
        result["Branches"] = [expand_polls(branch) for branch in result["Branches"]]
    for key in ("ItemProcessor", "Iterator"):
        if key in result:
            result[key] = expand_polls(result[key])
    return result


def _poll(name: str, poll: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    _keys(
        name, "the Poll", poll, {"Type", "SecondsPath", "Describe", "Status", "Budget"}, {"Comment"}
    )
    describe = _part(name, poll, "Describe")
    status = _part(name, poll, "Status")
    budget = _part(name, poll, "Budget")
    if "Type" in describe or "End" in describe:
        raise PollDeclarationError(
            f"Poll state {name}: Describe is always a Task that continues; leave out Type and End"
        )
    describe_name = _name(name, describe, "Describe", "Name")
    status_name = _name(name, status, "Status", "Name")
    if "Resource" not in describe:
        raise PollDeclarationError(f"Poll state {name}: Describe lacks Resource")

    budget_entry, budget_states = _budget(name, budget, wait=name)
    wait: dict[str, Any] = {"Type": "Wait"}
    if "Comment" in poll:
        wait["Comment"] = poll["Comment"]
    wait["SecondsPath"] = poll["SecondsPath"]
    wait["Next"] = describe_name
    task = {"Type": "Task", **{k: copy.deepcopy(v) for k, v in describe.items() if k != "Name"}}
    task.setdefault("Next", status_name)
    return [
        (name, wait),
        (describe_name, task),
        (status_name, _status(name, status, budget_entry)),
        *budget_states,
    ]


def _status(poll: str, status: Mapping[str, Any], budget_entry: str) -> dict[str, Any]:
    _keys(
        poll,
        "Status",
        status,
        {"Name", "Done", "Pending"},
        {"Variable", "Comment", "Other", "Default"},
    )
    variable = status.get("Variable")
    rules = [_rule(poll, "Status Done", status["Done"], variable)]
    pending = status["Pending"]
    if pending == "Default":
        if "Default" in status:
            raise PollDeclarationError(
                f"Poll state {poll}: with Pending Default, the default is the poll budget; "
                "remove Status Default"
            )
        default = budget_entry
    elif _strings(pending):
        rules.append(_rule(poll, "Status Pending", {"Is": pending, "Next": budget_entry}, variable))
        if "Default" not in status:
            raise PollDeclarationError(
                f"Poll state {poll}: Status lacks Default, where a status neither done, pending "
                "nor in Other goes"
            )
        default = status["Default"]
    else:
        raise PollDeclarationError(
            f'Poll state {poll}: Status Pending is a list of statuses or "Default"'
        )
    other = status.get("Other", [])
    if not isinstance(other, list):
        raise PollDeclarationError(f"Poll state {poll}: Status Other is a list of rules")
    rules += [_rule(poll, "Status Other", rule, variable) for rule in other]
    choice: dict[str, Any] = {"Type": "Choice"}
    if "Comment" in status:
        choice["Comment"] = status["Comment"]
    choice["Choices"] = rules
    choice["Default"] = default
    return choice


def _rule(poll: str, part: str, outcome: Any, variable: Any) -> dict[str, Any]:
    if not isinstance(outcome, Mapping):
        raise PollDeclarationError(f"Poll state {poll}: {part} is an object with Is or When")
    _keys(poll, part, outcome, {"Next"}, {"Is", "When"})
    if ("Is" in outcome) == ("When" in outcome):
        raise PollDeclarationError(f"Poll state {poll}: {part} needs one of Is or When")
    if "When" in outcome:
        when = outcome["When"]
        if not isinstance(when, Mapping) or "Next" in when:
            raise PollDeclarationError(
                f"Poll state {poll}: {part} When is a Choice rule without Next"
            )
        return {**copy.deepcopy(dict(when)), "Next": outcome["Next"]}
    statuses = outcome["Is"]
    if not _strings(statuses):
        raise PollDeclarationError(f"Poll state {poll}: {part} Is is a list of statuses")
    if not isinstance(variable, str):
        raise PollDeclarationError(
            f"Poll state {poll}: {part} compares statuses; give Status a Variable"
        )
    if len(statuses) == 1:
        return {"Variable": variable, "StringEquals": statuses[0], "Next": outcome["Next"]}
    either = [{"Variable": variable, "StringEquals": s} for s in statuses]
    return {"Or": either, "Next": outcome["Next"]}


def _budget(
    poll: str, budget: Mapping[str, Any], wait: str
) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """The budget's first state and its states, in the order they run."""
    _keys(
        poll,
        "Budget",
        budget,
        {"Order", "Check", "Count", "Counter", "Exhausted"},
        {"Below", "UpTo", "Comment", "Fields", "Scratch", "Keep"},
    )
    order = budget["Order"]
    if order not in ORDERS:
        raise PollDeclarationError(f"Poll state {poll}: Budget Order is one of {', '.join(ORDERS)}")
    limits = [key for key in LIMITS if key in budget]
    if len(limits) != 1:
        raise PollDeclarationError(f"Poll state {poll}: Budget needs one of Below or UpTo")
    check_name = _name(poll, budget, "Budget", "Check")
    count_name = _name(poll, budget, "Budget", "Count")
    counter = budget["Counter"]
    if not isinstance(counter, str) or not FIELD_PATH.fullmatch(counter):
        raise PollDeclarationError(
            f"Poll state {poll}: Budget Counter is a path of field names, like $.poll.count"
        )
    check_first = order == "check-then-count"
    after_check = count_name if check_first else wait
    after_count = wait if check_first else check_name

    holder, _, field = counter.rpartition(".")
    counted = f"States.MathAdd({counter}, 1)"
    count_states: list[tuple[str, dict[str, Any]]]
    if holder == "$":
        if "Fields" in budget or not {"Scratch", "Keep"} <= set(budget):
            raise PollDeclarationError(
                f"Poll state {poll}: a Counter directly under $ is counted through Scratch "
                "and copied back by Keep (no Fields)"
            )
        scratch = budget["Scratch"]
        keep_name = _name(poll, budget, "Budget", "Keep")
        count_states = [
            (
                count_name,
                {
                    "Type": "Pass",
                    "Parameters": {"value.$": counted},
                    "ResultPath": scratch,
                    "Next": keep_name,
                },
            ),
            (
                keep_name,
                {
                    "Type": "Pass",
                    "InputPath": f"{scratch}.value",
                    "ResultPath": counter,
                    "Next": after_count,
                },
            ),
        ]
    else:
        if "Scratch" in budget or "Keep" in budget:
            raise PollDeclarationError(
                f"Poll state {poll}: Scratch and Keep serve only a Counter directly under $"
            )
        fields = budget.get("Fields", [field])
        if not _strings(fields) or field not in fields or len(set(fields)) != len(fields):
            raise PollDeclarationError(
                f"Poll state {poll}: Budget Fields lists the fields of {holder} once each, "
                f"{field} among them"
            )
        parameters = {f"{f}.$": counted if f == field else f"{holder}.{f}" for f in fields}
        count_states = [
            (
                count_name,
                {
                    "Type": "Pass",
                    "Parameters": parameters,
                    "ResultPath": holder,
                    "Next": after_count,
                },
            )
        ]

    check: dict[str, Any] = {"Type": "Choice"}
    if "Comment" in budget:
        check["Comment"] = budget["Comment"]
    limit = limits[0]
    check["Choices"] = [{"Variable": counter, LIMITS[limit]: budget[limit], "Next": after_check}]
    check["Default"] = budget["Exhausted"]
    if check_first:
        return check_name, [(check_name, check), *count_states]
    return count_name, [*count_states, (check_name, check)]


def _keys(
    poll: str, part: str, mapping: Mapping[str, Any], required: set[str], optional: set[str]
) -> None:
    missing = sorted(required - set(mapping))
    if missing:
        raise PollDeclarationError(f"Poll state {poll}: {part} lacks {', '.join(missing)}")
    unknown = sorted(set(mapping) - required - optional)
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        raise PollDeclarationError(
            f"Poll state {poll}: {part} has unknown {', '.join(unknown)} (it takes {allowed})"
        )


def _part(poll: str, declaration: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    part = declaration[key]
    if not isinstance(part, Mapping):
        raise PollDeclarationError(f"Poll state {poll}: {key} is an object")
    return part


def _name(poll: str, part: Mapping[str, Any], part_name: str, key: str) -> str:
    value = part.get(key)
    if not isinstance(value, str) or not value:
        raise PollDeclarationError(f"Poll state {poll}: {part_name} {key} names a state")
    return value


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
