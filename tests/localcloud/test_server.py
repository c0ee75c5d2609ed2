"""`python -m localcloud serve` driven as a user drives AWS: the real `aws` CLI (awscli v1 in
.venv-awscli, `make awscli`) and plain boto3 clients, both with an endpoint URL.

One server per module (per xdist worker running its tests), in a subprocess on a free port,
with four stacks of the test assembly; the last test stops it with SIGINT and starts another on
the same `--state` directory. Each test makes the data it checks, so none depends on another.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from localcloud.core.s3_versions import version_id

REPO_ROOT = Path(__file__).resolve().parents[2]
AWS_CLI = REPO_ROOT / ".venv-awscli" / "bin" / "aws"
EVENTS = REPO_ROOT / "events"
SAMPLES = REPO_ROOT / "samples"
STACKS = [
    "CaptionTranslation-test",
    "CustomLabelsBatch-test",
    "ComprehendModelLifecycle-test",
    "ComprehendFeedbackLoop-test",
]
START_TIMEOUT = 300.0  # deploying four stacks on a busy machine
WORKFLOW_TIMEOUT = 180.0

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("server")]


@dataclass
class Server:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("ready: "):
                self.url = line.split(" ", 1)[1].strip()
                self.ready.set()
        self.ready.set()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def start_server(assembly: Path, state: Path, stacks: list[str], log: Path) -> Server:
    command = [sys.executable, "-m", "localcloud", "--assembly", str(assembly), "serve",
               "--port", "0", "--state", str(state)]  # fmt: skip
    for stack in stacks:
        command += ["--stack", stack]
    env = {key: value for key, value in os.environ.items() if key != "LOCALCLOUD_CHAOS"}
    with log.open("w") as stderr:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env
        )
    server = Server(process)
    threading.Thread(target=server.read, daemon=True).start()
    server.ready.wait(START_TIMEOUT)
    if not server.url:
        server.stop()
        tail = log.read_text()[-3000:]
        pytest.fail(f"the server did not become ready:\n{chr(10).join(server.lines)}\n{tail}")
    return server


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-state")


@pytest.fixture(scope="module")
def server(
    assembly_dir: Path, state_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    if not AWS_CLI.exists():
        pytest.fail(f"{AWS_CLI} is missing: `make awscli` installs it")
    log = tmp_path_factory.mktemp("server-log") / "stderr.log"
    running = start_server(assembly_dir, state_dir, STACKS, log)
    yield running
    running.stop()


def cli_environment(home: Path) -> dict[str, str]:
    """What the aws CLI runs with here: any key, the stacks' region, no user's config, and
    `aws` on the PATH, for the READMEs' commands."""
    return {
        "PATH": f"{AWS_CLI.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "HOME": str(home),
    }


# What the READMEs' commands name, and how they run here --------------------------------------
LOCAL_ENDPOINT = "http://localhost:4566"  # the address the READMEs and events name


def readme_folder(work: Path, server: Server) -> Path:
    """`work` laid out as the repository is for the READMEs' commands: `events/` (naming the
    server's address where they name the documented one) and `samples/`."""
    shutil.copytree(EVENTS, work / "events")
    for event in (work / "events").rglob("*.json"):
        event.write_text(event.read_text().replace(LOCAL_ENDPOINT, server.url))
    (work / "samples").symlink_to(SAMPLES)
    return work


def as_run_here(command: str, server: Server) -> str:
    """A README command as it runs here: against the server, and without
    `--cli-binary-format` (the aws CLI here is v1, which, as the READMEs say, takes none and
    sends fileb:// payloads as they are)."""
    return command.replace(LOCAL_ENDPOINT, server.url).replace(
        " --cli-binary-format raw-in-base64-out", ""
    )


def aws(server: Server, *args: str, home: Path | None = None) -> Any:
    """Run the aws CLI against the server; its JSON output, parsed."""
    completed = subprocess.run(
        [str(AWS_CLI), "--endpoint-url", server.url, "--output", "json", *args],
        cwd=REPO_ROOT,
        env=cli_environment(home or REPO_ROOT / "build"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, f"aws {' '.join(args)}: {completed.stderr}"
    if args[0] == "s3":  # the high-level commands print progress, not JSON
        return completed.stdout
    return json.loads(completed.stdout) if completed.stdout.strip() else None


def client(server: Server, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def outputs(server: Server, stack: str) -> dict[str, str]:
    described = client(server, "cloudformation").describe_stacks(StackName=stack)
    return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0]["Outputs"]}


def http(method: str, url: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:  # fmt: skip
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_for(condition: Any, what: str, timeout: float = WORKFLOW_TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {timeout}s")


# --- the endpoint ------------------------------------------------------------------------------
def test_the_server_prints_each_stacks_outputs_and_answers_health(server: Server) -> None:
    status, health = http("GET", server.url + "/_localcloud/health")

    assert status == 200
    assert health["status"] == "ready"
    assert sorted(health["stacks"]) == sorted(STACKS)
    assert any(line == "stack CaptionTranslation-test" for line in server.lines)
    assert any(line.strip().startswith("BucketName: ") for line in server.lines)


def test_describe_stacks_returns_the_outputs_the_server_printed(server: Server) -> None:
    described = aws(server, "cloudformation", "describe-stacks")["Stacks"]
    (stack,) = [s for s in described if s["StackName"] == "CaptionTranslation-test"]
    from_cli = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    from_boto3 = client(server, "cloudformation").describe_stacks(
        StackName="CaptionTranslation-test"
    )["Stacks"][0]

    assert sorted(s["StackName"] for s in described) == sorted(STACKS)
    assert f"  BucketName: {from_cli['BucketName']}" in server.lines
    assert {o["OutputKey"]: o["OutputValue"] for o in from_boto3["Outputs"]} == from_cli
    assert from_boto3["StackStatus"] == "CREATE_COMPLETE"


# --- S3 and the caption workflow ----------------------------------------------------------------
def test_uploading_captions_and_the_trigger_file_with_the_cli_translates_them(
    server: Server, tmp_path: Path
) -> None:
    stack = outputs(server, "CaptionTranslation-test")
    bucket = stack["BucketName"]
    caption = SAMPLES / "caption_translation" / "garden.srt"
    trigger = tmp_path / "triggerfile"
    trigger.write_bytes(b"")

    aws(server, "s3", "cp", str(caption), f"s3://{bucket}/input/garden.srt")
    aws(server, "s3", "cp", str(trigger), f"s3://{bucket}/{stack['TriggerFileKey']}")

    s3 = client(server, "s3")

    def translated() -> list[str]:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="output/").get("Contents", [])
        keys = [item["Key"] for item in listed if not item["Key"].endswith(".json")]
        return keys if len(keys) == 2 else []

    keys = wait_for(translated, "the translated captions")
    assert sorted(keys) == ["output/es/garden.srt", "output/fr/garden.srt"]
    listing = aws(server, "s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "output/es/")
    assert "output/es/garden.srt" in [item["Key"] for item in listing["Contents"]]
    translation = s3.get_object(Bucket=bucket, Key="output/es/garden.srt")["Body"].read()
    assert translation.decode("utf-8") != caption.read_text(encoding="utf-8")


def test_s3_answers_virtual_hosted_style_requests(server: Server) -> None:
    import http.client
    from urllib.parse import urlsplit

    bucket = outputs(server, "CaptionTranslation-test")["BucketName"]
    port = urlsplit(server.url).port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    scope = "Credential=test/20260101/us-east-1/s3/aws4_request"
    connection.request(
        "PUT",
        "/notes/virtual.txt",
        body=b"hosted",
        headers={
            "Host": f"{bucket}.s3.localhost:{port}",
            "Authorization": f"AWS4-HMAC-SHA256 {scope}, SignedHeaders=host, Signature=0",
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        },
    )
    assert connection.getresponse().status == 200

    stored = client(server, "s3").get_object(Bucket=bucket, Key="notes/virtual.txt")
    assert stored["Body"].read() == b"hosted"


def test_a_url_the_cli_presigns_downloads_the_object(server: Server) -> None:
    bucket = outputs(server, "CaptionTranslation-test")["BucketName"]
    client(server, "s3").put_object(Bucket=bucket, Key="shared/note.txt", Body=b"presigned")

    url = aws(server, "s3", "presign", f"s3://{bucket}/shared/note.txt").strip()

    assert "Signature=" in url
    with urllib.request.urlopen(url, timeout=60) as response:
        assert response.read() == b"presigned"


# --- Lambda with the committed events -----------------------------------------------------------
# The events that run as committed on a fresh server; the others need what an earlier step
# of their workflow leaves (a batch, a round, a trained endpoint) or a reachable
# CloudFormation response URL.
EVENTS_THAT_RUN = [
    ("CaptionTranslation-test-StartBatchFunction9417B106-4C366A4C80A0",
     "caption_translation/start_batch/s3_test_event.json"),
    ("CaptionTranslation-test-StartBatchFunction9417B106-4C366A4C80A0",
     "caption_translation/start_batch/trigger_file.json"),
    ("ComprehendModelLifecycle-test-IntakeFunction1A6D016-E2B3078CEAE3",
     "comprehend_model_lifecycle/intake/training_upload.json"),
    ("CustomLabelsBatch-test-ProcessImagesFunctionF551894-29B663E3EC60",
     "custom_labels_batch/process_images/image_upload.json"),
    ("ComprehendFeedbackLoop-test-ApiHandlerFunction73BB9-CF40C2636078",
     "comprehend_feedback_loop/api/classify.json"),
    ("ComprehendFeedbackLoop-test-ApiHandlerFunction73BB9-CF40C2636078",
     "comprehend_feedback_loop/api/feedback.json"),
]  # fmt: skip


def test_the_events_readme_names_the_functions_invoked_here() -> None:
    readme = (EVENTS / "README.md").read_text(encoding="utf-8")
    for function, _ in EVENTS_THAT_RUN:
        assert f"--function-name {function} " in readme


@pytest.mark.parametrize(
    ("function", "event"), EVENTS_THAT_RUN, ids=[e for _, e in EVENTS_THAT_RUN]
)
def test_aws_lambda_invoke_runs_a_handler_with_a_committed_event(
    server: Server, tmp_path: Path, function: str, event: str
) -> None:
    out = tmp_path / "out.json"

    answer = aws(server, "lambda", "invoke", "--function-name", function,
                 "--payload", f"fileb://events/{event}", str(out))  # fmt: skip

    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer, out.read_text()
    json.loads(out.read_text())


def test_a_handler_error_comes_back_as_a_function_error(server: Server, tmp_path: Path) -> None:
    out, event = tmp_path / "out.json", tmp_path / "event.json"
    batch = "20240101T000000Z-0000000000"  # a batch never started
    event.write_text(json.dumps({"batchId": batch, "executionName": batch}))
    answer = aws(server, "lambda", "invoke", "--function-name",
                 "CaptionTranslation-test-PrepareBatchFunction08812F1-E67C99CB889E",
                 "--payload", f"fileb://{event}", str(out))  # fmt: skip

    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(out.read_text())["errorType"] == "BatchNotFoundError"


# --- other services over HTTP -----------------------------------------------------------------
def test_translate_and_comprehend_answer_from_the_local_engines(server: Server) -> None:
    translated = aws(server, "translate", "translate-text", "--text", "Good morning",
                     "--source-language-code", "en", "--target-language-code", "fr")  # fmt: skip
    comprehend = client(server, "comprehend")

    assert translated["TargetLanguageCode"] == "fr"
    assert translated["TranslatedText"] not in ("", "Good morning")
    with pytest.raises(comprehend.exceptions.ResourceNotFoundException):
        comprehend.classify_document(
            Text="hello",
            EndpointArn="arn:aws:comprehend:us-east-1:123456789012:"
            "document-classifier-endpoint/missing",
        )


def test_sqs_dynamodb_and_ssm_read_the_deployed_resources(server: Server) -> None:
    queue_url = outputs(server, "CustomLabelsBatch-test")["ImageQueueUrl"]
    tables = client(server, "dynamodb").list_tables()["TableNames"]
    (lock_table,) = [name for name in tables if name.startswith("CustomLabelsBatch-test-RunLock")]
    client(server, "ssm").put_parameter(Name="/server-test/read", Value="42", Type="String")

    attributes = aws(server, "sqs", "get-queue-attributes", "--queue-url", queue_url,
                     "--attribute-names", "RedrivePolicy")["Attributes"]  # fmt: skip
    table = aws(server, "dynamodb", "describe-table", "--table-name", lock_table)["Table"]
    parameter = aws(server, "ssm", "get-parameter", "--name", "/server-test/read")["Parameter"]

    assert "ImageQueueDeadLetters" in json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
    assert table["TableStatus"] == "ACTIVE"
    assert parameter["Value"] == "42"


def test_an_unsigned_request_is_refused(server: Server) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(server.url + "/some-bucket/some-key", timeout=60)

    assert refused.value.code == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in refused.value.read()


# --- API Gateway --------------------------------------------------------------------------------
def _api(server: Server) -> tuple[str, str]:
    stack = outputs(server, "ComprehendFeedbackLoop-test")
    api_id = stack["ApiUrl"].split("//", 1)[1].split(".", 1)[0]
    key = aws(server, "apigateway", "get-api-key", "--api-key", stack["ApiKeyId"],
              "--include-value")["value"]  # fmt: skip
    return f"{server.url}/restapis/{api_id}/v1/_user_request_", key


def test_the_readme_names_the_classify_url_the_server_serves(server: Server) -> None:
    base, _ = _api(server)
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")

    assert base.replace(server.url, "$E") + "/classify" in readme


def test_classify_and_feedback_need_the_api_key(server: Server) -> None:
    base, _ = _api(server)
    body = json.dumps({"classifier": "news", "text": "The match ended in a draw."}).encode()
    json_type = {"Content-Type": "application/json"}

    for path in ("classify", "feedback"):
        status, answer = http("POST", f"{base}/{path}", body, json_type)
        assert (status, answer) == (403, {"message": "Forbidden"})
    status, answer = http("POST", f"{base}/classify", body, {**json_type, "x-api-key": "wrong"})
    assert (status, answer) == (403, {"message": "Forbidden"})


def test_classify_and_feedback_reach_the_function_with_the_api_key(server: Server) -> None:
    base, key = _api(server)
    headers = {"Content-Type": "application/json", "x-api-key": key}
    body = json.dumps({"classifier": "news", "text": "The match ended in a draw."}).encode()

    classify_status, classified = http("POST", f"{base}/classify", body, headers)
    feedback_status, feedback = http("POST", f"{base}/feedback", body, headers)
    invalid_status, _ = http("POST", f"{base}/classify", b'{"text": 7}', headers)

    # No model is trained on a fresh server: the function says so, in its own words.
    assert (classify_status, classified) == (
        503,
        {"message": "no model is deployed yet; try again after training"},
    )
    assert (feedback_status, feedback) == (202, {"message": "feedback accepted for human review"})
    assert invalid_status == 400  # the request validator, before the function


# --- state across a restart --------------------------------------------------------------------
def test_state_survives_a_restart(
    server: Server, assembly_dir: Path, state_dir: Path, tmp_path: Path
) -> None:
    bucket = outputs(server, "CaptionTranslation-test")["BucketName"]
    s3, dynamodb, sqs = client(server, "s3"), client(server, "dynamodb"), client(server, "sqs")
    (table,) = [
        name for name in dynamodb.list_tables()["TableNames"]
        if name.startswith("ComprehendModelLifecycle-test-StateTable")
    ]  # fmt: skip
    (dead_letters,) = [url for url in sqs.list_queues()["QueueUrls"]
                       if "CaptionTranslation-test-TriggerQueueDeadLetters" in url]  # fmt: skip
    first = s3.put_object(Bucket=bucket, Key="notes/kept.txt", Body=b"kept across restarts")
    dynamodb.put_item(
        TableName=table,
        Item={"pk": {"S": "kept"}, "sk": {"S": "item"}, "blob": {"B": b"\x00\x01"}},
    )
    client(server, "ssm").put_parameter(Name="/server-test/kept", Value="yes", Type="String")
    sqs.send_message(QueueUrl=dead_letters, MessageBody="kept message")

    assert server.stop() == 0
    assert any(line.startswith("state saved to ") for line in server.lines)
    assert server.lines[-1] == "stopped"

    # The two stacks holding the data.
    stacks = ["CaptionTranslation-test", "ComprehendModelLifecycle-test"]
    again = start_server(assembly_dir, state_dir, stacks, tmp_path / "restart.log")
    try:
        assert any(line.startswith("state restored from ") for line in again.lines)
        s3 = client(again, "s3")
        restored = s3.get_object(Bucket=bucket, Key="notes/kept.txt")
        assert restored["Body"].read() == b"kept across restarts"
        # The restored object is the key's second version: its id is new, and derived.
        assert first["VersionId"] == version_id(bucket, "notes/kept.txt", 1)
        assert restored["VersionId"] == version_id(bucket, "notes/kept.txt", 2)
        item = client(again, "dynamodb").get_item(
            TableName=table, Key={"pk": {"S": "kept"}, "sk": {"S": "item"}}
        )
        assert item["Item"]["blob"]["B"] == b"\x00\x01"
        kept = aws(again, "ssm", "get-parameter", "--name", "/server-test/kept")["Parameter"]
        assert kept["Value"] == "yes"
        received = client(again, "sqs").receive_message(QueueUrl=dead_letters)
        assert [m["Body"] for m in received.get("Messages", [])] == ["kept message"]
        # Restoring objects does not start the workflows again.
        executions = client(again, "stepfunctions").list_executions(
            stateMachineArn=outputs(again, "CaptionTranslation-test")["StateMachineArn"]
        )["executions"]
        assert executions == []
    finally:
        assert again.stop() == 0
