"""The local cloud's core: moto plus the wiring, clock and provisioning, behind one object,
with the emulated services it is given as plugins (`localcloud.core.plugins`).

    with LocalCloud(services=SERVICES) as cloud:
        stack = cloud.deploy("MyStack-dev")
        cloud.client("s3").put_object(Bucket=stack.outputs["BucketName"], Key=..., Body=...)
        cloud.settle()

`deploy` reads the synthesized template from `cdk.out` and creates its resources (see
`localcloud.core.provision`); the handlers, state machine definitions and wiring that run are those
of the template.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import boto3
from botocore.config import Config
from botocore.handlers import BUILTIN_HANDLERS

from localcloud.core import moto_hooks
from localcloud.core import provision as core_provision
from localcloud.core.assembly import REPO_ROOT, CloudAssembly, StackArtifact
from localcloud.core.chaos import Chaos, ChaosSettings, default_settings, note_finished
from localcloud.core.clock import DEFAULT_SPEED, LocalClock
from localcloud.core.delivery import Delivery
from localcloud.core.identity import ACCOUNT_ID, REGION, CallRecorder, Principals
from localcloud.core.plugins import Deleter, ServicePlugin, handler_of, merged
from localcloud.core.provision import (
    CUSTOM_RESOURCE,
    Provisioner,
    ProvisionRequest,
    provision,
    provisioners_in,
)
from localcloud.core.runtime import LambdaRuntime
from localcloud.core.s3_versions import VersionIds
from localcloud.core.sessions import new_session
from localcloud.core.template import NO_VALUE, StackContext, deployment_order, resolve

DEPLOYER_PRINCIPAL = f"arn:aws:iam::{ACCOUNT_ID}:role/localcloud-cloudformation"
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
# The clients of the person using the account and of the emulated services acting for it.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})


class SettleTimeoutError(TimeoutError):
    """Work was still in flight when `settle` gave up."""


@dataclass
class DeployedStack:
    name: str
    artifact: StackArtifact
    context: StackContext
    outputs: dict[str, Any] = field(default_factory=dict)

    def physical_id(self, logical_id: str) -> str:
        return self.context.resources[logical_id].ref

    def resources_of_type(self, resource_type: str) -> dict[str, Any]:
        return {
            logical_id: state
            for logical_id, state in self.context.resources.items()
            if state.resource_type == resource_type
        }


class LocalCloud:
    # The services a cloud of this class runs unless told otherwise: none in the core.
    default_services: tuple[ServicePlugin, ...] = ()

    def __init__(
        self,
        assembly_dir: Path | str = REPO_ROOT / "cdk.out",
        *,
        clock_speed: float = DEFAULT_SPEED,
        work_dir: Path | str | None = None,
        chaos: ChaosSettings | str | None = None,
        services: Sequence[ServicePlugin] | None = None,
    ) -> None:
        """`services`: the emulated services' plugins, started in this order (by default the
        class's `default_services`). `chaos`: fail AWS
        calls at a rate (`localcloud.core.chaos`), as settings or "RATE[:SEED]"; by default the
        process's (`--chaos`, or the LOCALCLOUD_CHAOS environment variable)."""
        self.assembly = CloudAssembly(assembly_dir)
        settings = ChaosSettings.parse(chaos) if isinstance(chaos, str) else chaos
        if settings is None:
            settings = default_settings()
        # None when off: rate 0 adds no work to any call.
        self.chaos = (
            Chaos(settings, exempt=frozenset({DEPLOYER_PRINCIPAL}))
            if settings is not None and settings.active
            else None
        )
        self.clock = LocalClock(clock_speed)
        self.account_id = ACCOUNT_ID
        self.region = REGION
        self.work_dir = Path(work_dir) if work_dir else None
        self.principals = Principals()
        self.recorder = CallRecorder(self.principals)
        self.runtime = LambdaRuntime(
            self.principals, self.region, self.work_dir / "logs" if self.work_dir else None
        )
        self.delivery = Delivery(self)
        # Object version ids (derived, not random); `localcloud.state` keeps them across restarts.
        self.s3_version_ids = VersionIds()
        self.services = tuple(self.default_services if services is None else services)
        self.provisioners = merged(
            "provisioners",
            [provisioners_in(core_provision), *(s.provisioners for s in self.services)],
        )
        self.deleters = merged("deleters", [service.deleters for service in self.services])
        # Engines answering every operation of a service, by the service's endpoint prefix.
        self.engines: dict[str, Any] = {}
        # Engines answering only some operations of a service moto otherwise serves.
        self.operation_engines: dict[tuple[str, str], Any] = {}
        # Engines answering some operations, by name, for the code that drives them.
        self.partial_engines: dict[str, Any] = {}
        # What each service plugin keeps on this cloud, by the plugin's name.
        self.service_state: dict[str, Any] = {}
        self.stacks: dict[str, DeployedStack] = {}
        self.exports: dict[str, Any] = {}
        self.alarms: dict[str, Any] = {}
        self.async_settings: dict[str, dict[str, int]] = {}
        self.managed_policy_attachments: dict[str, list[str]] = {}
        self.role_policies: dict[str, Any] = {}
        self.notifications: list[dict[str, Any]] = []
        self.dropped_async: list[tuple[str, Any, Any]] = []
        self.undelivered_events: list[tuple[str, str, Any]] = []
        self._clients: dict[tuple[str, str, str, Config], Any] = {}
        self._clients_lock = threading.Lock()
        self._mock: Any = None
        self._session: Any = None
        self._patches: Any = None
        # Further work in flight for `settle` (e.g. records buffered by Firehose).
        self.busy_checks: list[Any] = []
        self._saved_handlers: list[Any] | None = None

    # lifecycle -----------------------------------------------------------------------------
    def start(self) -> Self:
        if self.chaos is None:
            return self._start()
        with self.chaos.suspended():
            return self._start()

    def _start(self) -> Self:
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir / "logs", ignore_errors=True)
        # moto registers its botocore handler on import: before the list is saved, so that
        # `stop` keeps it for the next start.
        moto_hooks.load_moto()
        self._saved_handlers = list(BUILTIN_HANDLERS)
        BUILTIN_HANDLERS.append(("before-parameter-build", self.recorder.remember_params))
        BUILTIN_HANDLERS.append(("before-call", self.recorder.record))
        from localcloud.core.iam_check import Enforcer

        self.enforcer = Enforcer(self)
        self.recorder.authorizer = self.enforcer
        boto3.DEFAULT_SESSION = None  # new sessions pick up the handlers above
        self._mock = moto_hooks.start_mock()
        # Set before anything is installed: `stop` undoes what a failed start installed.
        self._patches = moto_hooks.Patches()
        moto_hooks.apply(self, self._patches)
        for service in self.services:
            service.start(self, self._patches)
        self.runtime.start()
        self._bootstrap()
        self.delivery.start()
        return self

    @property
    def calls_failed_by_chaos(self) -> dict[str, int]:
        """Calls chaos failed so far, per "service:Operation" (empty without chaos)."""
        return self.chaos.counts() if self.chaos is not None else {}

    def stop(self) -> None:
        if self.chaos is not None:
            note_finished(
                self.chaos.counts(), self.chaos.after_effect_counts(), dict(self.chaos.repeated)
            )
        self.delivery.stop()
        self.runtime.stop()
        if self._patches is not None:
            self._patches.undo()
        if self._mock is not None:
            self._mock.stop()
        if self._saved_handlers is not None:
            BUILTIN_HANDLERS[:] = self._saved_handlers
        boto3.DEFAULT_SESSION = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def provisioner_for(self, resource_type: str) -> Provisioner | None:
        return handler_of(self.provisioners, resource_type)

    def deleter_for(self, resource_type: str) -> Deleter | None:
        """What deletes a resource of `resource_type`; a `Custom::` type the core or a plugin
        creates itself (CDK's bucket notifications) is not a custom resource here."""
        exact = self.deleters.get(resource_type)
        if exact is not None:
            return exact
        custom = self.provisioners.get(CUSTOM_RESOURCE)
        if custom is not None and self.provisioner_for(resource_type) is custom:
            return self.deleters.get(CUSTOM_RESOURCE)
        return None

    def _bootstrap(self) -> None:
        """What `cdk bootstrap` leaves in an account: the version parameter CDK checks."""
        self.deployer_client("ssm").put_parameter(
            Name=BOOTSTRAP_VERSION_PARAMETER, Value="30", Type="String"
        )

    # clients -----------------------------------------------------------------------------------
    def client_as(
        self,
        principal_arn: str,
        service: str,
        region: str | None = None,
        config: Config = CLIENT_CONFIG,
    ) -> Any:
        """A boto3 client signing as an IAM principal (its calls are attributed to it), made
        once per principal, service, region and configuration: a client is thread-safe, and
        making one costs botocore's model loading."""
        key = (principal_arn, service, region or self.region, config)
        with self._clients_lock:
            client = self._clients.get(key)
            if client is None:
                credentials = self.principals.credentials_for(principal_arn)
                if self._session is None:
                    # One session for every principal's clients: its model cache is shared.
                    self._session = new_session()
                client = self._session.client(
                    service,
                    region_name=region or self.region,
                    config=config,
                    **credentials.as_client_kwargs(),
                )
                self._clients[key] = client
            return client

    def s3_as(self, principal_arn: str) -> Any:
        """An S3 client of `principal_arn`: how an engine reads and writes objects with the
        role a request names."""
        return self.client_as(principal_arn, "s3")

    def client(self, service: str) -> Any:
        """A client for the person using the account (uploads, invocations, inspection)."""
        return self.client_as(self.principals_user_arn, service)

    @property
    def principals_user_arn(self) -> str:
        from localcloud.core.identity import USER_PRINCIPAL

        return USER_PRINCIPAL

    def deployer_client(self, service: str) -> Any:
        return self.client_as(DEPLOYER_PRINCIPAL, service)

    def queue_url(self, queue_name: str) -> str:
        return f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{queue_name}"

    # deployment ----------------------------------------------------------------------------------
    def deploy(self, stack_name: str, parameters: dict[str, Any] | None = None) -> DeployedStack:
        if self.chaos is None:
            return self._deploy(stack_name, parameters)
        with self.chaos.suspended():
            return self._deploy(stack_name, parameters)

    def _deploy(self, stack_name: str, parameters: dict[str, Any] | None) -> DeployedStack:
        artifact = self.assembly.stack(stack_name)
        template = artifact.template
        ctx = StackContext(
            stack_name=artifact.stack_name,
            account_id=self.account_id,
            region=self.region,
            exports=self.exports,
            mappings=template.get("Mappings", {}),
        )
        ctx.parameters = self._parameters(template.get("Parameters", {}), parameters or {})
        ctx.condition_definitions = dict(template.get("Conditions", {}))
        for name in ctx.condition_definitions:
            ctx.condition(name)
        resources = template.get("Resources", {})
        for logical_id in deployment_order(resources):
            resource = resources[logical_id]
            condition = resource.get("Condition")
            if condition and not ctx.condition(condition):
                continue
            properties = resolve(resource.get("Properties", {}), ctx)
            request = ProvisionRequest(
                logical_id, resource["Type"], properties, ctx, self, artifact
            )
            ctx.resources[logical_id] = provision(request)
        deployed = DeployedStack(artifact.stack_name, artifact, ctx)
        for name, output in template.get("Outputs", {}).items():
            condition = output.get("Condition")
            if condition and not ctx.condition(condition):
                continue
            value = resolve(output["Value"], ctx)
            deployed.outputs[name] = value
            export = output.get("Export")
            if export:
                self.exports[resolve(export["Name"], ctx)] = value
        self.stacks[artifact.stack_name] = deployed
        self.delivery.start_schedules()
        from localcloud.core.iam_check import principal_policies

        self.role_policies = principal_policies(self)
        return deployed

    def destroy(self, stack_name: str) -> None:
        """`cdk destroy` of a deployed stack, as far as it runs code: every resource whose
        service has a deleter (a custom resource gets CloudFormation's Delete request) is
        deleted, in the reverse of the deployment order, and a failed deletion fails the
        destruction (the stack stays, as a stack goes DELETE_FAILED). The stack and its exports
        are then forgotten; the resources moto holds for it are left in place (the local cloud
        does not emulate their deletion)."""
        deployed = self.stacks[stack_name]
        resources = deployed.artifact.template.get("Resources", {})
        created = deployed.context.resources
        for logical_id in reversed(deployment_order(resources)):
            state = created.get(logical_id)
            deleter = None if state is None else self.deleter_for(state.resource_type)
            if deleter is not None and state is not None:
                deleter(self, deployed.context, state)
        for name, output in deployed.artifact.template.get("Outputs", {}).items():
            export = output.get("Export")
            if export and name in deployed.outputs:
                self.exports.pop(resolve(export["Name"], deployed.context), None)
        del self.stacks[stack_name]

    def _parameters(self, declared: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            value = given.get(name, spec.get("Default", NO_VALUE))
            if value is NO_VALUE:
                raise ValueError(f"parameter {name} has no value and no default")
            if spec.get("Type", "").startswith("AWS::SSM::Parameter::Value"):
                value = self.deployer_client("ssm").get_parameter(Name=value)["Parameter"]["Value"]
            values[name] = value
        unknown = set(given) - set(declared)
        if unknown:
            raise ValueError(f"unknown parameters {sorted(unknown)}")
        return values

    # waiting ---------------------------------------------------------------------------
    def running_executions(self) -> list[str]:
        return [
            execution.execution_arn
            for machine in moto_hooks.state_machines(self.account_id, self.region)
            for execution in machine.executions
            if execution.status == "RUNNING"
        ]

    def pending_messages(self) -> int:
        """Messages waiting or in flight on queues that feed a Lambda function."""
        queues = moto_hooks.backend("sqs", self.account_id, self.region).queues
        total = 0
        for mapping in moto_hooks.sqs_event_source_mappings(self.account_id, self.region):
            queue = queues.get(mapping.event_source_arn.split(":")[5])
            if queue is not None:
                total += len(queue._messages)
        return total

    def settle(self, timeout: float = 120.0, quiet_period: float = 0.05) -> None:
        """Wait until nothing is in flight: no queued message for a function, no pending
        asynchronous invocation, no running execution, for `quiet_period` seconds."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            if self.delivery.errors:
                raise RuntimeError(f"event delivery failed: {self.delivery.errors}")
            busy = (
                self.pending_messages()
                or self.delivery.pending_async()
                or not self.delivery.idle()
                or self.running_executions()
                or any(check() for check in self.busy_checks)
            )
            if busy:
                quiet_since = None
            else:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= quiet_period:
                    return
            time.sleep(0.01)
        raise SettleTimeoutError(
            f"still busy after {timeout}s: {self.pending_messages()} messages, "
            f"{self.delivery.pending_async()} async invocations, "
            f"{len(self.running_executions())} executions"
        )
