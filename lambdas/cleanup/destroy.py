"""The custom resource that cleans up after a workflow when its stack is deleted.

Create and Update do nothing (the workflow creates its resources when it runs). Delete stops
and deletes what the workflow created at run time (see `runtime_resources`), waiting for the
endpoints to go within the function's time; what still remains then fails the deletion with a
reason naming each resource, so nothing that bills is left behind unnoticed.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent

from lambdas.cleanup.runtime_resources import Cleaner, Targets
from lambdas.shared.custom_resource import respond
from lambdas.shared.kit import HandlerKit

kit: HandlerKit = HandlerKit()
# Time kept back from the function's timeout to answer CloudFormation.
RESPONSE_MARGIN_SECONDS = 30.0


@kit.handler(CloudFormationCustomResourceEvent)
def handler(event: CloudFormationCustomResourceEvent, context: object) -> None:
    targets = Targets.from_properties(event.resource_properties)
    physical_id = event.physical_resource_id or f"{targets.stack_name}-runtime-cleanup"
    if event.request_type != "Delete":
        respond(event, "SUCCESS", "nothing to do until the stack is deleted", physical_id)
        return
    cleaner = Cleaner(targets, kit.clients, kit.logger.info)

    def seconds_left() -> float:
        remaining_ms = context.get_remaining_time_in_millis()  # type: ignore[attr-defined]
        return float(remaining_ms) / 1000 - RESPONSE_MARGIN_SECONDS

    try:
        settling = cleaner.run(seconds_left)
    except Exception as error:
        kit.logger.exception("runtime resources remain")
        respond(event, "FAILED", f"{type(error).__name__}: {error}", physical_id)
        return
    reason = "removed every resource the workflow created"
    if settling:
        reason += "; still going away: " + ", ".join(str(r) for r in settling)
    kit.logger.info(reason)
    respond(event, "SUCCESS", reason, physical_id)
