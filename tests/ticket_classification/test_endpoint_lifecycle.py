"""End to end on the local cloud (compressed clock), the endpoints under `scale-to-zero`: idle,
the keeper deletes both; tickets sent then are queued, the keeper recreates the endpoints and
feeds the queue, and every ticket is classified exactly once; nothing is dead-lettered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdas.shared.endpoint_usage import MIN_RETRY_AFTER_SECONDS
from localcloud.cloud import LocalCloud
from localcloud.core.iam_check import check
from localcloud.demos.ticket_classification import (
    TicketsStack,
    deploy,
    sample_tickets,
    train_endpoints,
)
from tests.conftest import _synthesized
from tests.helpers.aws import endpoint_properties, wait_for
from tests.ticket_classification.helpers import REPO_ROOT, SOURCES

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("tickets-lifecycle")]

ASSEMBLY = REPO_ROOT / "build" / "test-tickets-lifecycle-assembly"
STACK = "TicketClassification-eptest"


def synthesize(outdir: Path) -> None:
    from aws_cdk import App, Validations
    from cdk_nag import AwsSolutionsChecks

    from app import cdk_json_context
    from stacks.config import TicketSettings
    from stacks.ticket_classification import TicketClassificationStack

    context = {
        **cdk_json_context(),
        "stage": "eptest",
        "ticket_classification:endpointPolicy": "scale-to-zero",
        # 10 minutes are 6 s at 100x: a loaded machine's training workflow finishes recording
        # its endpoints before the keeper can find them idle.
        "ticket_classification:idleMinutes": 10,
    }
    app = App(outdir=str(outdir), context=context)
    TicketClassificationStack(app, STACK, settings=TicketSettings.from_context(app.node))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


@pytest.fixture(scope="module")
def tickets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TicketsStack]:
    assembly_dir = _synthesized(ASSEMBLY, synthesize, SOURCES)
    work_dir = tmp_path_factory.mktemp("tickets-lifecycle") / "localcloud"
    # 100x: the keeper's one-minute schedule leaves the local cloud quiet between runs.
    with LocalCloud(assembly_dir, work_dir=work_dir, clock_speed=100) as cloud:
        stack = deploy(cloud, STACK)
        train_endpoints(cloud, stack)
        yield stack


def _statuses(stack: TicketsStack, arns: list[str]) -> list[str | None]:
    comprehend = stack.cloud.client("comprehend")
    properties = [endpoint_properties(comprehend, arn) for arn in arns]
    return [found["Status"] if found else None for found in properties]


def _done(stack: TicketsStack, ticket_id: str) -> bool:
    item = (
        stack.cloud.client("dynamodb")
        .get_item(
            TableName=stack.output("TicketTableName"),
            Key={"ticketId": {"S": ticket_id}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return item is not None and item["stage"]["S"] == "done"


def test_tickets_sent_while_the_endpoints_are_deleted_are_classified_once_later(
    tickets: TicketsStack,
) -> None:
    cloud = tickets.cloud
    ssm = cloud.client("ssm")
    arns = [
        ssm.get_parameter(Name=tickets.output(f"{role}EndpointParameterName"))["Parameter"]["Value"]
        for role in ("Operation", "Resource")
    ]
    # Idle: the keeper deletes both endpoints.
    wait_for(lambda: _statuses(tickets, arns) == [None, None], 60)

    events = [ticket.event() for ticket in sample_tickets(3, seed=77)]
    for event in events:
        answer = tickets.classify(event)
        assert answer["Queued"] is True and answer["TicketId"] == event["TicketId"], answer
        assert answer["RetryAfterSeconds"] >= MIN_RETRY_AFTER_SECONDS
        assert not _done(tickets, event["TicketId"])

    # The endpoints come back, the queue is fed to the classifier, every ticket is classified.
    wait_for(lambda: all(_done(tickets, e["TicketId"]) for e in events), 90)
    assert cloud.comprehend.usage.endpoints_created == 4  # trained, then recreated: 2 + 2
    classifier = tickets.output("ClassifierFunctionName")
    answers = [
        payload
        for name, event, result in cloud.runtime.invocations
        if name == classifier and "Records" in event
        for payload in [result.payload]
    ]
    # No queue batch the classifier answered reported a failed ticket.
    assert all(a == {"batchItemFailures": []} for a in answers), answers
    sqs = cloud.client("sqs")
    for url in sqs.list_queues()["QueueUrls"]:
        if STACK in url and "TicketQueue" in url:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
            assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0", url

    report = check(cloud)
    assert report.denied == [] and report.unverifiable == [], report.format()
