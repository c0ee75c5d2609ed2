"""Kinesis Data Firehose delivery to S3, with buffering.

moto's Firehose writes one S3 object per `PutRecord`/`PutRecordBatch` call, at once. Here the
records of a DirectPut stream with an (extended) S3 destination are buffered per stream, as
Firehose does, and delivered as one object when the buffer reaches its `SizeInMBs` or its oldest
record is `IntervalInSeconds` old on the local clock (a background thread checks; `settle`
counts buffered records as work in flight). The object is written with the stream's role (so
the least-privilege check sees the role's S3 calls) at Firehose's key:
`<Prefix>YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>` (UTC time of the first
record), and its S3 event notifications fire like any other object's.

Not emulated: custom prefix expressions (`!{timestamp:...}`, `!{firehose:...}`: a prefix holding
one fails the deployment rather than being written literally), data transformation, format
conversion, compression, dynamic partitioning, error output (a write that fails for good raises
in the delivery thread; one that fails transiently, e.g. under `--chaos`, keeps the records
buffered and is tried again with the same key, as Firehose retries S3 delivery), and the
1,000 KiB record and 4 MiB batch limits.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from localcloud.core import moto_hooks
from localcloud.core.provision import NotEmulatedError, ProvisionRequest, _state, provisioner
from localcloud.core.template import ResourceState

if TYPE_CHECKING:
    from localcloud.core.cloud import LocalCloud
    from localcloud.core.moto_hooks import Patches

MIB = 1024 * 1024
EXPRESSION = re.compile(r"!\{")


@provisioner("AWS::KinesisFirehose::DeliveryStream")
def _delivery_stream(request: ProvisionRequest) -> ResourceState:
    props = request.properties
    name = props.get("DeliveryStreamName") or request.physical_name(64)
    if "RedshiftDestinationConfiguration" in props:
        return _redshift_stream(request, name)
    destination = props.get("ExtendedS3DestinationConfiguration") or props.get(
        "S3DestinationConfiguration"
    )
    if props.get("DeliveryStreamType", "DirectPut") != "DirectPut" or destination is None:
        raise NotEmulatedError(f"{request.logical_id}: only DirectPut streams to S3 are emulated")
    if EXPRESSION.search(destination.get("Prefix", "")):
        raise NotEmulatedError(f"{request.logical_id}: prefix expressions are not emulated")
    hints = destination.get("BufferingHints", {})
    config = {
        "BucketARN": destination["BucketARN"],
        "RoleARN": destination["RoleARN"],
        "Prefix": destination.get("Prefix", ""),
        "BufferingHints": {
            "IntervalInSeconds": int(hints.get("IntervalInSeconds", 300)),
            "SizeInMBs": int(hints.get("SizeInMBs", 5)),
        },
    }
    created = request.client("firehose").create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration=config,
    )
    buffers(request.cloud).streams[name] = StreamBuffer(name, config)
    return _state(request, name, Arn=created["DeliveryStreamARN"])


def _redshift_stream(request: ProvisionRequest, name: str) -> ResourceState:
    """A stream to Redshift, created as configured: the Redshift service's plugin delivers
    its records (`localcloud.services.redshift.engine`)."""
    props = request.properties
    arguments: dict[str, Any] = {
        "DeliveryStreamName": name,
        "DeliveryStreamType": props.get("DeliveryStreamType", "DirectPut"),
    }
    for key in (
        "RedshiftDestinationConfiguration",
        "ExtendedS3DestinationConfiguration",
        "S3DestinationConfiguration",
        "DeliveryStreamEncryptionConfigurationInput",
    ):
        if key in props:
            arguments[key] = props[key]
    arn = request.client("firehose").create_delivery_stream(**arguments)["DeliveryStreamARN"]
    return _state(request, name, Arn=arn)


@dataclass
class StreamBuffer:
    name: str
    destination: dict[str, Any]
    records: list[bytes] = field(default_factory=list)
    first_arrival: float | None = None
    delivered: list[str] = field(default_factory=list)
    pending_key: str | None = None  # the key of a delivery that failed and will be retried

    @property
    def size(self) -> int:
        return sum(len(record) for record in self.records)


class Buffers:
    """Every stream's buffer on one local cloud, and the thread that delivers them."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.streams: dict[str, StreamBuffer] = {}
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="firehose-delivery", daemon=True)
        self._thread.start()

    def add(self, stream: str, records: list[bytes]) -> bool:
        """Buffer records; False if the stream is not one the local cloud created."""
        with self.lock:
            buffer = self.streams.get(stream)
            if buffer is None:
                return False
            if buffer.first_arrival is None:
                buffer.first_arrival = self.cloud.clock.time()
            buffer.records.extend(records)
            if buffer.size >= buffer.destination["BufferingHints"]["SizeInMBs"] * MIB:
                self._deliver(buffer)
            return True

    def pending(self) -> bool:
        with self.lock:
            return any(buffer.records for buffer in self.streams.values())

    def flush(self, force: bool = False) -> None:
        with self.lock:
            now = self.cloud.clock.time()
            for buffer in self.streams.values():
                interval = buffer.destination["BufferingHints"]["IntervalInSeconds"]
                due = buffer.first_arrival is not None and now - buffer.first_arrival >= interval
                if buffer.records and (force or due):
                    self._deliver(buffer)

    def _deliver(self, buffer: StreamBuffer) -> None:
        from datetime import UTC, datetime

        from localcloud.core.chaos import is_transient

        arrival = datetime.fromtimestamp(buffer.first_arrival or self.cloud.clock.time(), UTC)
        prefix = buffer.destination["Prefix"]
        key = buffer.pending_key or (
            f"{prefix}{arrival:%Y/%m/%d/%H}/{buffer.name}-1-{arrival:%Y-%m-%d-%H-%M-%S}-"
            f"{uuid.uuid4()}"
        )
        bucket = buffer.destination["BucketARN"].split(":::", 1)[1]
        data = b"".join(buffer.records)
        try:
            self.cloud.client_as(buffer.destination["RoleARN"], "s3").put_object(
                Bucket=bucket, Key=key, Body=data
            )
        except Exception as error:
            if not is_transient(error):
                raise
            buffer.pending_key = key  # the records stay buffered for the next attempt
            return
        buffer.records = []
        buffer.first_arrival = None
        buffer.pending_key = None
        buffer.delivered.append(f"s3://{bucket}/{key}")

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            try:
                self.flush()
            except Exception as error:  # reported through settle, like other delivery errors
                self.cloud.delivery.errors.append(f"firehose delivery failed: {error}")

    def stop(self) -> None:
        self._stop.set()


def buffers(cloud: LocalCloud) -> Buffers:
    """The cloud's Firehose buffers (made when it starts, by `install`)."""
    found = cloud.service_state.get("firehose")
    if found is None:
        raise RuntimeError("the local cloud is not started: it has no Firehose buffers")
    return found


def install(cloud: LocalCloud, patches: Patches) -> Buffers:
    """Route moto's Firehose S3 delivery through buffers of the cloud's own; `patches.undo()`
    stops their delivery thread and puts moto's back."""
    found = Buffers(cloud)
    cloud.busy_checks.append(found.pending)
    moto_hooks.hook_firehose_s3_delivery(patches, found.add)
    patches.on_undo(found.stop)
    return found
