"""Settings of the ticket functions, read from the environment the stack sets."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.shared.config import FromEnvironment, env


@dataclass(frozen=True)
class ClassifierSettings(FromEnvironment):
    table: str = env("TICKET_TABLE")
    delivery_stream: str = env("DELIVERY_STREAM")
    handler_function: str = env("TICKET_HANDLER_FUNCTION")
    operation_parameter: str = env("OPERATION_ENDPOINT_PARAMETER")
    resource_parameter: str = env("RESOURCE_ENDPOINT_PARAMETER")
    parameter_cache_seconds: int = env("PARAMETER_CACHE_SECONDS", 300)
    lease_seconds: int = env("LEASE_SECONDS", 60)
    # The endpoints' keeper and the queue tickets wait in while the endpoints are deleted
    # (empty: endpoints given by ARN, not kept by the stack).
    keeper_table: str = env("KEEPER_TABLE", "")
    keeper_function: str = env("KEEPER_FUNCTION", "")
    warm_up_seconds: int = env("WARM_UP_SECONDS", 600)
    ticket_queue_url: str = env("TICKET_QUEUE_URL", "")


@dataclass(frozen=True)
class HandlerSettings(FromEnvironment):
    table: str = env("TICKET_TABLE")


@dataclass(frozen=True)
class WarehouseSettings(FromEnvironment):
    database: str = env("DATABASE_NAME")
    secret_arn: str = env("SECRET_ARN")
    workgroup: str | None = env("WORKGROUP_NAME")
    cluster: str | None = env("CLUSTER_IDENTIFIER")
    poll_milliseconds: int = env("POLL_MILLISECONDS", 500)
    max_polls: int = env("MAX_POLLS", 240)

    @property
    def poll_seconds(self) -> float:
        return self.poll_milliseconds / 1000
