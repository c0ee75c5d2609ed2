"""How the server finds the service and operation of a request a real client sends: each case
is signed and serialized by botocore exactly as for AWS, then routed without being sent."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest

from localcloud.serve import local_api_url
from localcloud.server import (
    _CREDENTIAL_SCOPE,
    IncomingRequest,
    RoutingError,
    ServiceIndex,
    _virtual_host_bucket,
    operation_of,
)

SERVICES = ["s3", "s3control", "lambda", "sqs", "dynamodb", "ssm", "translate", "comprehend",
            "sagemaker", "sagemaker-runtime", "sagemaker-a2i-runtime", "stepfunctions",
            "cloudformation", "sts", "apigateway", "cloudwatch", "glue", "rekognition",
            "firehose", "redshift-data", "events"]  # fmt: skip
INDEX = ServiceIndex(SERVICES)
ARN = "arn:aws:comprehend:us-east-1:123456789012:document-classifier-endpoint/e"

# fmt: off
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("s3", "get_object", {"Bucket": "b", "Key": "a/b c.txt"}),
    ("s3", "put_object", {"Bucket": "b", "Key": "k", "Body": b"x"}),
    ("s3", "head_object", {"Bucket": "b", "Key": "k"}),
    ("s3", "head_bucket", {"Bucket": "b"}),
    ("s3", "get_object_tagging", {"Bucket": "b", "Key": "k"}),
    ("s3", "list_objects_v2", {"Bucket": "b", "Prefix": "p/"}),
    ("s3", "list_objects", {"Bucket": "b"}),
    ("s3", "create_multipart_upload", {"Bucket": "b", "Key": "k"}),
    ("s3", "upload_part", {"Bucket": "b", "Key": "k", "UploadId": "u", "PartNumber": 1}),
    ("s3", "delete_objects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "k"}]}}),
    ("s3", "get_bucket_notification_configuration", {"Bucket": "b"}),
    ("lambda", "invoke", {"FunctionName": "f", "Payload": b"{}"}),
    ("lambda", "list_functions", {}),
    ("lambda", "get_function", {"FunctionName": "f"}),
    ("sqs", "send_message", {"QueueUrl": "https://sqs/q", "MessageBody": "m"}),
    ("dynamodb", "put_item", {"TableName": "t", "Item": {"pk": {"S": "1"}}}),
    ("ssm", "get_parameter", {"Name": "/p"}),
    ("translate", "translate_text",
     {"Text": "t", "SourceLanguageCode": "en", "TargetLanguageCode": "fr"}),
    ("comprehend", "classify_document", {"Text": "t", "EndpointArn": ARN}),
    ("sagemaker", "describe_endpoint", {"EndpointName": "e"}),
    ("sagemaker-runtime", "invoke_endpoint", {"EndpointName": "e", "Body": b"x"}),
    ("sagemaker-a2i-runtime", "describe_human_loop", {"HumanLoopName": "h"}),
    ("stepfunctions", "list_executions", {"stateMachineArn": "arn:aws:states:::m"}),
    ("cloudformation", "describe_stacks", {"StackName": "s"}),
    ("sts", "get_caller_identity", {}),
    ("apigateway", "get_api_key", {"apiKey": "k", "includeValue": True}),
    ("apigateway", "get_resources", {"restApiId": "a"}),
    ("cloudwatch", "describe_alarms", {}),
    ("glue", "start_job_run", {"JobName": "j"}),
    ("rekognition", "describe_projects", {}),
    ("firehose", "put_record", {"DeliveryStreamName": "d", "Record": {"Data": b"x"}}),
    ("redshift-data", "execute_statement",
     {"Sql": "select 1", "Database": "d", "WorkgroupName": "wg1"}),
    ("events", "put_events", {"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}]}),
]
# fmt: on


class _CapturedError(Exception):
    def __init__(self, request: AWSPreparedRequest) -> None:
        super().__init__("captured")
        self.request = request


def _sent(service: str, method: str, params: dict[str, Any]) -> AWSPreparedRequest:
    client = boto3.client(
        service,
        endpoint_url="http://127.0.0.1:4566",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )

    def capture(request: AWSPreparedRequest, **_: Any) -> None:
        raise _CapturedError(request)

    client.meta.events.register_first("before-send", capture)
    with pytest.raises(_CapturedError) as captured:
        getattr(client, method)(**params)
    return captured.value.request


def _incoming(request: AWSPreparedRequest) -> IncomingRequest:
    url = urlsplit(request.url)
    body = request.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    return IncomingRequest(request.method, url.path, url.query, request.headers, body)


@pytest.mark.parametrize(("service", "method", "params"), CASES,
                         ids=[f"{s}.{m}" for s, m, _ in CASES])  # fmt: skip
def test_a_clients_request_is_routed_to_the_operation_it_calls(
    service: str, method: str, params: dict[str, Any]
) -> None:
    request = _sent(service, method, params)
    incoming = _incoming(request)
    scope = _CREDENTIAL_SCOPE.search(str(incoming.header("Authorization")))
    assert scope is not None
    from urllib.parse import unquote

    model, operation = operation_of(
        INDEX, incoming, INDEX.services_signed_as(scope.group(4)), unquote(incoming.path)
    )

    client_model = boto3.client(service, region_name="us-east-1").meta.service_model
    expected = client_model.operation_model(
        next(n for n in client_model.operation_names if _snake(n) == method)
    )
    assert (model.service_name, operation.name) == (service, expected.name)


def _snake(name: str) -> str:
    from botocore import xform_name

    return str(xform_name(name))


def test_a_request_no_operation_answers_is_a_routing_error() -> None:
    incoming = _incoming(_sent("lambda", "list_functions", {}))
    incoming.path = "/2015-03-31/nothing/here/at/all"

    with pytest.raises(RoutingError) as refused:
        operation_of(INDEX, incoming, INDEX.services_signed_as("lambda"), incoming.path)
    assert refused.value.status == 404


@pytest.mark.parametrize(
    ("host", "bucket"),
    [
        ("my-bucket.s3.localhost:4566", "my-bucket"),
        ("my-bucket.localhost:4566", "my-bucket"),
        ("my-bucket.s3.localhost.localstack.cloud:4566", "my-bucket"),
        ("localhost:4566", None),
        ("127.0.0.1:4566", None),
    ],
)
def test_virtual_hosted_style_names_the_bucket_in_the_host(host: str, bucket: str | None) -> None:
    assert _virtual_host_bucket(host) == bucket


def test_an_api_stage_url_maps_to_the_servers_url() -> None:
    url = "https://ea653a7a84.execute-api.us-east-1.amazonaws.com/v1/"

    assert local_api_url(url, "http://127.0.0.1:4566") == (
        "http://127.0.0.1:4566/restapis/ea653a7a84/v1/_user_request_/"
    )
    assert local_api_url("https://example.com/v1/", "http://127.0.0.1:4566") is None


def test_an_operation_nothing_emulates_answers_501_naming_it() -> None:
    """SDKs retry 500 (four times, for the aws CLI); 501 they report at once."""
    import io

    from localcloud.server import LocalCloudServer

    server = object.__new__(LocalCloudServer)

    def handle(request: IncomingRequest) -> Any:
        raise NotImplementedError("The list_human_task_uis action has not been implemented")

    server.handle = handle  # type: ignore[method-assign]
    answered: list[str] = []
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "", "SERVER_NAME": "x",
        "SERVER_PORT": "4566", "wsgi.input": io.BytesIO(b"{}"), "wsgi.url_scheme": "http",
        "CONTENT_LENGTH": "2", "HTTP_X_AMZ_TARGET": "SageMaker.ListHumanTaskUis",
        "CONTENT_TYPE": "application/x-amz-json-1.1",
    }  # fmt: skip
    body = b"".join(server(environ, lambda status, headers: answered.append(status)))
    assert answered == ["501 Not Implemented"]
    assert b"list_human_task_uis" in body and b"NotImplemented" in body
