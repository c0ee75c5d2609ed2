"""What every job of the ML pipeline shares: Glue-style job arguments, S3 URIs, workflow run
properties (how the jobs of one Glue workflow run hand results to each other) and errors.

The jobs run on AWS Glue (Spark on Glue 5.0, Python shell 3.9), so this module keeps to the
standard library and boto3.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

# Run property keys: the workflow run's shared record of what each job did.
RAW_URI = "raw_uri"
PROCESSED_PREFIX = "processed_prefix"
PROCESSING_REPORT = "processing_report"
TRAINING_REPORT = "training_report"
FAILURE = "failure"


class PipelineError(Exception):
    """A job cannot go on: bad input, a failed training job, a timeout. The message says why."""


def resolved_options(argv: list[str], names: list[str]) -> dict[str, str]:
    """The job arguments `names` from Glue's `--NAME value` command line, like awsglue's
    getResolvedOptions: every named argument is required; others are ignored."""
    values: dict[str, str] = {}
    index = 1
    while index < len(argv):
        token = argv[index]
        if token.startswith("--"):
            key, sep, inline = token[2:].partition("=")
            if sep:
                values[key] = inline
            elif index + 1 < len(argv) and not argv[index + 1].startswith("--"):
                values[key] = argv[index + 1]
                index += 1
            else:
                values[key] = ""
        index += 1
    missing = [name for name in names if name not in values]
    if missing:
        raise PipelineError(f"missing job arguments: {', '.join('--' + m for m in missing)}")
    return {name: values[name] for name in names}


def optional_options(argv: list[str], defaults: dict[str, str]) -> dict[str, str]:
    """Arguments that may be absent, with their defaults."""
    found = {}
    for name, default in defaults.items():
        try:
            found[name] = resolved_options(argv, [name])[name]
        except PipelineError:
            found[name] = default
    return found


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise PipelineError(f"not an S3 URI: {uri!r}")
        return cls(parsed.netloc, parsed.path.lstrip("/"))

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def child(self, name: str) -> S3Location:
        return S3Location(self.bucket, f"{self.key.rstrip('/')}/{name}" if self.key else name)


class RunProperties:
    """The Glue workflow run's properties; values are strings, so structures go as JSON."""

    def __init__(self, glue: Any, workflow_name: str, run_id: str) -> None:
        self.glue = glue
        self.workflow_name = workflow_name
        self.run_id = run_id

    def get(self) -> dict[str, str]:
        response = self.glue.get_workflow_run_properties(Name=self.workflow_name, RunId=self.run_id)
        return dict(response.get("RunProperties", {}))

    def put(self, **values: Any) -> None:
        encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
        self.glue.put_workflow_run_properties(
            Name=self.workflow_name, RunId=self.run_id, RunProperties=encoded
        )

    def get_json(self, key: str) -> Any:
        value = self.get().get(key)
        return json.loads(value) if value else None
