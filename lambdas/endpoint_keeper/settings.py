"""Settings of the endpoint keeper, read from the environment its construct sets."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.shared.config import FromEnvironment, env


@dataclass(frozen=True)
class KeeperSettings(FromEnvironment):
    table: str = env("KEEPER_TABLE")
    endpoint_arns: tuple[str, ...] = env("ENDPOINT_ARNS")
    policy: str = env("ENDPOINT_POLICY")
    warm_up_seconds: int = env("WARM_UP_SECONDS", 600)
    stack_name: str = env("STACK_NAME", "")
    # Tickets: the queue that holds work while the endpoints are down, and the event source
    # mapping that feeds it to the classifier only while they serve.
    queue_url: str | None = env("QUEUE_URL")
    # The keeper's own schedule (scale-to-zero): it rests while no endpoint exists.
    rule_name: str | None = env("RULE_NAME")
    event_source_mapping: str | None = env("EVENT_SOURCE_MAPPING")
    # The keeper's own queue of runs at idle deadlines (scaling policies).
    deadline_queue_url: str | None = env("DEADLINE_QUEUE_URL")
