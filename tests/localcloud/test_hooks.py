"""The hooks into moto and botocore fail the start when what they replace is gone, instead of
silently doing nothing after an upgrade, and are undone exactly."""

from __future__ import annotations

import contextlib
import inspect
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.core.moto_hooks import Patches


class _Upstream:
    def __init__(self) -> None:
        self.mappings: dict[str, str] = {"a": "b"}

    def send(self, message: str) -> str:
        return message


def test_replacing_a_name_that_is_gone_fails_naming_it_and_changes_nothing() -> None:
    module = types.ModuleType("upstream")
    patches = Patches()

    with pytest.raises(RuntimeError, match=r"upstream\.renamed is gone"):
        patches.set(module, "renamed", lambda: None)
    assert not hasattr(module, "renamed")
    with pytest.raises(RuntimeError, match=r"_Upstream\.sent is gone"):
        patches.set(_Upstream, "sent", lambda self, message: message)


def test_a_replaced_name_is_restored_by_undo() -> None:
    patches = Patches()
    original = _Upstream.send
    patches.set(_Upstream, "send", lambda self, message: message.upper())
    assert _Upstream().send("hi") == "HI"

    patches.undo()

    assert _Upstream.send is original and _Upstream().send("hi") == "hi"


def test_shadowing_an_instance_attribute_checks_that_init_still_sets_it() -> None:
    patches = Patches()
    with pytest.raises(RuntimeError, match=r"no longer sets self\.queues"):
        patches.shadow(_Upstream, "queues", property(lambda self: {}))

    patches.shadow(_Upstream, "mappings", property(lambda self: {}, lambda self, value: None))
    assert _Upstream().mappings == {}
    patches.undo()
    assert _Upstream().mappings == {"a": "b"}


# Every hook the local cloud installs, checked against a changed upstream ---------------------
@pytest.fixture(scope="module")
def empty_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cloud assembly without stacks: starting a cloud installs every hook all the same."""
    directory = tmp_path_factory.mktemp("assembly")
    (directory / "manifest.json").write_text(json.dumps({"artifacts": {}}))
    return directory


@pytest.fixture(scope="module")
def installed_hooks(empty_assembly: Path) -> list[tuple[Any, str, str, Any]]:
    """What a started local cloud replaces (with chaos on, which adds its own hook)."""
    with LocalCloud(empty_assembly, chaos="0.5:1") as cloud:
        assert cloud._patches is not None
        return list(cloud._patches.replaced)


def _starts(assembly: Path, *expected: str) -> str | None:
    """None if a new local cloud's start fails saying all of `expected`, else what happened."""
    cloud = LocalCloud(assembly, chaos="0.5:1")
    try:
        cloud.start()
    except RuntimeError as error:
        said = all(part in str(error) for part in expected)
        return None if said else f"failed otherwise: {error}"
    except Exception as error:
        return f"failed unclearly: {type(error).__name__}: {error}"
    finally:
        cloud.stop()
    return "started"


def _still_hooked_elsewhere(owner: Any, name: str, hooks: list[tuple[Any, str, str, Any]]) -> bool:
    """Without its own `name`, `owner` would inherit one that is itself hooked (a subclass that
    stops overriding a hooked method), or `owner` is a module that imported `name` from the
    module defining it, whose own is hooked (a module that stops using it)."""
    hooked = {(id(o), n) for o, n, _, _ in hooks}
    if isinstance(owner, type):
        return any((id(base), name) in hooked for base in owner.__mro__[1:])
    defined_in = sys.modules.get(getattr(owner.__dict__[name], "__module__", "") or "")
    return defined_in is not None and defined_in is not owner and (id(defined_in), name) in hooked


def _where(owner: Any, name: str) -> str:
    return f"{getattr(owner, '__name__', owner)}.{name}"


def test_the_local_cloud_hooks_moto_and_botocore_in_every_place_it_names(
    installed_hooks: list[tuple[Any, str, str, Any]],
) -> None:
    places = {_where(owner, name) for owner, name, _, _ in installed_hooks}

    # A sample of each kind: dispatch to engines, S3 events, SNS, Step Functions, Firehose.
    assert {
        "BotocoreStubber.__call__",
        "FakeBucket.set_notification_configuration",
        "Topic.publish",
        "ExecutionWorker._get_evaluation_environment",
        "FirehoseBackend.put_s3_records",
        "FirehoseBackend.put_record_batch",
    } <= places
    assert len(installed_hooks) == len(places)  # each place once


def test_every_hook_fails_the_start_when_what_it_replaces_is_gone(
    installed_hooks: list[tuple[Any, str, str, Any]], empty_assembly: Path
) -> None:
    wrong: dict[str, str] = {}
    for owner, name, kind, _ in installed_hooks:
        if kind == "shadow":
            original_init = owner.__init__

            def init_without(
                self: Any, *args: Any, _init: Any = original_init, **kwargs: Any
            ) -> None:
                _init(self, *args, **kwargs)

            owner.__init__ = init_without  # an __init__ that no longer names the attribute
            try:
                outcome = _starts(empty_assembly, f"no longer sets self.{name}")
            finally:
                owner.__init__ = original_init
        else:
            original = owner.__dict__[name]
            elsewhere = _still_hooked_elsewhere(owner, name, installed_hooks)
            delattr(owner, name)
            try:
                # The start fails naming what is gone (a module's time source, `dt`, says so
                # in its own words).
                outcome = _starts(empty_assembly, getattr(owner, "__name__", ""), name)
            finally:
                setattr(owner, name, original)
            if outcome == "started" and elsewhere:
                continue  # e.g. an integration that stops overriding _from_error gets the base's
        if outcome is not None:
            wrong[_where(owner, name)] = outcome
    assert wrong == {}, "\n".join(f"{place}: {outcome}" for place, outcome in wrong.items())
    assert _starts(empty_assembly, "nothing fails") == "started"  # everything was put back


def test_every_hook_of_a_function_fails_the_start_when_upstream_renames_a_parameter_it_names(
    installed_hooks: list[tuple[Any, str, str, Any]], empty_assembly: Path
) -> None:
    checked, wrong = 0, {}
    for owner, name, kind, hook in installed_hooks:
        original = owner.__dict__[name] if kind == "set" else None
        if not (inspect.isfunction(original) and inspect.isfunction(hook)):
            continue
        upstream = inspect.signature(original)
        ours = set(inspect.signature(hook).parameters)
        named = [
            p
            for p in upstream.parameters.values()
            if p.name in ours
            and p.name != "self"
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if not named:
            continue  # the hook passes every argument through: a rename cannot break it
        last = named[-1]

        def renamed(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            return _original(*args, **kwargs)

        renamed.__signature__ = upstream.replace(  # type: ignore[attr-defined]
            parameters=[
                p.replace(name=f"{p.name}_renamed") if p is last else p
                for p in upstream.parameters.values()
            ]
        )
        setattr(owner, name, renamed)
        try:
            outcome = _starts(empty_assembly, f"{_where(owner, name)} ", "takes")
        finally:
            setattr(owner, name, original)
        checked += 1
        if outcome is not None:
            wrong[_where(owner, name)] = outcome
    assert wrong == {}, "\n".join(f"{place}: {outcome}" for place, outcome in wrong.items())
    assert checked >= 15


def test_no_module_moto_loads_while_the_cloud_runs_keeps_a_hook_after_it_stops(
    empty_assembly: Path,
) -> None:
    """Executions import parts of moto's Step Functions interpreter on first use (a Choice's
    comparison operators, a Map's S3 item reader): such a module must not bind a replacement
    that outlives the cloud, whose closure would still point at the stopped cloud."""
    import importlib
    import pkgutil

    from moto.stepfunctions import parser

    with LocalCloud(empty_assembly):
        for module in pkgutil.walk_packages(parser.__path__, parser.__name__ + "."):
            with contextlib.suppress(ImportError):  # a part needing what is not installed
                importlib.import_module(module.name)  # as executions would, on first use

    kept = sorted(
        f"{name}.{attribute}"
        for name, module in list(sys.modules.items())
        if name.startswith(("moto.", "botocore."))
        for attribute, value in list(vars(module).items())
        if callable(value) and (getattr(value, "__module__", None) or "").startswith("localcloud")
    )
    assert kept == []
