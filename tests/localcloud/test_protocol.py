"""The local engines' wire layer, driven by real boto3 clients (JSON 1.1 and RPC v2 CBOR)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.parsers
import botocore.session
import cbor2
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.core.protocol import (
    CallContext,
    LocalEngine,
    ServiceError,
    answer,
    load_service_model,
    register_on_client,
)

REGION = "us-east-1"
CBOR = "smithy-rpc-v2-cbor"
TARGET_PREFIX = "AWSShineFrontendService_20170701"


class FakeTranslate(LocalEngine):
    """A translate engine with canned answers, to observe exactly what crosses the wire."""

    service_name = "translate"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], CallContext]] = []

    def handle(self, operation: str, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        self.calls.append((operation, params, ctx))
        if operation == "TranslateDocument":
            content = params["Document"]["Content"]
            return {
                "TranslatedDocument": {"Content": content[::-1]},
                "SourceLanguageCode": params["SourceLanguageCode"],
                "TargetLanguageCode": params["TargetLanguageCode"],
            }
        if operation == "DescribeTextTranslationJob":
            return {
                "TextTranslationJobProperties": {
                    "JobId": params["JobId"],
                    "JobStatus": "COMPLETED",
                    "SubmittedTime": datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC),
                    "EndTime": datetime(2024, 1, 2, 3, 14, 5, tzinfo=UTC),
                    "JobDetails": {"InputDocumentsCount": 3},
                }
            }
        if operation == "ListTextTranslationJobs":
            return {"TextTranslationJobPropertiesList": []}
        if operation == "TranslateText":
            text = params["Text"]
            if text == "throttle":
                raise ServiceError("TooManyRequestsException", "Rate exceeded.")
            if text == "pair":
                raise ServiceError(
                    "UnsupportedLanguagePairException",
                    "Unsupported language pair: en to xx.",
                    fields={"SourceLanguageCode": "en", "TargetLanguageCode": "xx"},
                )
            if text == "crash":
                raise RuntimeError("engine bug")
            return {
                "TranslatedText": text.upper(),
                "SourceLanguageCode": params["SourceLanguageCode"],
                "TargetLanguageCode": params["TargetLanguageCode"],
            }
        return {}


@dataclass
class WireLog:
    """Raw requests and responses of one client, as they cross the wire."""

    requests: list[Any] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-send.translate", self._on_request)
        client.meta.events.register("response-received.translate", self._on_response)

    def _on_request(self, request: Any, **_: Any) -> None:
        self.requests.append(request)

    def _on_response(self, response_dict: dict[str, Any] | None, **_: Any) -> None:
        if response_dict is not None:
            self.responses.append(response_dict)


def _cbor_session(models_dir: Path) -> botocore.session.Session:
    """A botocore session whose translate model lists only the CBOR protocol.

    botocore 1.44 prefers JSON when a model lists both, so this is how to make a stock client
    speak RPC v2 CBOR: a copy of the model on the loader's search path, nothing patched.
    """
    model = botocore.loaders.Loader().load_service_model("translate", "service-2")
    model["metadata"]["protocols"] = [CBOR]
    model["metadata"]["protocol"] = CBOR
    version_dir = models_dir / "translate" / model["metadata"]["apiVersion"]
    version_dir.mkdir(parents=True, exist_ok=True)
    (version_dir / "service-2.json").write_text(json.dumps(model))
    session = botocore.session.get_session()
    session.register_component(
        "data_loader", botocore.loaders.Loader(extra_search_paths=[str(models_dir)])
    )
    return session


@pytest.fixture(scope="module")
def cbor_session(tmp_path_factory: pytest.TempPathFactory) -> botocore.session.Session:
    return _cbor_session(tmp_path_factory.mktemp("models"))


# Shared sessions load each service model once, which keeps the tests fast.
JSON_SESSION = boto3.Session()


def _client(
    protocol: str, cbor_session: botocore.session.Session, config: Config | None = None
) -> Any:
    session = boto3.Session(botocore_session=cbor_session) if protocol == CBOR else JSON_SESSION
    return session.client(
        "translate",
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=config or Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


@pytest.fixture(params=["json", CBOR])
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine() -> FakeTranslate:
    return FakeTranslate()


def _wire(
    protocol: str, cbor_session: botocore.session.Session, engine: LocalEngine
) -> tuple[Any, WireLog]:
    client = _client(protocol, cbor_session)
    register_on_client(client, engine)
    log = WireLog()
    log.attach(client)
    return client, log


@pytest.fixture
def wired(
    protocol: str, cbor_session: botocore.session.Session, engine: FakeTranslate
) -> tuple[Any, WireLog]:
    return _wire(protocol, cbor_session, engine)


def test_botocore_prefers_json_and_the_cbor_client_really_speaks_cbor(
    cbor_session: botocore.session.Session,
) -> None:
    assert load_service_model("translate").metadata["protocols"] == [CBOR, "json"]
    assert _client("json", cbor_session).meta.service_model.resolved_protocol == "json"
    assert _client(CBOR, cbor_session).meta.service_model.resolved_protocol == CBOR


def test_json_wire_format(cbor_session: botocore.session.Session, engine: FakeTranslate) -> None:
    client, log = _wire("json", cbor_session, engine)
    result = client.translate_text(Text="hi", SourceLanguageCode="en", TargetLanguageCode="es")
    assert result["TranslatedText"] == "HI"
    request = log.requests[0]
    assert request.url == "https://translate.us-east-1.amazonaws.com/"
    assert request.headers["X-Amz-Target"] == f"{TARGET_PREFIX}.TranslateText".encode()
    assert request.headers["Content-Type"] == b"application/x-amz-json-1.1"
    response = log.responses[0]
    assert response["status_code"] == 200
    assert response["headers"]["Content-Type"] == "application/x-amz-json-1.1"
    assert json.loads(response["body"]) == {
        "TranslatedText": "HI",
        "SourceLanguageCode": "en",
        "TargetLanguageCode": "es",
    }


def test_cbor_wire_format(cbor_session: botocore.session.Session, engine: FakeTranslate) -> None:
    client, log = _wire(CBOR, cbor_session, engine)
    result = client.translate_text(Text="hi", SourceLanguageCode="en", TargetLanguageCode="es")
    assert result["TranslatedText"] == "HI"
    request = log.requests[0]
    assert request.url == (
        f"https://translate.us-east-1.amazonaws.com/service/{TARGET_PREFIX}/operation/TranslateText"
    )
    assert request.headers["smithy-protocol"] == b"rpc-v2-cbor"
    assert request.headers["Content-Type"] == b"application/cbor"
    assert cbor2.loads(request.body) == {
        "Text": "hi",
        "SourceLanguageCode": "en",
        "TargetLanguageCode": "es",
    }
    response = log.responses[0]
    assert response["headers"]["Content-Type"] == "application/cbor"
    assert response["headers"]["smithy-protocol"] == "rpc-v2-cbor"
    assert cbor2.loads(response["body"]) == {
        "TranslatedText": "HI",
        "SourceLanguageCode": "en",
        "TargetLanguageCode": "es",
    }


def test_blobs_round_trip_as_bytes(
    wired: tuple[Any, WireLog], engine: FakeTranslate, protocol: str
) -> None:
    client, log = wired
    content = b"\x00\xffnot utf-8\x80"
    result = client.translate_document(
        Document={"Content": content, "ContentType": "text/plain"},
        SourceLanguageCode="en",
        TargetLanguageCode="de",
    )
    assert engine.calls[0][1]["Document"] == {"Content": content, "ContentType": "text/plain"}
    assert result["TranslatedDocument"]["Content"] == content[::-1]
    body = log.responses[0]["body"]
    if protocol == CBOR:
        assert cbor2.loads(body)["TranslatedDocument"]["Content"] == content[::-1]
    else:
        encoded = base64.b64encode(content[::-1]).decode("ascii")
        assert json.loads(body)["TranslatedDocument"]["Content"] == encoded


def test_timestamps_round_trip(
    wired: tuple[Any, WireLog], engine: FakeTranslate, protocol: str
) -> None:
    client, log = wired
    result = client.describe_text_translation_job(JobId="abc")
    props = result["TextTranslationJobProperties"]
    assert props["SubmittedTime"] == datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)
    assert props["EndTime"] == datetime(2024, 1, 2, 3, 14, 5, tzinfo=UTC)
    assert props["JobDetails"] == {"InputDocumentsCount": 3}
    raw = log.responses[0]["body"]
    if protocol == CBOR:
        # Tag 1 (epoch seconds) is initial byte 0xc1; cbor2 decodes it as a datetime.
        assert b"\xc1\xfb" in raw and b"\xc1\x1a" in raw
        decoded = cbor2.loads(raw)["TextTranslationJobProperties"]
        assert decoded["SubmittedTime"] == datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)
    else:
        decoded = json.loads(raw)["TextTranslationJobProperties"]
        assert decoded["SubmittedTime"] == 1704164645.5
        assert decoded["EndTime"] == 1704165245

    client.list_text_translation_jobs(
        Filter={"SubmittedAfterTime": datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)}
    )
    params = engine.calls[-1][1]
    assert params == {"Filter": {"SubmittedAfterTime": datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)}}


def test_service_errors_map_to_modeled_exceptions(wired: tuple[Any, WireLog]) -> None:
    client, log = wired
    with pytest.raises(client.exceptions.TooManyRequestsException) as throttled:
        client.translate_text(Text="throttle", SourceLanguageCode="en", TargetLanguageCode="es")
    assert throttled.value.response["Error"] == {
        "Code": "TooManyRequestsException",
        "Message": "Rate exceeded.",
    }
    assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429

    with pytest.raises(client.exceptions.UnsupportedLanguagePairException) as pair:
        client.translate_text(Text="pair", SourceLanguageCode="en", TargetLanguageCode="xx")
    assert pair.value.response["Error"]["Code"] == "UnsupportedLanguagePairException"
    assert pair.value.response["SourceLanguageCode"] == "en"
    assert pair.value.response["TargetLanguageCode"] == "xx"
    assert pair.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert log.responses[-1]["headers"].get("x-amzn-RequestId")


def test_json_errors_carry_the_error_type_header(
    cbor_session: botocore.session.Session, engine: FakeTranslate
) -> None:
    client, log = _wire("json", cbor_session, engine)
    with pytest.raises(ClientError):
        client.translate_text(Text="throttle", SourceLanguageCode="en", TargetLanguageCode="es")
    response = log.responses[-1]
    assert response["headers"]["x-amzn-errortype"] == "TooManyRequestsException"
    assert json.loads(response["body"]) == {
        "__type": "TooManyRequestsException",
        "message": "Rate exceeded.",
    }


def test_engine_crash_is_an_internal_server_error(wired: tuple[Any, WireLog]) -> None:
    client, _ = wired
    with pytest.raises(client.exceptions.InternalServerException) as crashed:
        client.translate_text(Text="crash", SourceLanguageCode="en", TargetLanguageCode="es")
    assert crashed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert crashed.value.response["Error"]["Message"] == "An internal error occurred."


def _unvalidated_client(
    protocol: str, cbor_session: botocore.session.Session, engine: LocalEngine
) -> Any:
    """A client like Step Functions' aws-sdk tasks use: no client-side validation."""
    client = _client(
        protocol,
        cbor_session,
        Config(parameter_validation=False, retries={"mode": "standard", "total_max_attempts": 1}),
    )
    register_on_client(client, engine)
    return client


def test_missing_required_parameter_is_a_validation_error(
    protocol: str, cbor_session: botocore.session.Session, engine: FakeTranslate
) -> None:
    client = _unvalidated_client(protocol, cbor_session, engine)
    with pytest.raises(ClientError) as missing:
        client.translate_text(Text="hi", TargetLanguageCode="es")
    assert missing.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Parameter validation failed:\nMissing required parameter in input: "
        '"SourceLanguageCode"',
    }
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert engine.calls == []


def test_model_constraints_botocore_does_not_check_are_enforced(
    protocol: str, cbor_session: botocore.session.Session, engine: FakeTranslate
) -> None:
    client = _unvalidated_client(protocol, cbor_session, engine)
    with pytest.raises(ClientError) as too_long:
        client.translate_text(Text="hi", SourceLanguageCode="en", TargetLanguageCode="abcdef")
    assert too_long.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value 'abcdef' at 'targetLanguageCode' failed "
        "to satisfy constraint: Member must have length less than or equal to 5",
    }
    with pytest.raises(ClientError) as several:
        client.translate_text(
            Text="hi",
            SourceLanguageCode="en",
            TargetLanguageCode="es",
            Settings={"Formality": "CASUAL"},
            TerminologyNames=["bad name!"],
        )
    assert several.value.response["Error"]["Message"] == (
        "2 validation errors detected: Value 'bad name!' at 'terminologyNames.1.member' failed "
        "to satisfy constraint: Member must satisfy regular expression pattern: "
        "^([A-Za-z0-9-]_?)+$; Value 'CASUAL' at 'settings.formality' failed to satisfy "
        "constraint: Member must satisfy enum value set: [FORMAL, INFORMAL]"
    )
    with pytest.raises(ClientError) as too_many:
        client.list_text_translation_jobs(MaxResults=501)
    assert too_many.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '501' at 'maxResults' failed to satisfy "
        "constraint: Member must have value less than or equal to 500"
    )
    assert engine.calls == []


def test_validating_clients_still_reach_the_engine_for_server_side_limits(
    cbor_session: botocore.session.Session, engine: FakeTranslate
) -> None:
    # botocore validates only minimums client-side; a maximum is the service's to enforce.
    client = _client("json", cbor_session)
    register_on_client(client, engine)
    with pytest.raises(client.exceptions.ClientError) as too_long:
        client.translate_text(Text="hi", SourceLanguageCode="en", TargetLanguageCode="abcdef")
    assert too_long.value.response["Error"]["Code"] == "ValidationException"


def test_wrong_type_is_a_validation_error_in_json(
    cbor_session: botocore.session.Session, engine: FakeTranslate
) -> None:
    client = _unvalidated_client("json", cbor_session, engine)
    with pytest.raises(ClientError) as wrong:
        client.translate_text(Text=42, SourceLanguageCode="en", TargetLanguageCode="es")
    assert wrong.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Parameter validation failed:\nInvalid type for parameter Text, value: 42, "
        "type: <class 'int'>, valid types: <class 'str'>",
    }


def _prepared(protocol: str, operation: str, body: bytes) -> Any:
    if protocol == CBOR:
        url = f"https://translate.us-east-1.amazonaws.com/service/{TARGET_PREFIX}/operation/{operation}"
        headers = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
    else:
        url = "https://translate.us-east-1.amazonaws.com/"
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"{TARGET_PREFIX}.{operation}",
        }
    return AWSRequest(method="POST", url=url, headers=headers, data=body).prepare()


def _parse(protocol: str, response: Any, operation: str) -> dict[str, Any]:
    shape = load_service_model("translate").operation_model(operation).output_shape
    parser = botocore.parsers.create_parser(protocol)
    return dict(
        parser.parse(
            {
                "status_code": response.status_code,
                "headers": response.headers,
                "body": response.content,
            },
            shape,
        )
    )


CTX = CallContext(account_id="123456789012", region=REGION, principal=None)


def test_crafted_cbor_request_with_a_wrong_type(engine: FakeTranslate) -> None:
    # botocore's CBOR serializer cannot even encode a wrong type, so craft the body by hand.
    body = cbor2.dumps({"Text": 5, "SourceLanguageCode": "en", "TargetLanguageCode": "es"})
    response = answer(engine, _prepared(CBOR, "TranslateText", body), "TranslateText", CTX)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/cbor"
    assert _parse(CBOR, response, "TranslateText")["Error"] == {
        "Code": "ValidationException",
        "Message": "Parameter validation failed:\nInvalid type for parameter Text, value: 5, "
        "type: <class 'int'>, valid types: <class 'str'>",
    }


def test_unknown_operation_and_malformed_bodies(engine: FakeTranslate, protocol: str) -> None:
    body = cbor2.dumps({}) if protocol == CBOR else b"{}"
    response = answer(engine, _prepared(protocol, "Frobnicate", body), "Frobnicate", CTX)
    assert response.status_code == 400
    assert _parse(protocol, response, "TranslateText")["Error"] == {
        "Code": "UnknownOperationException",
        "Message": "Operation Frobnicate is not supported by Translate.",
    }
    garbage = b"\xff\x00{not a document"
    response = answer(engine, _prepared(protocol, "TranslateText", garbage), "TranslateText", CTX)
    assert response.status_code == 400
    assert _parse(protocol, response, "TranslateText")["Error"]["Code"] == "SerializationException"
    assert engine.calls == []


def test_crafted_json_request_decodes_base64_blobs(engine: FakeTranslate) -> None:
    body = json.dumps(
        {
            "Document": {"Content": "aGVsbG8=", "ContentType": "text/plain"},
            "SourceLanguageCode": "en",
            "TargetLanguageCode": "fr",
        }
    ).encode()
    response = answer(
        engine, _prepared("json", "TranslateDocument", body), "TranslateDocument", CTX
    )
    assert response.status_code == 200
    assert engine.calls[0][1]["Document"]["Content"] == b"hello"
    assert engine.calls[0][2] == CTX
    assert json.loads(response.content)["TranslatedDocument"]["Content"] == "b2xsZWg="


def test_register_on_client_checks_the_service(engine: FakeTranslate) -> None:
    s3 = JSON_SESSION.client(
        "s3", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y"
    )
    with pytest.raises(ValueError, match="translate engine cannot answer a s3 client"):
        register_on_client(s3, engine)


def test_context_factory_receives_the_request(
    cbor_session: botocore.session.Session, engine: FakeTranslate
) -> None:
    client = _client("json", cbor_session)
    seen: list[str] = []

    def factory(request: Any) -> CallContext:
        seen.append(request.url)
        return CallContext("210987654321", "eu-west-1", "arn:aws:iam::210987654321:role/Caller")

    register_on_client(client, engine, factory)
    client.translate_text(Text="hi", SourceLanguageCode="en", TargetLanguageCode="es")
    assert seen == ["https://translate.us-east-1.amazonaws.com/"]
    assert engine.calls[0][2] == CallContext(
        "210987654321", "eu-west-1", "arn:aws:iam::210987654321:role/Caller"
    )
