"""The local Lambda runtime: runs the real handler modules in-process, one function at a time.

Each function runs the code of its own synthesized asset directory, with its own copy of the
asset's modules and of the layer libraries' caches (as each Lambda function has its own
execution environment), the environment variables from its template plus those the Lambda
runtime sets (region, function name, the execution role's credentials), a context object,
and its own captured log stream.

Differences from AWS Lambda, on purpose: invocations run one at a time in the calling process
(no concurrency, no cold-start latency), with the process environment swapped for the
function's while they run (other threads see one whole environment or the other); the
timeout is checked after the handler returns (a Python thread cannot be preempted); memory
size is reported, not enforced; X-Ray is not emulated (POWERTOOLS_TRACE_DISABLED is set);
third-party packages come from the development environment, whose versions
`requirements-dev.txt` pins to the layer's.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from localcloud.core.identity import Principals
from localcloud.core.sessions import new_session

RUNTIME_NAME = "python3.14"


@dataclass
class FunctionConfig:
    name: str
    arn: str
    handler: str
    role_arn: str
    code_dir: Path
    environment: dict[str, str]
    timeout_seconds: int = 3
    memory_mb: int = 128
    log_group: str = ""
    stack_name: str = ""
    logical_id: str = ""
    on_failure_destination: str | None = None
    dead_letter_target: str | None = None
    reserved_concurrency: int | None = None


@dataclass
class InvocationResult:
    request_id: str
    payload: Any
    error: dict[str, Any] | None
    duration_ms: float

    @property
    def failed(self) -> bool:
        return self.error is not None

    def payload_bytes(self) -> bytes:
        return json.dumps(self.error if self.error else self.payload).encode()


@dataclass
class LogStream:
    lines: list[str] = field(default_factory=list)
    path: Path | None = None

    def write(self, text: str) -> None:
        if not text:
            return
        self.lines.append(text)
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(text)


class _RoutingStream(io.TextIOBase):
    """stdout/stderr replacement: text written by a thread that is running a handler goes to
    that function's log stream; everything else to the original stream."""

    def __init__(self, original: Any) -> None:
        self.original = original
        self.routes: dict[int, LogStream] = {}

    def write(self, text: str) -> int:
        route = self.routes.get(threading.get_ident())
        if route is not None:
            route.write(text)
        else:
            self.original.write(text)
        return len(text)

    def flush(self) -> None:
        self.original.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


# One router per process and stream: logging handlers bind to the stream object that was
# sys.stdout when they were created, and outlive any one local cloud.
_STDOUT_ROUTER = _RoutingStream(sys.stdout)
_STDERR_ROUTER = _RoutingStream(sys.stderr)


def _install(router: _RoutingStream, name: str) -> None:
    current = getattr(sys, name)
    if current is not router:
        router.original = current
        setattr(sys, name, router)


# The process environment, which an invocation swaps for its function's while other threads
# (event delivery, engines, the caller) keep reading it: botocore iterates it for proxy settings
# whenever it makes a client. Reads and iterations see either the whole environment before a
# swap or the whole one after it, never a half-cleared one or a key deleted mid-iteration.
_ENVIRONMENT_LOCK = threading.RLock()


class _SynchronizedEnviron(os._Environ):
    def __getitem__(self, key: str) -> str:
        with _ENVIRONMENT_LOCK:
            return str(super().__getitem__(key))

    def __setitem__(self, key: str, value: str) -> None:
        with _ENVIRONMENT_LOCK:
            super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        with _ENVIRONMENT_LOCK:
            super().__delitem__(key)

    def __iter__(self) -> Any:
        with _ENVIRONMENT_LOCK:
            return iter(list(super().__iter__()))

    def copy(self) -> dict[str, str]:
        with _ENVIRONMENT_LOCK:
            return {key: super(_SynchronizedEnviron, self).__getitem__(key) for key in self}

    def keys(self) -> Any:
        return self.copy().keys()

    def items(self) -> Any:
        return self.copy().items()

    def values(self) -> Any:
        return self.copy().values()


def _share_environment() -> None:
    if type(os.environ) is os._Environ:
        os.environ.__class__ = _SynchronizedEnviron


def _replace_environment(variables: dict[str, str]) -> None:
    with _ENVIRONMENT_LOCK:
        os.environ.clear()
        os.environ.update(variables)


def _loaded_modules() -> list[tuple[str, ModuleType]]:
    """What sys.modules holds now. Threads that run no function (the server, executions, the
    delivery loop) import meanwhile, and copying the dict can run a garbage collection that lets
    one in: a copy interrupted by an import is taken again."""
    while True:
        try:
            return list(sys.modules.items())
        except RuntimeError:  # "dictionary changed size (or keys changed) during iteration"
            continue


class LambdaContext:
    """The context object the Python runtime passes to handlers."""

    def __init__(self, config: FunctionConfig, request_id: str, started: float) -> None:
        self.function_name = config.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = config.arn
        self.memory_limit_in_mb = config.memory_mb
        self.aws_request_id = request_id
        self.log_group_name = config.log_group
        self.log_stream_name = f"local/[$LATEST]{request_id[:8]}"
        self._deadline = started + config.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# Process-wide state of the layer's libraries that each execution environment has its own of:
# Powertools' parameter providers (their caches and boto3 clients, made with the credentials of
# the function that created them).
LIBRARY_STATE = (("aws_lambda_powertools.utilities.parameters.constants", "DEFAULT_PROVIDERS"),)


class LambdaRuntime:
    def __init__(self, principals: Principals, region: str, log_dir: Path | None = None) -> None:
        self.principals = principals
        self.region = region
        self.log_dir = log_dir
        self.functions: dict[str, FunctionConfig] = {}
        self.logs: dict[str, LogStream] = {}
        self.invocations: list[tuple[str, Any, InvocationResult]] = []
        self._modules: dict[str, dict[str, ModuleType]] = {}
        self._handlers: dict[str, Callable[..., Any]] = {}
        self._library_state: dict[tuple[str, str, str], dict[str, Any]] = {}
        # (module, attribute, value) set in every function's own copy of the module once it
        # is imported: how the local cloud hands handler code its clock.
        self.module_overrides: list[tuple[str, str, Any]] = []
        # Held while a function's code runs in this process (Glue jobs run under it too).
        self.run_lock = threading.RLock()

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        _share_environment()
        self._install_streams()

    def _install_streams(self) -> None:
        """(Re)install the routing streams: test runners swap sys.stdout between phases."""
        _install(_STDOUT_ROUTER, "stdout")
        _install(_STDERR_ROUTER, "stderr")

    def stop(self) -> None:
        for router, name in ((_STDOUT_ROUTER, "stdout"), (_STDERR_ROUTER, "stderr")):
            if getattr(sys, name) is router:
                setattr(sys, name, router.original)

    def register(self, config: FunctionConfig) -> None:
        module_name = config.handler.rsplit(".", 1)[0]
        if not (config.code_dir / (module_name.replace(".", "/") + ".py")).is_file():
            raise FileNotFoundError(
                f"function {config.name}: handler module {module_name} is not in its asset "
                f"{config.code_dir}"
            )
        self.functions[config.name] = config
        self.logs.setdefault(config.name, LogStream(path=self._log_path(config.name)))

    def resolve(self, name_or_arn: str) -> FunctionConfig:
        name = name_or_arn.rsplit(":function:", maxsplit=1)[-1].split(":", maxsplit=1)[0]
        if name not in self.functions:
            raise KeyError(f"no function {name_or_arn} on the local cloud")
        return self.functions[name]

    def _log_path(self, name: str) -> Path | None:
        if self.log_dir is None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self.log_dir / f"{name}.log"

    # invocation --------------------------------------------------------------------------
    def invoke(self, name_or_arn: str, event: Any) -> InvocationResult:
        config = self.resolve(name_or_arn)
        request_id = str(uuid.uuid4())
        with self.run_lock:
            started = time.monotonic()
            log = self.logs[config.name]
            saved_env = os.environ.copy()
            saved_session = boto3.DEFAULT_SESSION
            saved_modules = self._swap_in(config)
            self._install_streams()
            thread = threading.get_ident()
            for stream in (_STDOUT_ROUTER, _STDERR_ROUTER):
                stream.routes[thread] = log
            log.write(f"START RequestId: {request_id}\n")
            try:
                _replace_environment(self._environment(config, saved_env))
                # Clients made now sign with this role's key (from the environment).
                boto3.DEFAULT_SESSION = new_session()
                handler = self._handler(config)
                context = LambdaContext(config, request_id, started)
                payload = handler(event, context)
                json.dumps(payload)  # Lambda returns JSON: fail here if it is not
                error = None
            except Exception as exc:  # the handler's failure is the invocation's result
                payload = None
                error = {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "requestId": request_id,
                    "stackTrace": traceback.format_exception(exc)[-6:],
                }
                log.write(f"[ERROR] {type(exc).__name__}: {exc}\n")
            finally:
                _replace_environment(saved_env)
                boto3.DEFAULT_SESSION = saved_session
                self._swap_out(config, saved_modules)
                for stream in (_STDOUT_ROUTER, _STDERR_ROUTER):
                    stream.routes.pop(thread, None)
            elapsed = time.monotonic() - started
            if error is None and elapsed > config.timeout_seconds:
                error = {
                    "errorMessage": f"Task timed out after {config.timeout_seconds:.2f} seconds",
                    "errorType": "Sandbox.Timedout",
                    "requestId": request_id,
                }
                payload = None
            log.write(f"END RequestId: {request_id} Duration: {elapsed * 1000:.1f} ms\n")
            result = InvocationResult(request_id, payload, error, elapsed * 1000)
            self.invocations.append((config.name, event, result))
            return result

    def _environment(self, config: FunctionConfig, host: dict[str, str]) -> dict[str, str]:
        base = {
            key: value
            for key, value in host.items()
            if not key.startswith(("AWS_", "POWERTOOLS_", "_X_AMZN", "LAMBDA_"))
        }
        credentials = self.principals.credentials_for(config.role_arn)
        return {
            **base,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{RUNTIME_NAME}",
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "LAMBDA_TASK_ROOT": str(config.code_dir),
            "_HANDLER": config.handler,
            **credentials.as_environment(),
            **config.environment,
            # X-Ray is not emulated; the SDK would otherwise look for a daemon.
            "POWERTOOLS_TRACE_DISABLED": "true",
        }

    # per-function module copies ----------------------------------------------------------
    def _top_packages(self, config: FunctionConfig) -> set[str]:
        return {
            path.name
            for path in config.code_dir.iterdir()
            if path.is_dir() and (path / "__init__.py").is_file()
        } | {path.stem for path in config.code_dir.glob("*.py")}

    def _owned(self, name: str, tops: set[str]) -> bool:
        return name.split(".", 1)[0] in tops

    def _swap_in(self, config: FunctionConfig) -> dict[str, ModuleType]:
        tops = self._top_packages(config)
        saved = {n: m for n, m in _loaded_modules() if self._owned(n, tops)}
        for name in saved:
            del sys.modules[name]
        sys.modules.update(self._modules.get(config.name, {}))
        self._swap_library_state(config.name)
        return saved

    def _swap_out(self, config: FunctionConfig, saved: dict[str, ModuleType]) -> None:
        tops = self._top_packages(config)
        mine = {n: m for n, m in _loaded_modules() if self._owned(n, tops)}
        self._modules[config.name] = mine
        for name in mine:
            del sys.modules[name]
        sys.modules.update(saved)
        self._swap_library_state(config.name)

    def _swap_library_state(self, function: str) -> None:
        """Exchange the layer libraries' process-wide state (module-level caches and clients)
        with this function's own, kept between its invocations as its execution environment
        keeps it; the libraries' modules themselves are shared, for speed. The dicts are
        mutated in place, since the libraries' modules hold references to them."""
        for module_name, attribute in LIBRARY_STATE:
            module = sys.modules.get(module_name)
            if module is None:
                continue
            live: dict[str, Any] = getattr(module, attribute)
            own = self._library_state.setdefault((function, module_name, attribute), {})
            outside = dict(live)
            live.clear()
            live.update(own)
            own.clear()
            own.update(outside)

    def _handler(self, config: FunctionConfig) -> Callable[..., Any]:
        if config.name in self._handlers:
            return self._handlers[config.name]
        module_name, function_name = config.handler.rsplit(".", 1)
        code_dir = str(config.code_dir)
        sys.path.insert(0, code_dir)
        importlib.invalidate_caches()
        try:
            module = importlib.import_module(module_name)
        finally:
            sys.path.remove(code_dir)
        for name, attribute, value in self.module_overrides:
            if name in sys.modules:
                setattr(sys.modules[name], attribute, value)
        handler = getattr(module, function_name)
        self._handlers[config.name] = handler
        return handler
