"""What the local engines' tests share: fake credentials, engines answering ahead of moto (as
the local cloud routes them), and a client that speaks RPC v2 CBOR to an engine, the protocol
newer botocore releases choose where a service offers it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.config import Config
from moto.core.botocore_stubber import BotocoreStubber

from localcloud.core.protocol import CallContext, answer, register_on_client

REGION = "us-east-1"
# One session for every client: it loads each service model once, which keeps the tests fast.
SESSION = boto3.Session(
    region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
)


def fake_credentials(monkeypatch: pytest.MonkeyPatch, region: str = REGION) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
    }.items():
        monkeypatch.setenv(name, value)


def cbor_client(
    service: str, engine: Any, models: Path, region: str, config: Config
) -> tuple[Any, list[bytes]]:
    """A client of `service` answered by `engine`, its model listing only RPC v2 CBOR (so the
    client sends CBOR), and the Content-Type of every request it sends."""
    model = botocore.loaders.Loader().load_service_model(service, "service-2")
    model["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
    version_dir = models / service / model["metadata"]["apiVersion"]
    version_dir.mkdir(parents=True)
    (version_dir / "service-2.json").write_text(json.dumps(model))
    session = botocore.session.get_session()
    session.register_component(
        "data_loader", botocore.loaders.Loader(extra_search_paths=[str(models)])
    )
    client = boto3.Session(botocore_session=session).client(
        service,
        region_name=region,
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=config,
    )
    register_on_client(client, engine)
    sent: list[bytes] = []
    client.meta.events.register(
        f"before-send.{service}", lambda request, **_: sent.append(request.headers["Content-Type"])
    )
    return client, sent


@contextmanager
def answered_by(engines: Mapping[str, Any]) -> Iterator[None]:
    """Route each service's calls to its engine ahead of moto, as the local cloud does: the
    operations an engine lists (`operations`), or all of them for an engine that answers raw
    requests (`answer_request`); moto answers the rest."""
    original = BotocoreStubber.__call__
    context = CallContext("123456789012", "us-east-1")

    def dispatch(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        parts = event_name.split(".")
        engine = engines.get(parts[1]) if len(parts) >= 3 else None
        if engine is not None and hasattr(engine, "answer_request"):
            return engine.answer_request(request, parts[2], context)
        if engine is not None and parts[2] in engine.operations:
            return answer(engine, request, parts[2], context)
        return original(self, event_name, request, **kwargs)

    BotocoreStubber.__call__ = dispatch  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.__call__ = original  # type: ignore[method-assign]
