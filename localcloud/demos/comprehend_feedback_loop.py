"""`python -m localcloud demo comprehend_feedback_loop [--rounds N] [--sentences CSV]`: the
whole active learning loop, offline.

Deploys ComprehendModelLifecycle and ComprehendFeedbackLoop wired together (as app.py wires
them), trains the first model from `initial.csv`, then for each round sends a slice of a
held-out stream (`improving.csv`: topics the first model never saw, or the user's own
labelled sentences, `--sentences`) through `POST /classify` with an API key. Unsure answers
become implicit feedback; a user flags confident wrong answers through `POST /feedback`. The
oracle reviewer answers the human loops with the true labels, the answers reach part 1's
`train/` as training rows, part 1 retrains and keeps the better model. Accuracy on
`holdout.csv` (on which the oracle never answers) is measured through
the API after every round and plotted.

The stacks are synthesized with Firehose's longest buffer interval (900 s): the local clock runs
1,000 times faster than real time, so with the 60 s default a burst of traffic would be spread
over many tiny objects, each its own training round, as a slow trickle would be on AWS.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from localcloud.cloud import REPO_ROOT, LocalCloud
from localcloud.costs import local_run_cost
from localcloud.demos.common import least_privilege, narrator
from localcloud.demos.comprehend_model_lifecycle import (
    csv_documents,
    training_data_accounting,
)
from localcloud.demos.review import SAMPLES, OracleReviewer, labelled_rows, sample_truth, text_key
from localcloud.services.apigateway.gateway import LocalApiGateway

LIFECYCLE_STACK = "ComprehendModelLifecycle-demo"
FEEDBACK_STACK = "ComprehendFeedbackLoop-demo"
WORKTEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/reviewers"
CONFIDENCE = 0.5


SYNTH_SOURCES = (
    "cdk.json", "stacks", "lambdas", "statemachines",
    "localcloud/demos/comprehend_feedback_loop.py",
)  # fmt: skip


def _sources_digest() -> str:
    import hashlib

    digest = hashlib.sha256()
    for root in SYNTH_SOURCES:
        path = REPO_ROOT / root
        for file in [path] if path.is_file() else sorted(path.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(REPO_ROOT)).encode() + file.read_bytes())
    return digest.hexdigest()


def synthesized(outdir: Path) -> Path:
    """The demo's assembly in `outdir`, synthesized again only when a source changed."""
    marker = outdir / ".sources-digest"
    wanted = _sources_digest()
    if not marker.is_file() or marker.read_text() != wanted:
        import shutil

        shutil.rmtree(outdir, ignore_errors=True)
        synthesize(outdir)
        marker.write_text(wanted)
    return outdir


def synthesize(
    outdir: Path,
    stacks: tuple[str, str] = (LIFECYCLE_STACK, FEEDBACK_STACK),
    context: dict[str, Any] | None = None,
) -> None:
    """Part 1 and part 2, wired by cross-stack references as app.py wires them, with
    Firehose's longest buffer interval so a burst of feedback on the fast local clock lands in
    a few objects (as minutes of real traffic would), checked by cdk-nag."""
    from aws_cdk import App, Validations
    from cdk_nag import AwsSolutionsChecks

    from stacks.comprehend_feedback_loop import ComprehendFeedbackLoopStack
    from stacks.comprehend_model_lifecycle import ComprehendModelLifecycleStack
    from stacks.config import ComprehendLifecycleSettings, FeedbackLoopSettings

    cdk_json = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))
    settings = {"stage": "demo", "comprehend_feedback_loop:bufferSeconds": 900, **(context or {})}
    app = App(outdir=str(outdir), context={**cdk_json["context"], **settings})
    lifecycle = ComprehendModelLifecycleStack(
        app, stacks[0], settings=ComprehendLifecycleSettings.from_context(app.node)
    )
    ComprehendFeedbackLoopStack(
        app,
        stacks[1],
        settings=FeedbackLoopSettings.from_context(app.node),
        training_bucket=lifecycle.training_bucket,
        endpoint_parameter=lifecycle.endpoint_parameter,
        endpoint_name=lifecycle.endpoint_name,
        endpoint_keeper=lifecycle.endpoint_keeper,
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


def waiting_for_redrive(cloud: LocalCloud, stack: Any) -> list[str]:
    """The documents of every human loop whose answers the transformer gave up on: its event
    waits in the transformer's failure queue (or that queue's dead letters) with the error, and
    the answers in the review output bucket, for an operator to send again. Read without taking
    the messages."""
    sqs = cloud.client("sqs")
    documents: list[str] = []
    for logical_id, state in stack.resources_of_type("AWS::SQS::Queue").items():
        if not logical_id.startswith("TransformFailures"):
            continue
        url = sqs.get_queue_url(QueueName=state.attributes["QueueName"])["QueueUrl"]
        seen: set[str] = set()
        while True:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=900
            ).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen.add(message["MessageId"])
                event = json.loads(message["Body"]).get("requestPayload", {})
                name = event.get("detail", {}).get("humanLoopName", "")
                loop = cloud.a2i.state.loops.get(name)
                if loop is not None:
                    documents += [text_key(item["text"]) for item in loop.input["items"]]
    return documents


def plot(accuracy: list[float], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(range(len(accuracy)), accuracy, marker="o")
    axes.set_xlabel("round (0: first model)")
    axes.set_ylabel("accuracy on holdout.csv")
    axes.set_ylim(0, 1)
    axes.set_xticks(range(len(accuracy)))
    axes.set_title("Active learning: accuracy per round")
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def read_sentences(path: Path) -> list[tuple[str, str]]:
    """A user's stream: (label, text) rows of a label,text CSV file, each label one the first
    model knows (the reviewer answers with it). ValueError names what is wrong."""
    if not path.is_file():
        raise ValueError("no such file")
    try:
        parsed = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"not a UTF-8 label,text CSV file ({error})") from None
    known = sorted({label for label, _ in labelled_rows(SAMPLES / "initial.csv")})
    rows = []
    for number, row in enumerate(parsed, start=1):
        if not row:
            continue
        if len(row) != 2:
            raise ValueError(
                f"row {number}: {len(row)} fields where label,text has 2 (quote a text "
                "holding a comma)"
            )
        label, text = row
        rows.append((label, text))
        if label not in known:
            raise ValueError(f"row {number}: label {label!r} is not one of {', '.join(known)}")
        if not text.strip():
            raise ValueError(f"row {number}: the text is empty")
    if not rows:
        raise ValueError("no label,text rows")
    return rows


def run(
    out_dir: Path,
    rounds: int = 3,
    progress: TextIO = sys.stderr,
    assembly_dir: Path | None = None,
    traffic: int | None = None,
    stream: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """`assembly_dir`: where the two stacks are synthesized (default: under `out_dir`), kept
    while the sources are unchanged. `traffic`: how many documents of the stream to classify
    over all rounds (default: all). `stream`: the (label, text) documents sent through the
    API (default: `improving.csv`, 240 documents)."""
    say = narrator(progress)

    assembly = synthesized(assembly_dir or out_dir / ".assembly")
    say("synthesized ComprehendModelLifecycle + ComprehendFeedbackLoop (cdk-nag clean)")
    with LocalCloud(assembly, work_dir=out_dir / ".localcloud") as cloud:
        lifecycle = cloud.deploy(LIFECYCLE_STACK)
        stack = cloud.deploy(FEEDBACK_STACK, parameters={"WorkteamArn": WORKTEAM})
        gateway = LocalApiGateway(cloud)
        key = gateway.api_key_value(str(stack.outputs["ApiKeyId"]))
        url = str(stack.outputs["ApiUrl"])
        say(f"deployed both stacks; API at {url}")

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = gateway.request(
                "POST", url + path, headers={"x-api-key": key}, body=json.dumps(body)
            )
            if response.status >= 300:
                raise RuntimeError(f"POST /{path} answered {response.status}: {response.body}")
            answer: dict[str, Any] = response.json()
            return answer

        cloud.client("s3").put_object(
            Bucket=lifecycle.outputs["TrainingBucketName"],
            Key="train/initial.csv",
            Body=(SAMPLES / "initial.csv").read_bytes(),
        )
        cloud.settle(timeout=600)
        holdout = labelled_rows(SAMPLES / "holdout.csv")[::2]

        def accuracy() -> float:
            right = sum(
                post("classify", {"classifier": "news", "text": text})["label"] == label
                for label, text in holdout
            )
            return round(right / len(holdout), 4)

        history = [accuracy()]
        say(f"first model trained from initial.csv: accuracy {history[0]:.3f}")
        truth = sample_truth()
        if stream is not None:  # the reviewer answers the user's sentences with their labels
            truth.update((text_key(text), label) for label, text in stream)
        oracle = OracleReviewer(truth)
        stream = (stream or labelled_rows(SAMPLES / "improving.csv"))[:traffic]
        size = -(-len(stream) // rounds)
        loops = 0
        for number in range(rounds):
            unsure = flagged = 0
            for label, text in stream[number * size : (number + 1) * size]:
                answer = post("classify", {"classifier": "news", "text": text})
                if answer["score"] < CONFIDENCE:
                    unsure += 1
                elif answer["label"] != label:
                    post("feedback", {"classifier": "news", "text": text})
                    flagged += 1
            cloud.settle(timeout=600)
            reviewed = oracle.review(cloud.a2i)
            loops += reviewed
            cloud.settle(timeout=600)
            history.append(accuracy())
            say(
                f"round {number + 1}: {unsure} unsure answers, {flagged} flagged by users; "
                f"{reviewed} human loops reviewed; accuracy {history[-1]:.3f}"
            )
        least_privilege(cloud, say, unused=False)
        feedback_items = oracle.answered_items + oracle.skipped_items
        # Every answer a reviewer gave, in part 1's training data once; the first model's rows
        # come from initial.csv; a held-out document found there would be unexpected.
        answered = [text_key(text) for text in oracle.answered_texts]
        items = training_data_accounting(
            cloud.client("s3"),
            lifecycle.outputs["TrainingBucketName"],
            answered,
            others=frozenset(csv_documents((SAMPLES / "initial.csv").read_bytes())),
            waiting=waiting_for_redrive(cloud, stack),
        )
        say(f"training data: {items['outputs']} of {items['itemsIn']} reviewed answers, "
            f"{items['quarantined']} waiting in the transformer's failure queue, "
            f"{items['lost']} lost, {items['duplicated']} duplicated")  # fmt: skip
        cost = local_run_cost(cloud)
    chart = plot(history, out_dir / "accuracy.png")
    say(f"plot written to {chart}")
    return {
        "workflow": "comprehend_feedback_loop",
        "accuracy_by_round": history,
        "feedback_items": feedback_items,
        "human_loops": loops,
        "items": items,
        # A document a reviewer labelled more than once: paid twice (loops batch feedback by
        # arrival time, so the number of loops itself varies from run to run).
        "answeredTwice": len(answered) - len(set(answered)),
        "plot": str(chart),
        "costUsd": cost,
    }


def serve_portal(out_dir: Path, port: int, progress: TextIO = sys.stderr) -> int:
    """`python -m localcloud review-portal`: deploy both stacks, train the first model, send a
    slice of the sample stream so human loops are pending, and serve the review portal until
    Ctrl-C. Each submission completes its loop; the answers flow on to part 1 as in AWS."""
    from localcloud.demos.review_portal import ReviewPortal

    assembly = synthesized(out_dir / ".assembly")
    with LocalCloud(assembly, work_dir=out_dir / ".localcloud") as cloud:
        lifecycle = cloud.deploy(LIFECYCLE_STACK)
        stack = cloud.deploy(FEEDBACK_STACK, parameters={"WorkteamArn": WORKTEAM})
        gateway = LocalApiGateway(cloud)
        key = gateway.api_key_value(str(stack.outputs["ApiKeyId"]))
        cloud.client("s3").put_object(
            Bucket=lifecycle.outputs["TrainingBucketName"],
            Key="train/initial.csv",
            Body=(SAMPLES / "initial.csv").read_bytes(),
        )
        cloud.settle(timeout=600)
        for _, text in labelled_rows(SAMPLES / "improving.csv")[:40]:
            gateway.request(
                "POST",
                str(stack.outputs["ApiUrl"]) + "classify",
                headers={"x-api-key": key},
                body=json.dumps({"classifier": "news", "text": text}),
            )
        cloud.settle(timeout=600)
        portal = ReviewPortal(cloud.a2i, port=port, after_submit=lambda: cloud.settle(timeout=600))
        progress.write(
            f"{len(cloud.a2i.pending())} human loops pending; review them at {portal.url} "
            "(Ctrl-C to stop)\n"
        )
        try:
            portal.server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            portal.server.server_close()
        progress.write(f"{len(portal.submitted)} loops reviewed\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(REPO_ROOT / "demo-output" / "comprehend-feedback-loop")))
