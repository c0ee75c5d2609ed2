"""Stack outputs: what a user or a client needs after a deploy."""

from __future__ import annotations

from aws_cdk import CfnOutput
from constructs import Construct


def add_outputs(scope: Construct, **values: str) -> None:
    """One `CfnOutput` per keyword, named by it, in the order given."""
    for name, value in values.items():
        CfnOutput(scope, name, value=value)
