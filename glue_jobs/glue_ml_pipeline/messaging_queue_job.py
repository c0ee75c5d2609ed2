"""Glue Python shell entry of MessagingQueueJob: the run's outcome to the SQS queue."""

import json
import sys

import boto3
from pipeline_common import resolved_options
from pipeline_message import send


def main(argv: list[str]) -> None:
    args = resolved_options(argv, ["QUEUE_URL", "WORKFLOW_NAME", "WORKFLOW_RUN_ID"])
    message = send(
        boto3.client("sqs"),
        boto3.client("glue"),
        args["QUEUE_URL"],
        args["WORKFLOW_NAME"],
        args["WORKFLOW_RUN_ID"],
    )
    print(f"sent: {json.dumps(message)}")


if __name__ == "__main__":
    main(sys.argv)
