"""Chaos: AWS calls on the local cloud fail as AWS calls fail, seeded and counted.

The expected errors come from botocore's service models and retry handlers, never from a list
kept next to the implementation's.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import retryhandler, translate
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.retries import standard

from localcloud.cloud import REPO_ROOT, LocalCloud
from localcloud.core import chaos as chaos_module
from localcloud.core.chaos import ChaosSettings, ChaosSpecError
from stacks.asl_polls import read_definition
from stacks.constructs.asl_state_machine import task_states
from tests.helpers.aws import create_table
from tests.helpers.chaos import under_chaos, under_each_seed

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("chaos")]

TABLE, BUCKET, QUEUE = "chaos-table", "chaos-bucket", "chaos-queue"
CALLS = 40


@pytest.fixture
def empty_assembly(tmp_path: Path) -> Path:
    directory = tmp_path / "assembly"
    directory.mkdir()
    (directory / "manifest.json").write_text('{"version": "36.0.0", "artifacts": {}}')
    return directory


def _start(assembly: Path, chaos: str) -> LocalCloud:
    cloud = LocalCloud(assembly, chaos=chaos).start()
    assert cloud.chaos is not None
    with cloud.chaos.suspended():
        create_table(cloud.client("dynamodb"), TABLE, "k")
        cloud.client("s3").create_bucket(Bucket=BUCKET)
        cloud.client("sqs").create_queue(QueueName=QUEUE)
    return cloud


@pytest.fixture
def chaotic(empty_assembly: Path) -> Iterator[LocalCloud]:
    cloud = _start(empty_assembly, "1.0:1")
    try:
        yield cloud
    finally:
        cloud.stop()


def _single_attempt_client(cloud: LocalCloud, service: str) -> Any:
    """A client that does not retry, so each call shows one drawn failure."""
    return boto3.session.Session().client(
        service,
        region_name=cloud.region,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        **cloud.principals.user.as_client_kwargs(),
    )


def _calls(cloud: LocalCloud) -> dict[tuple[str, str], Callable[[Any], Any]]:
    queue_url = cloud.queue_url(QUEUE)
    return {
        ("dynamodb", "PutItem"): lambda c: c.put_item(TableName=TABLE, Item={"k": {"S": "a"}}),
        ("s3", "PutObject"): lambda c: c.put_object(Bucket=BUCKET, Key="k", Body=b"x"),
        ("sqs", "SendMessage"): lambda c: c.send_message(QueueUrl=queue_url, MessageBody="x"),
    }


def _raw_error_shapes(service: str) -> dict[str, Any]:
    loader = botocore.session.get_session().get_component("data_loader")
    shapes = loader.load_service_model(service, "service-2")["shapes"]
    return {name: shape for name, shape in shapes.items() if shape.get("exception")}


def _modeled_status(shape: dict[str, Any]) -> int:
    """The HTTP status of a modeled error: its own, else the protocol's default."""
    status = shape.get("error", {}).get("httpStatusCode")
    return int(status) if status else (500 if shape.get("fault") else 400)


def _retry_context(service: str, operation: str, code: str, status: int) -> standard.RetryContext:
    model = botocore.session.get_session().get_service_model(service)
    return standard.RetryContext(
        attempt_number=1,
        operation_model=model.operation_model(operation),
        parsed_response={"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        http_response=AWSResponse("https://example.invalid/", status, {}, None),
    )


def _legacy_mode_retries(service: str, operation: str, code: str, status: int) -> bool:
    session = botocore.session.get_session()
    retry_model = session.get_component("data_loader").load_data("_retry")
    model = session.get_service_model(service)
    config = translate.build_retry_config(
        model.endpoint_prefix, retry_model["retry"], retry_model.get("definitions", {})
    )
    handler = retryhandler.create_retry_handler(config, operation)
    response = (
        AWSResponse("https://example.invalid/", status, {}, None),
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
    )
    retried = handler(
        attempts=1, response=response, caught_exception=None, request_dict={"context": {}}
    )
    return retried is not None


def _is_throttling(service: str, operation: str, code: str, status: int) -> bool:
    context = _retry_context(service, operation, code, status)
    return bool(standard.ThrottlingErrorDetector(None).is_throttling_error_from_context(context))


@pytest.mark.parametrize(
    ("service", "operation"),
    [("dynamodb", "PutItem"), ("s3", "PutObject"), ("sqs", "SendMessage")],
)
def test_every_call_fails_with_an_error_the_model_gives_the_operation(
    chaotic: LocalCloud, service: str, operation: str
) -> None:
    client = _single_attempt_client(chaotic, service)
    call = _calls(chaotic)[(service, operation)]
    errors: list[ClientError] = []
    for _ in range(CALLS):
        with pytest.raises(ClientError) as caught:
            call(client)
        errors.append(caught.value)

    model = botocore.session.get_session().get_service_model(service)
    declared = {
        str(shape.metadata.get("error", {}).get("code") or shape.name): shape.name
        for shape in model.operation_model(operation).error_shapes
    }
    raw = _raw_error_shapes(service)
    statuses = {code: _modeled_status(raw[name]) for code, name in declared.items()}
    declares_server_fault = any(status >= 500 for status in statuses.values())
    declares_throttling = any(
        _is_throttling(service, operation, code, status) for code, status in statuses.items()
    )
    throttled = 0
    for error in errors:
        code = error.response["Error"]["Code"]
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        # The kind of error botocore retries, as it would AWS's.
        assert standard.StandardRetryConditions().is_retryable(
            _retry_context(service, operation, code, status)
        ), (code, status)
        throttling = _is_throttling(service, operation, code, status)
        throttled += throttling
        if code in declared:
            assert status == statuses[code], code
        else:
            # Not in the model: an error the service documents for every operation, which
            # botocore's legacy retry mode (code and status from its _retry.json) retries too.
            assert _legacy_mode_retries(service, operation, code, status), (code, status)
            if throttling:  # the service's own throttling error only where the model has none
                assert not declares_throttling, f"{code} where the model declares its throttling"
            else:  # an internal error only where the model declares none
                assert status >= 500 and not declares_server_fault, (code, status)
    assert throttled > 0, "chaos never throttled"
    assert chaotic.calls_failed_by_chaos == {f"{service}:{operation}": CALLS}


def test_the_error_codes_include_those_the_models_name(chaotic: LocalCloud) -> None:
    seen: dict[tuple[str, str], set[str]] = {}
    for (service, operation), call in _calls(chaotic).items():
        client = _single_attempt_client(chaotic, service)
        for _ in range(CALLS):
            with pytest.raises(ClientError) as caught:
                call(client)
            seen.setdefault((service, operation), set()).add(caught.value.response["Error"]["Code"])
    session = botocore.session.get_session()
    ddb_put = {s.name for s in session.get_service_model("dynamodb").operation_model("PutItem")
               .error_shapes}  # fmt: skip
    # DynamoDB's throttling errors and its internal error are all declared by PutItem.
    assert seen[("dynamodb", "PutItem")] <= ddb_put
    assert {"ProvisionedThroughputExceededException", "InternalServerError"} <= ddb_put
    sqs_send = {s.name for s in session.get_service_model("sqs").operation_model("SendMessage")
                .error_shapes}  # fmt: skip
    assert seen[("sqs", "SendMessage")] & sqs_send  # SQS's modeled RequestThrottled
    assert seen[("s3", "PutObject")]  # S3 declares none; the status checks are above


def test_sdk_clients_retry_chaos_errors_as_they_retry_aws(chaotic: LocalCloud) -> None:
    """The local cloud's clients use standard retries with 3 retries: four attempts fail."""
    for (service, operation), call in _calls(chaotic).items():
        with pytest.raises(ClientError) as caught:
            call(chaotic.client(service))
        assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 3, service
        assert chaotic.calls_failed_by_chaos[f"{service}:{operation}"] == 4


def _outcomes(assembly: Path, chaos: str) -> list[str]:
    cloud = _start(assembly, chaos)
    try:
        outcomes = []
        for (service, _), call in _calls(cloud).items():
            client = _single_attempt_client(cloud, service)
            for _ in range(CALLS):
                try:
                    call(client)
                    outcomes.append("ok")
                except ClientError as error:
                    outcomes.append(error.response["Error"]["Code"])
        return outcomes
    finally:
        cloud.stop()


def test_the_same_seed_fails_the_same_calls(empty_assembly: Path) -> None:
    first = _outcomes(empty_assembly, "0.3:11")
    again = _outcomes(empty_assembly, "0.3:11")
    other = _outcomes(empty_assembly, "0.3:12")
    assert first == again
    assert "ok" in first and set(first) != {"ok"}
    assert first != other


def test_rate_zero_installs_nothing_and_fails_nothing(empty_assembly: Path) -> None:
    from botocore.endpoint import Endpoint

    sending = Endpoint.__dict__["_do_get_response"]
    cloud = LocalCloud(empty_assembly, chaos="0:3").start()
    try:
        assert cloud.chaos is None
        assert Endpoint.__dict__["_do_get_response"] is sending
        cloud.client("s3").create_bucket(Bucket=BUCKET)
        client = _single_attempt_client(cloud, "s3")
        for number in range(CALLS):
            client.put_object(Bucket=BUCKET, Key=f"k{number}", Body=b"x")
        assert cloud.calls_failed_by_chaos == {}
    finally:
        cloud.stop()


def test_after_effect_failures_happen_after_the_write(empty_assembly: Path) -> None:
    cloud = LocalCloud(empty_assembly, chaos=ChaosSettings(1.0, 5, after_effect=1.0)).start()
    try:
        assert cloud.chaos is not None
        with cloud.chaos.suspended():
            cloud.client("s3").create_bucket(Bucket=BUCKET)
        with pytest.raises(ReadTimeoutError):
            _single_attempt_client(cloud, "s3").put_object(Bucket=BUCKET, Key="k", Body=b"x")
        with cloud.chaos.suspended():
            body = cloud.client("s3").get_object(Bucket=BUCKET, Key="k")["Body"].read()
        assert body == b"x"
        assert cloud.calls_failed_by_chaos == {"s3:PutObject": 1}
    finally:
        cloud.stop()


@pytest.mark.parametrize("text", ["2", "abc", "0.1:x", "-0.5", "nan", "0.1:", ""])
def test_an_invalid_chaos_value_is_refused_with_a_clear_reason(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from localcloud.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["demo", "caption_translation", "--chaos", text])
    assert exited.value.code == 2
    message = capsys.readouterr().err
    assert "--chaos" in message and "RATE[:SEED]" in message, message
    with pytest.raises(ChaosSpecError):
        ChaosSettings.parse(text)


def test_valid_chaos_values_parse() -> None:
    assert ChaosSettings.parse("0.05:7") == ChaosSettings(0.05, 7)
    assert ChaosSettings.parse("1") == ChaosSettings(1.0, 0)
    assert not ChaosSettings.parse("0").active


CAPTION_SAMPLES = REPO_ROOT / "samples" / "caption_translation"


def _caption_demo(assembly_dir: Path, out: Path, chaos: ChaosSettings | None) -> Any:
    from localcloud.demos import caption_translation as demo

    inputs = out / "input"
    for name in ("garden.srt", "lighthouse.en.vtt", "bad/binary.vtt", "bad/no-cues.vtt"):
        (inputs / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CAPTION_SAMPLES / name, inputs / name)
    return under_chaos(
        chaos, lambda: demo.run(inputs, out / "result", "en", ["es", "fr"], [], assembly_dir)
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".localcloud" not in path.parts
    }


def _calm(
    demo: Callable[[Path, Path, ChaosSettings | None], tuple[Any, dict[str, int]]],
    assembly_dir: Path,
    out: Path,
    written: str,
) -> tuple[Any, dict[str, bytes]]:
    """What `demo` answers without chaos, and the files it wrote under `out / written`."""
    calm, no_failures = demo(assembly_dir, out, None)
    assert no_failures == {}
    tree = _tree(out / written)
    assert tree, f"the calm run wrote nothing under {written}"
    return calm, tree


@pytest.fixture(scope="module")
def calm_captions(
    assembly_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, dict[str, bytes]]:
    return _calm(_caption_demo, assembly_dir, tmp_path_factory.mktemp("calm-captions"), "result")


@under_each_seed
def test_caption_translation_under_chaos_ends_with_the_same_outputs(
    assembly_dir: Path,
    tmp_path: Path,
    calm_captions: tuple[Any, dict[str, bytes]],
    chaos: ChaosSettings,
) -> None:
    calm, calm_tree = calm_captions
    stormy, failures = _caption_demo(assembly_dir, tmp_path / "stormy", chaos)

    assert sum(failures.values()) > 0, "chaos failed no call"
    assert (stormy.files_in, stormy.outputs, stormy.failed) == (
        calm.files_in, calm.outputs, calm.failed,
    )  # fmt: skip
    assert (stormy.cues_in, stormy.cues_out) == (calm.cues_in, calm.cues_out)
    assert _tree(tmp_path / "stormy" / "result") == calm_tree
    assert stormy.items == calm.items == {
        "itemsIn": 4, "outputs": 2, "quarantined": 2, "lost": 0, "duplicated": 0,
        "unexpected": 0,
    }  # fmt: skip


def _throttled(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, operation
    )


def test_a_delivery_that_fails_transiently_is_tried_again(empty_assembly: Path) -> None:
    with LocalCloud(empty_assembly) as cloud:
        attempts: list[int] = []

        def deliver() -> None:
            attempts.append(len(attempts) + 1)
            if len(attempts) < 3:
                raise _throttled("PutObject")

        cloud.delivery.attempt("a test delivery", deliver)
        cloud.settle(timeout=30)
        assert attempts == [1, 2, 3]
        assert len(cloud.delivery.retried) == 2

        def refused() -> None:
            raise ClientError(
                {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                "PutObject",
            )

        with pytest.raises(ClientError):
            cloud.delivery.attempt("a refused delivery", refused)


STATEMACHINES = sorted((REPO_ROOT / "statemachines").glob("*.asl.json"))
# Optimized integrations: botocore's service and the prefix of Step Functions' error names.
OPTIMIZED = {
    "sns": ("sns", "SNS"),
    "lambda": ("lambda", "Lambda"),
    "dynamodb": ("dynamodb", "DynamoDB"),
    "sqs": ("sqs", "SQS"),
}


def _step_functions_error_name(service: str, prefix: str, code: str, *, sdk: bool) -> str:
    """What Step Functions calls a service error: the modeled error's class, else the
    service's base exception (`localcloud.core.moto_hooks.task_error_name`)."""
    from localcloud.core.moto_hooks import OPTIMIZED_BASE_EXCEPTIONS

    model = botocore.session.get_session().get_service_model(service)
    for shape in model.error_shapes:
        if (shape.metadata.get("error", {}).get("code") or shape.name) == code:
            name = shape.name if shape.name.endswith("Exception") else f"{shape.name}Exception"
            return f"{prefix}.{name}"
    base = f"{prefix}Exception" if sdk else OPTIMIZED_BASE_EXCEPTIONS[prefix]
    return f"{prefix}.{base}"


@pytest.mark.parametrize("path", STATEMACHINES, ids=lambda path: path.name)
def test_every_service_task_retries_the_faults_its_call_can_fail_with(path: Path) -> None:
    """Step Functions does not retry a service integration by itself: a throttled or failed
    call that no Retry names fails the execution (after the work it did)."""
    from localcloud.core.chaos import operation_faults
    from localcloud.core.moto_hooks import sdk_error_prefix, sdk_service_name

    missing = []
    for name, state in task_states(read_definition(path)["States"]):
        resource = state.get("Resource", "")
        if not resource.startswith("arn:aws:states:::"):
            continue
        integration, *rest = resource.split(":::")[1].split(":")
        if integration == "aws-sdk":
            service, action = sdk_service_name(rest[0]), rest[1]
            prefix, sdk = sdk_error_prefix(rest[0]), True
        else:
            (service, prefix), action, sdk = OPTIMIZED[integration], rest[0], False
        model = botocore.session.get_session().get_service_model(service)
        operations = {operation.lower(): operation for operation in model.operation_names}
        operation = operations[action.split(".")[0].lower()]
        retried = {error for retry in state.get("Retry", []) for error in retry["ErrorEquals"]}
        for fault in operation_faults(service, operation):
            error = _step_functions_error_name(service, prefix, fault.code, sdk=sdk)
            if not {error, "States.ALL", "States.TaskFailed"} & retried:
                missing.append(f"{name} ({operation}): {fault.code} -> {error}")
    assert missing == []


def test_firehose_keeps_its_buffer_when_the_s3_write_fails_transiently() -> None:
    from types import SimpleNamespace

    from localcloud.services.firehose.streams import Buffers, StreamBuffer

    writes: list[dict[str, Any]] = []

    class FlakyS3:
        def put_object(self, **request: Any) -> None:
            writes.append(request)
            if len(writes) == 1:
                raise _throttled("PutObject")

    cloud = SimpleNamespace(
        clock=SimpleNamespace(time=lambda: 0.0), client_as=lambda role, service: FlakyS3()
    )
    buffers = Buffers(cloud)  # type: ignore[arg-type]
    try:
        destination = {
            "BucketARN": "arn:aws:s3:::bucket",
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "Prefix": "records/",
            "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 5},
        }
        buffers.streams["stream"] = StreamBuffer("stream", destination)
        buffers.add("stream", [b"one\n", b"two\n"])
        buffers.flush(force=True)
        assert buffers.pending(), "the records were dropped with the failed write"
        buffers.flush(force=True)
        assert not buffers.pending()
    finally:
        buffers.stop()
    assert [write["Body"] for write in writes] == [b"one\ntwo\n", b"one\ntwo\n"]
    assert writes[0]["Key"] == writes[1]["Key"]  # a write that took effect is not duplicated


def test_the_local_clouds_own_calls_never_fail(chaotic: LocalCloud) -> None:
    """Provisioning, API Gateway reading its configuration and A2I emitting events sign as the
    deployer: no API calls on AWS, so no chaos."""
    for number in range(CALLS):
        chaotic.deployer_client("s3").put_object(Bucket=BUCKET, Key=f"k{number}", Body=b"x")
    assert chaotic.calls_failed_by_chaos == {}


def _ticket_demo(
    assembly_dir: Path, out: Path, chaos: ChaosSettings | None
) -> tuple[dict[str, Any], dict[str, int]]:
    from localcloud.demos import ticket_classification as demo

    line, failures = under_chaos(chaos, lambda: demo.run(assembly_dir, out, count=12))
    line.pop("report", None)
    # billed endpoint time grows with retry waits, as it would on AWS: not an output
    line.pop("costUsd", None)
    return line, failures


@pytest.fixture(scope="module")
def calm_tickets(
    assembly_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], dict[str, bytes]]:
    return _calm(_ticket_demo, assembly_dir, tmp_path_factory.mktemp("calm-tickets"), "report")


@pytest.mark.xdist_group("chaos-tickets")  # beside the caption runs, not after them
@under_each_seed
def test_ticket_classification_under_chaos_ends_with_the_same_warehouse_report(
    assembly_dir: Path,
    tmp_path: Path,
    calm_tickets: tuple[dict[str, Any], dict[str, bytes]],
    chaos: ChaosSettings,
) -> None:
    """Every ticket row once in the warehouse: the report built from it is the same."""
    calm, calm_report = calm_tickets
    stormy, failures = _ticket_demo(assembly_dir, tmp_path / "stormy", chaos)

    assert sum(failures.values()) > 0, "chaos failed no call"
    assert stormy == calm
    assert calm["items"] == {
        "itemsIn": 13, "outputs": 12, "quarantined": 1, "lost": 0, "duplicated": 0,
        "unexpected": 0,
    }  # fmt: skip
    assert _tree(tmp_path / "stormy" / "report") == calm_report


def test_a_demo_line_reports_the_calls_chaos_failed() -> None:
    from localcloud.cli import _with_chaos_counts

    with chaos_module.chaos_run(ChaosSettings(0.05, 7, after_effect=0.5)) as run:
        chaos_module.note_finished(
            {"s3:PutObject": 2, "sqs:SendMessage": 1}, {"s3:PutObject": 1}, {"sqs:q": 2}
        )
    chaos_module.note_finished({"s3:PutObject": 5}, {})  # after the run: not its own
    line = _with_chaos_counts({"workflow": "w"}, run)
    assert line == {
        "workflow": "w",
        "chaos": "0.05:7",
        "callsFailedByChaos": 3,
        "callsFailedByChaosByOperation": {"s3:PutObject": 2, "sqs:SendMessage": 1},
        "callsFailedAfterTakingEffect": 1,
        "deliveriesRepeatedByChaos": 2,
    }
    with chaos_module.chaos_run(None) as calm:
        chaos_module.note_finished({"s3:PutObject": 1}, {})
    assert _with_chaos_counts({"workflow": "w"}, calm) == {"workflow": "w"}


@pytest.mark.parametrize(
    ("integration", "api_name", "expected"),
    [
        ("state_task_service_lambda.StateTaskServiceLambda", "lambda", "Lambda.SdkClientException"),
        ("state_task_service_aws_sdk.StateTaskServiceAwsSdk", "sqs", "Sqs.SdkClientException"),
    ],
)
def test_a_task_whose_answer_is_lost_fails_with_the_sdk_client_exception(
    empty_assembly: Path, integration: str, api_name: str, expected: str
) -> None:
    """Lambda tasks' recommended Retry names Lambda.SdkClientException for a lost answer;
    moto's executor would end the execution with States.Runtime instead."""
    import importlib
    from types import SimpleNamespace

    module_name, class_name = integration.split(".")
    module = importlib.import_module(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service." + module_name
    )
    with LocalCloud(empty_assembly):
        task = object.__new__(getattr(module, class_name))
        task.resource = SimpleNamespace(  # type: ignore[attr-defined]
            api_name=api_name, api_action="invoke", service_name=api_name, condition=None
        )
        env = SimpleNamespace(
            next_state_name="Task", event_history_context=SimpleNamespace(source_event_id=1)
        )
        event = task._from_error(env, ReadTimeoutError(endpoint_url="https://x.invalid/"))
    assert event.event_details["taskFailedEventDetails"]["error"] == expected


def _first_retrier(state: dict[str, Any], error: str) -> dict[str, Any] | None:
    """The retrier Step Functions applies to `error`: the first whose ErrorEquals matches."""
    for retrier in state.get("Retry", []):
        names = set(retrier["ErrorEquals"])
        if error in names or "States.ALL" in names or "States.TaskFailed" in names:
            return retrier
    return None


@pytest.mark.parametrize("path", STATEMACHINES, ids=lambda path: path.name)
def test_every_task_safe_to_repeat_retries_a_call_whose_answer_was_lost(path: Path) -> None:
    """A describe or poll call, or a write that sets a value (an overwriting parameter, a
    mapping switched on or off), that timed out after taking
    effect (`--chaos-after-effect`) fails the task with a client-side error no service model
    declares; the Step Functions guide names it only for Lambda (Lambda.SdkClientException).
    States.TaskFailed matches it whatever its name, and a read-only or overwriting call is safe
    to send again (a lost answer to `RecordLiveEndpoint` once failed a round whose endpoint was
    deployed)."""
    from localcloud.core.moto_hooks import sdk_error_prefix

    missing = []
    for name, state in task_states(read_definition(path)["States"]):
        integration, *rest = state.get("Resource", "").split(":::")[-1].split(":")
        parameters = state.get("Parameters", {})
        # Writes that set a value whatever the current one: an overwriting parameter, an
        # event source mapping switched on or off (a lost answer to `StopProcessing` once
        # failed a Custom Labels run whose images were all labelled).
        overwrites = (rest[1:] == ["putParameter"] and parameters.get("Overwrite") is True) or (
            rest[1:] == ["updateEventSourceMapping"] and set(parameters) == {"UUID", "Enabled"}
        )
        if integration == "aws-sdk" and (
            rest[1].startswith(("describe", "get", "list")) or overwrites
        ):
            error = f"{sdk_error_prefix(rest[0])}.SdkClientException"
        elif integration == "dynamodb" and rest[0] == "getItem":
            error = "DynamoDB.SdkClientException"
        else:
            continue
        retrier = _first_retrier(state, error)
        if retrier is None or retrier.get("MaxAttempts", 3) < 1:
            missing.append(f"{name} ({rest[-1]}): {error}")
    assert missing == []


def test_the_accounting_finds_lost_and_duplicated_items_in_the_outputs(tmp_path: Path) -> None:
    from localcloud.demos.caption_translation import caption_accounting
    from localcloud.demos.common import accounting

    assert accounting(["a", "b", "c", "d"], ["a", "a", "b"], ["b", "x"]) == {
        "itemsIn": 4, "outputs": 2, "quarantined": 1, "lost": 2, "duplicated": 2,
        "unexpected": 1,
    }  # fmt: skip
    for path in ("output/es/a.vtt", "output/fr/a.srt", "output/es/b.vtt", "failed/c.srt",
                 "output/es/a.vtt.report.json", "output/es/d.srt", "output/fr/d.srt",
                 "output/fr/d.vtt"):  # fmt: skip
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    # b has no French translation: neither written in full nor quarantined, so lost; d was
    # written twice in French, under two formats' names.
    assert caption_accounting(tmp_path, ["a.vtt", "b.vtt", "c.srt", "d.srt"], ["es", "fr"]) == {
        "itemsIn": 4, "outputs": 2, "quarantined": 1, "lost": 1, "duplicated": 1,
        "unexpected": 0,
    }  # fmt: skip


def test_a_standard_queue_delivers_out_of_order_and_again_under_chaos(
    probe_assembly_dir: Path, tmp_path: Path
) -> None:
    """SQS standard queues deliver in best-effort order and at least once: under chaos the
    poller hands a function its messages shuffled, and some messages a second time although
    they were handled."""
    from tests.fixtures.probe_stack import PROBE_STACK

    sent = [f"m{number:02d}" for number in range(60)]
    with LocalCloud(probe_assembly_dir, work_dir=tmp_path, chaos=ChaosSettings(0.2, 5)) as cloud:
        assert cloud.chaos is not None
        with cloud.chaos.suspended():
            stack = cloud.deploy(PROBE_STACK)
            (queue,) = [
                state.attributes["QueueName"]
                for logical_id, state in stack.resources_of_type("AWS::SQS::Queue").items()
                if logical_id.startswith("Work")
            ]
            sqs = cloud.client("sqs")
            url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
            for start in range(0, len(sent), 10):
                sqs.send_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": body, "MessageBody": body} for body in sent[start : start + 10]
                    ],
                )
        cloud.settle(timeout=300)
        repeated = sum(cloud.chaos.repeated.values())
        batches = [
            [record["body"] for record in event["Records"]]
            for name, event, _ in cloud.runtime.invocations
            if cloud.runtime.functions[name].logical_id.startswith("Consumer")
        ]
    seen = [body for batch in batches for body in batch]
    assert set(seen) == set(sent)  # nothing lost
    assert repeated > 0 and len(seen) > len(sent)  # handled messages came again
    assert any(batch != sorted(batch) for batch in batches)  # in best-effort order


def test_an_idempotency_claim_lapses_on_the_local_clock_as_an_async_retry_expects(
    empty_assembly: Path,
) -> None:
    """Lambda retries a failed asynchronous event a minute later; an attempt whose in-progress
    claim outlived its 30-second invocation is then taken over (the Powertools idempotency
    guide, "Handling concurrent executions with the same payload")."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyItemAlreadyExistsError,
    )
    from aws_lambda_powertools.utilities.idempotency.persistence.dynamodb import (
        DynamoDBPersistenceLayer,
    )

    # A clock at real speed: only `advance` moves it noticeably while DynamoDB answers.
    with LocalCloud(empty_assembly, clock_speed=1.0) as cloud:
        dynamodb = cloud.client("dynamodb")
        create_table(dynamodb, "state", "id")
        layer = DynamoDBPersistenceLayer("state", boto3_client=dynamodb)
        layer.configure(IdempotencyConfig(), function_name="transform")
        layer.save_inprogress({"loop": "a"}, remaining_time_in_millis=30_000)
        cloud.clock.advance(20)  # a retry while the first attempt may still run: refused
        with pytest.raises(IdempotencyItemAlreadyExistsError):
            layer.save_inprogress({"loop": "a"}, remaining_time_in_millis=30_000)
        cloud.clock.advance(40)  # Lambda's first retry, a minute on: the claim has lapsed
        layer.save_inprogress({"loop": "a"}, remaining_time_in_millis=30_000)
