"""Settings of the ticket functions, read from the environment the stack sets."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.shared.config import env_int, env_str


@dataclass(frozen=True)
class ClassifierSettings:
    table: str
    delivery_stream: str
    handler_function: str
    operation_parameter: str
    resource_parameter: str
    parameter_cache_seconds: int
    lease_seconds: int

    @classmethod
    def from_env(cls) -> ClassifierSettings:
        return cls(
            table=env_str("TICKET_TABLE"),
            delivery_stream=env_str("DELIVERY_STREAM"),
            handler_function=env_str("TICKET_HANDLER_FUNCTION"),
            operation_parameter=env_str("OPERATION_ENDPOINT_PARAMETER"),
            resource_parameter=env_str("RESOURCE_ENDPOINT_PARAMETER"),
            parameter_cache_seconds=env_int("PARAMETER_CACHE_SECONDS", 300),
            lease_seconds=env_int("LEASE_SECONDS", 60),
        )


@dataclass(frozen=True)
class WarehouseSettings:
    database: str
    secret_arn: str
    workgroup: str | None
    cluster: str | None
    poll_seconds: float
    max_polls: int

    @classmethod
    def from_env(cls) -> WarehouseSettings:
        return cls(
            database=env_str("DATABASE_NAME"),
            secret_arn=env_str("SECRET_ARN"),
            workgroup=env_str("WORKGROUP_NAME", "") or None,
            cluster=env_str("CLUSTER_IDENTIFIER", "") or None,
            poll_seconds=env_int("POLL_MILLISECONDS", 500) / 1000,
            max_polls=env_int("MAX_POLLS", 240),
        )
