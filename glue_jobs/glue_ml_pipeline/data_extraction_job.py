"""Glue Python shell entry of DataExtractionJob: the dataset from its source into raw/."""

import sys

import boto3
from pipeline_common import RAW_URI, RunProperties, S3Location, resolved_options
from pipeline_entry import run_job
from pipeline_extract import fetch


def main(argv: list[str]) -> None:
    args = resolved_options(argv, ["SOURCE_URI", "BUCKET", "WORKFLOW_RUN_ID"])

    def work(properties: RunProperties) -> None:
        target = S3Location(args["BUCKET"], f"raw/{args['WORKFLOW_RUN_ID']}/dataset.csv")
        report = fetch(boto3.client("s3"), args["SOURCE_URI"], target)
        properties.put(**{RAW_URI: report["raw_uri"]})
        print(f"extracted {report['bytes']} bytes from {report['source']} to {report['raw_uri']}")

    run_job("DataExtractionJob", argv, work)


if __name__ == "__main__":
    main(sys.argv)
