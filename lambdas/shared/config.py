"""Typed settings read from environment variables, with clear errors.

A workflow's settings are a frozen dataclass whose fields name their variables:

    @dataclass(frozen=True)
    class CaptionSettings(FromEnvironment):
        bucket: str = env("BUCKET_NAME")
        realtime_max_bytes: int = env("REALTIME_MAX_BYTES", 200_000)

`CaptionSettings.from_env()` reads every field, converted to its annotated type: `str`,
`int`, `tuple[str, ...]` (comma-separated) or `str | None` (unset or empty is None). A field
without a default must be set. Tests build settings directly with keyword arguments.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from typing import Any, Self

from lambdas.shared.errors import ConfigurationError

_REQUIRED: Any = object()


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        if default is not None:
            return default
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def env_int(name: str, default: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        if default is None:
            raise ConfigurationError(f"environment variable {name} is not set")
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(
            f"environment variable {name} must be an integer: {raw!r}"
        ) from None


def env_list(name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def env(name: str, default: Any = _REQUIRED) -> Any:
    """A settings field read from the environment variable `name`."""
    # No dataclass default: the constructor keeps every field required and in any order.
    return dataclasses.field(metadata={"env": name, "default": default})


def _read(name: str, kind: Any, default: Any) -> Any:
    required = default is _REQUIRED
    if kind is int:
        return env_int(name, None if required else default)
    if kind == tuple[str, ...]:
        return env_list(name, () if required else default)
    if kind == (str | None):
        return os.environ.get(name) or None
    if kind is str:
        return env_str(name, None if required else default)
    raise TypeError(f"settings field for {name} has an unsupported type {kind}")


class FromEnvironment:
    """`from_env()` for a settings dataclass whose fields are declared with `env(...)`."""

    @classmethod
    def from_env(cls) -> Self:
        hints = typing.get_type_hints(cls)
        values = {
            field.name: _read(field.metadata["env"], hints[field.name], field.metadata["default"])
            for field in dataclasses.fields(cls)  # type: ignore[arg-type]
        }
        return cls(**values)
