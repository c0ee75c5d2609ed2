"""Shared constructs. They are the only place that sets the defaults every workflow inherits:
Lambda runtime, architecture, tracing, logging; bucket encryption, versioning, public access
and TLS; queue encryption and dead-letter queues; state machine logging and IAM grants; table
billing and recovery; log retention; the trust conditions of roles services assume; Firehose
encryption and delivery permissions."""

from stacks.constructs.asl_state_machine import AslStateMachine
from stacks.constructs.log_group import WorkflowLogGroup
from stacks.constructs.python_function import PythonFunction, WorkflowFunctions
from stacks.constructs.queue_with_dlq import QueueWithDlq
from stacks.constructs.secure_bucket import AccessLogsBucket, SecureBucket
from stacks.constructs.service_role import DataAccessRole, ServiceRole
from stacks.constructs.table import WorkflowTable
from stacks.constructs.topic import NotificationTopic

__all__ = [
    "AccessLogsBucket",
    "AslStateMachine",
    "DataAccessRole",
    "NotificationTopic",
    "PythonFunction",
    "QueueWithDlq",
    "SecureBucket",
    "ServiceRole",
    "WorkflowFunctions",
    "WorkflowLogGroup",
    "WorkflowTable",
]
