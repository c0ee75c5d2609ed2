"""`python -m localcloud serve`: the local cloud with every stack deployed, on one HTTP endpoint.

    python -m localcloud serve [--port 4566] [--host 127.0.0.1] [--state DIR] [--chaos RATE[:SEED]]

Deploys every stack of the cloud assembly (`cdk.out`; synthesized first for stage `test` when it
is missing, the stage whose resource names the events under `events/` use), prints the endpoint
and each stack's outputs, then `ready: <endpoint>`, and answers AWS requests
(`localcloud.server`) until SIGINT (Ctrl-C) or SIGTERM. Delivery (S3 notifications, queues,
schedules, Step Functions) runs in the background all the while.

What a user brings before deploying, as on AWS, the server brings itself: the Custom Labels
model (trained from the sample manifest, as `demo custom_labels_batch` does) and an A2I work
team ARN.

With `--state DIR`, the data of the deployed stacks is written to DIR on a clean stop and put
back after the next start's deployment (`localcloud.state` says what is kept).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from localcloud.cloud import REPO_ROOT, LocalCloud

DEFAULT_PORT = 4566
DEFAULT_HOST = "127.0.0.1"
# The stage whose resource names the committed test events (events/) use.
LOCAL_STAGE = "test"


def ensure_assembly(assembly: Path, progress: TextIO) -> Path:
    """The cloud assembly, synthesized for the local stage if it is missing."""
    if (assembly / "manifest.json").is_file():
        return assembly
    cdk = REPO_ROOT / "node_modules" / ".bin" / "cdk"
    if not cdk.exists():
        raise SystemExit(f"{assembly} has no cloud assembly and {cdk} is missing: run `make up`")
    progress.write(f"synthesizing stage {LOCAL_STAGE} into {assembly}...\n")
    progress.flush()
    command = [str(cdk), "synth", "--quiet", "-c", f"stage={LOCAL_STAGE}", "-o", str(assembly)]
    subprocess.run(command, cwd=REPO_ROOT, check=True)
    return assembly


def stack_parameters(cloud: LocalCloud, template: dict[str, Any]) -> dict[str, Any]:
    """Values for the parameters a user supplies at deployment (those without a default)."""
    from localcloud.demos.user_inputs import what_users_bring

    return what_users_bring(cloud, set(template.get("Parameters", {})))


def local_api_url(url: str, endpoint: str) -> str | None:
    """The server's URL of an API Gateway stage URL (`https://<id>.execute-api...`)."""
    parts = urlsplit(url)
    if not parts.hostname or ".execute-api." not in parts.hostname:
        return None
    api_id = parts.hostname.split(".", 1)[0]
    stage, _, rest = parts.path.lstrip("/").partition("/")
    return f"{endpoint}/restapis/{api_id}/{stage}/_user_request_/{rest}"


def run(
    assembly: Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    state_dir: Path | None = None,
    stacks: list[str] | None = None,
    out: TextIO = sys.stdout,
    stop: threading.Event | None = None,
) -> int:
    from localcloud.server import HttpEndpoint, LocalCloudServer
    from localcloud.state import export_state, import_state

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    assembly = ensure_assembly(assembly, sys.stderr)
    stop = stop or threading.Event()
    work_dir = (state_dir or REPO_ROOT / ".localcloud" / "serve") / "work"
    cloud = LocalCloud(assembly, work_dir=work_dir)
    cloud.start()
    endpoint: HttpEndpoint | None = None
    try:
        names = [artifact.stack_name for artifact in cloud.assembly.stacks()]
        if stacks:
            unknown = sorted(set(stacks) - set(names))
            if unknown:
                raise SystemExit(f"stacks {unknown} are not in {assembly} (found {names})")
            names = [name for name in names if name in stacks]
        for name in names:
            template = cloud.assembly.stack(name).template
            cloud.deploy(name, stack_parameters(cloud, template))
        if state_dir is not None:
            restored = import_state(cloud, state_dir)
            if restored:
                say(f"state restored from {state_dir}: {restored}")
        server = LocalCloudServer(
            cloud,
            health=lambda: _health(cloud, url),
            index_cache=REPO_ROOT / ".localcloud" / "service-signing-names.json",
        )
        try:
            endpoint = HttpEndpoint(server, host, port)
        except OSError as error:
            raise SystemExit(f"cannot listen on {host}:{port}: {error}") from None
        url = endpoint.url
        endpoint.start()
        say(f"endpoint: {url} (region {cloud.region}, account {cloud.account_id})")
        for name, deployed in cloud.stacks.items():
            say(f"stack {name}")
            for key, value in deployed.outputs.items():
                say(f"  {key}: {value}")
                local = local_api_url(str(value), url) if isinstance(value, str) else None
                if local:
                    say(f"  {key} (on this endpoint): {local}")
        # Ctrl-C before this point interrupts the deployment; from here on it stops cleanly.
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
        say(f"ready: {url}")
        stop.wait()
        say("stopping...")
    finally:
        if endpoint is not None:
            endpoint.stop()
        cloud.delivery.stop()
        try:
            if state_dir is not None and endpoint is not None:
                saved = export_state(cloud, state_dir)
                say(f"state saved to {state_dir}: {saved}")
        finally:
            cloud.stop()
    say("stopped")
    return 0


def _health(cloud: LocalCloud, url: str) -> dict[str, Any]:
    return {
        "status": "ready",
        "endpoint": url,
        "region": cloud.region,
        "account": cloud.account_id,
        "stacks": sorted(cloud.stacks),
        "deliveryErrors": list(cloud.delivery.errors),
    }
