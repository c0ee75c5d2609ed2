"""Glue Python shell entry of TrainingJob: train BlazingText, evaluate on the test split,
deploy only a better model."""

import sys
import time

import boto3
from pipeline_common import (
    PROCESSING_REPORT,
    TRAINING_REPORT,
    PipelineError,
    RunProperties,
    S3Location,
    resolved_options,
)
from pipeline_entry import run_job
from pipeline_model import Channels, Trainer, TrainingSettings


def main(argv: list[str]) -> None:
    args = resolved_options(
        argv,
        ["BUCKET", "WORKFLOW_RUN_ID", "NAME_PREFIX", "TRAINING_IMAGE", "SAGEMAKER_ROLE_ARN",
         "TRAINING_INSTANCE_TYPE", "INFERENCE_INSTANCE_TYPE", "HYPERPARAMETERS",
         "ENDPOINT_NAME", "ACCURACY_PARAMETER", "MODEL_PARAMETER", "MIN_IMPROVEMENT",
         "POLL_SECONDS", "MAX_TRAINING_POLLS", "MAX_TRANSFORM_POLLS", "MAX_ENDPOINT_POLLS",
         "MAX_RUNTIME_SECONDS", "STACK_NAME", "SERVERLESS_MEMORY_MIB",
         "SERVERLESS_MAX_CONCURRENCY"],
    )  # fmt: skip

    def work(properties: RunProperties) -> None:
        report = properties.get_json(PROCESSING_REPORT)
        if not report or "channels" not in report:
            raise PipelineError("the run has no processed data (processing_report is not set)")
        hyperparameters = dict(
            item.split("=", 1) for item in args["HYPERPARAMETERS"].split(",") if item
        )
        settings = TrainingSettings(
            name_prefix=args["NAME_PREFIX"],
            image=args["TRAINING_IMAGE"],
            role_arn=args["SAGEMAKER_ROLE_ARN"],
            instance_type=args["TRAINING_INSTANCE_TYPE"],
            inference_instance_type=args["INFERENCE_INSTANCE_TYPE"],
            hyperparameters=hyperparameters,
            endpoint_name=args["ENDPOINT_NAME"],
            accuracy_parameter=args["ACCURACY_PARAMETER"],
            model_parameter=args["MODEL_PARAMETER"],
            min_improvement=float(args["MIN_IMPROVEMENT"]),
            poll_seconds=int(args["POLL_SECONDS"]),
            max_training_polls=int(args["MAX_TRAINING_POLLS"]),
            max_transform_polls=int(args["MAX_TRANSFORM_POLLS"]),
            max_endpoint_polls=int(args["MAX_ENDPOINT_POLLS"]),
            max_runtime_seconds=int(args["MAX_RUNTIME_SECONDS"]),
            stack_name=args["STACK_NAME"],
            serverless_memory_mib=int(args["SERVERLESS_MEMORY_MIB"]),
            serverless_max_concurrency=int(args["SERVERLESS_MAX_CONCURRENCY"]),
        )
        channels = report["channels"]
        trainer = Trainer(
            boto3.client("sagemaker"), boto3.client("s3"), boto3.client("ssm"), settings,
            time.sleep,
        )  # fmt: skip
        result = trainer.run(
            args["WORKFLOW_RUN_ID"],
            Channels(channels["train"], channels["validation"], channels["test"]),
            S3Location(args["BUCKET"], f"training/{args['WORKFLOW_RUN_ID']}"),
        )
        properties.put(**{TRAINING_REPORT: result})
        print(f"training: {result}")

    run_job("TrainingJob", argv, work)


if __name__ == "__main__":
    main(sys.argv)
