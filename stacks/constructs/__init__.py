"""Shared constructs. They are the only place that sets the defaults every workflow inherits:
Lambda runtime, architecture, tracing, logging; bucket encryption, versioning, public access
and TLS; queue encryption and dead-letter queues; state machine logging and IAM grants."""

from stacks.constructs.asl_state_machine import AslStateMachine
from stacks.constructs.python_function import PythonFunction
from stacks.constructs.queue_with_dlq import QueueWithDlq
from stacks.constructs.secure_bucket import AccessLogsBucket, SecureBucket
from stacks.constructs.topic import NotificationTopic

__all__ = [
    "AccessLogsBucket",
    "AslStateMachine",
    "NotificationTopic",
    "PythonFunction",
    "QueueWithDlq",
    "SecureBucket",
]
