"""Powertools logger, tracer and metrics for a handler module.

Each handler module calls `observability()` once at import. The objects read their service name
and metrics namespace from the environment the function's construct sets.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer


def observability() -> tuple[Logger, Tracer, Metrics]:
    return Logger(), Tracer(), Metrics()
