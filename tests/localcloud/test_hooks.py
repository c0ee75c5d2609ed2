"""The hooks into moto and botocore fail the start when what they replace is gone, instead of
silently doing nothing after an upgrade, and are undone exactly."""

from __future__ import annotations

import types

import pytest

from localcloud.patches import Patches


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
