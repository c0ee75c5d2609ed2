"""Glue Spark entry of DataProcessingJob: raw CSV to BlazingText channels (train, validation,
test), rejects with reasons under rejects/."""

import sys

import boto3
from pipeline_common import (
    PROCESSED_PREFIX,
    PROCESSING_REPORT,
    RAW_URI,
    PipelineError,
    RunProperties,
    S3Location,
    resolved_options,
)
from pipeline_entry import run_job
from pipeline_processing import ProcessingSettings, process
from pipeline_spark import SplitFractions
from pyspark.sql import SparkSession


def main(argv: list[str]) -> None:
    args = resolved_options(
        argv,
        ["BUCKET", "WORKFLOW_RUN_ID", "SEED", "VALIDATION_FRACTION", "TEST_FRACTION",
         "MAX_REJECT_RATIO", "EXPECTED_CLASSES", "MIN_ROWS_PER_CLASS"],
    )  # fmt: skip

    def work(properties: RunProperties) -> None:
        raw_uri = properties.get().get(RAW_URI)
        if not raw_uri:
            raise PipelineError("the run has no extracted data (raw_uri is not set)")
        run_id = args["WORKFLOW_RUN_ID"]
        settings = ProcessingSettings(
            fractions=SplitFractions(
                float(args["VALIDATION_FRACTION"]), float(args["TEST_FRACTION"])
            ),
            seed=int(args["SEED"]),
            max_reject_ratio=float(args["MAX_REJECT_RATIO"]),
            expected_classes=int(args["EXPECTED_CLASSES"]),
            min_rows_per_class=int(args["MIN_ROWS_PER_CLASS"]),
        )
        spark = SparkSession.builder.getOrCreate()
        output = S3Location(args["BUCKET"], f"processed/{run_id}")
        rejects = S3Location(args["BUCKET"], f"rejects/{run_id}/rejects.jsonl")
        report = process(
            boto3.client("s3"), spark, S3Location.parse(raw_uri), output, rejects, settings
        )
        properties.put(**{PROCESSED_PREFIX: output.uri, PROCESSING_REPORT: report})
        print(f"processed: {report}")

    run_job("DataProcessingJob", argv, work)


if __name__ == "__main__":
    main(sys.argv)
