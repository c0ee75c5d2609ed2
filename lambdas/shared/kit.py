"""The handler kit: what every handler module needs, set up in one line.

    kit = HandlerKit(CaptionSettings)

    @kit.handler(BatchTask)
    def handler(task: BatchTask, settings: CaptionSettings) -> dict[str, Any]:
        return prepare_batch(task.batch_id, settings, ObjectStore(kit.clients("s3"), ...))

The decorated function is the Lambda entry point, `handler(event, context)`, wrapped in
Powertools' logger (Lambda context in every line), tracer and metrics (flushed at the end of
every invocation). It receives the event as the given Powertools data class (or as it came
without one) and, when it names them as parameters, `settings` (read from the environment at
every invocation: the local cloud runs several functions in one process, each invocation with
its own environment) and `context`. `@kit.sqs_records` does the same for a function called
once per SQS message, with Powertools' batch processor reporting partial failures.

`kit.clients` makes each boto3 client once per execution environment; `kit.count` adds a
count metric; `kit.idempotency(table)` is the Powertools idempotency store in a table.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Generic, Protocol, Self, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from lambdas.shared.aws import ClientCache


class Settings(Protocol):
    @classmethod
    def from_env(cls) -> Self: ...


SettingsT = TypeVar("SettingsT", bound=Settings)
LambdaHandler = Callable[[Any, Any], Any]


class HandlerKit(Generic[SettingsT]):
    def __init__(self, settings: type[SettingsT] | None = None) -> None:
        # Service name and metrics namespace come from the environment the function's
        # construct sets (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE).
        self.logger = Logger()
        self.tracer = Tracer()
        self.metrics = Metrics()
        self.clients = ClientCache()
        self._settings = settings
        self._stores: dict[str, DynamoDBPersistenceLayer] = {}

    def count(self, name: str, value: float = 1) -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def handler(
        self, event_type: type | None = None, *, correlation_id_path: str | None = None
    ) -> Callable[[Callable[..., Any]], LambdaHandler]:
        def decorate(function: Callable[..., Any]) -> LambdaHandler:
            wants = inspect.signature(function).parameters

            @self.logger.inject_lambda_context(correlation_id_path=correlation_id_path)
            @self.tracer.capture_lambda_handler
            @self.metrics.log_metrics
            @functools.wraps(function)
            def entry(event: Any, context: Any) -> Any:
                arguments: dict[str, Any] = {}
                if "settings" in wants:
                    arguments["settings"] = self._settings.from_env() if self._settings else None
                if "context" in wants:
                    arguments["context"] = context
                return function(event_type(event) if event_type else event, **arguments)

            return entry

        return decorate

    def sqs_records(self, record_handler: Callable[..., None]) -> LambdaHandler:
        """The Lambda handler of a queue: `record_handler(record: SQSRecord, settings)` runs
        once per message; a message that raises is reported failed alone, so SQS redelivers
        just that one (and dead-letters it after the queue's maxReceiveCount)."""
        processor = BatchProcessor(event_type=EventType.SQS)

        def handle(event: dict[str, Any], settings: Any, context: Any) -> Any:
            return process_partial_response(
                event=event,
                record_handler=lambda record: record_handler(record, settings),
                processor=processor,
                context=context,
            )

        handle.__name__ = record_handler.__name__
        return self.handler()(handle)

    def idempotency(self, table: str) -> DynamoDBPersistenceLayer:
        """Powertools' idempotency records in `table` (partition key `pk`), through this
        module's DynamoDB client; made once per table (the layer registers itself on the
        client, so a new one per invocation would pile up)."""
        store = self._stores.get(table)
        if store is None:
            store = DynamoDBPersistenceLayer(
                table_name=table, key_attr="pk", boto3_client=self.clients("dynamodb")
            )
            self._stores[table] = store
        return store
