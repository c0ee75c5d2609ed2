"""The ticket workflow's provisioned-cluster configurations, synthesized as `cdk synth` would
(with cdk-nag checking them) into their own cloud assembly: one with a public cluster in the
default VPC (deployed on the local cloud), one with a private single-node cluster in given
subnets and existing endpoints (checked as a template)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import _synthesized

REPO_ROOT = Path(__file__).resolve().parents[2]
PROVISIONED_STACK = "TicketClassification-provisioned"
PRIVATE_STACK = "TicketClassification-private"
SUBNETS = ("subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788")
SECURITY_GROUP = "sg-0123456789abcdef0"
OPERATION_ARN = "arn:aws:comprehend:us-east-1:123456789012:document-classifier-endpoint/ops"
RESOURCE_ARN = "arn:aws:comprehend:us-east-1:123456789012:document-classifier-endpoint/res"
PROVISIONED_ASSEMBLY = REPO_ROOT / "build" / "test-tickets-provisioned-assembly"
# Everything the synthesized template depends on.
SOURCES = ["app.py", "cdk.json", "stacks", "lambdas", "statemachines",
           "tests/workflows/tickets_helpers.py"]  # fmt: skip


def synthesize_provisioned(outdir: Path) -> None:
    from aws_cdk import App, Validations
    from cdk_nag import AwsSolutionsChecks

    from app import cdk_json_context
    from stacks.config import TicketSettings
    from stacks.ticket_classification import TicketClassificationStack

    context = {
        **cdk_json_context(),
        "stage": "test",
        "ticket_classification:warehouse": "provisioned",
        "ticket_classification:nodeType": "ra3.xlplus",
        "ticket_classification:numberOfNodes": 2,
    }
    app = App(outdir=str(outdir), context=context)
    TicketClassificationStack(
        app, PROVISIONED_STACK, settings=TicketSettings.from_context(app.node)
    )
    private = {
        "ticket_classification:nodeType": "ra3.large",
        "ticket_classification:numberOfNodes": 1,
        "ticket_classification:publiclyAccessible": False,
        "ticket_classification:subnetIds": ",".join(SUBNETS),
        "ticket_classification:securityGroupIds": SECURITY_GROUP,
        "ticket_classification:operationEndpointArn": OPERATION_ARN,
        "ticket_classification:resourceEndpointArn": RESOURCE_ARN,
    }
    settings = TicketSettings.from_context(App(context={**context, **private}).node)
    TicketClassificationStack(app, PRIVATE_STACK, settings=settings)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


def provisioned_assembly() -> Path:
    """The assembly of `synthesize_provisioned`, synthesized again once a source changes."""
    return _synthesized(PROVISIONED_ASSEMBLY, synthesize_provisioned, SOURCES)
