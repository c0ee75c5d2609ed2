"""Retention of trained model versions: the live one plus the newest `retain` others."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

DELETABLE = ("TRAINED", "TRAINED_WITH_WARNING", "IN_ERROR", "STOPPED")


def clean_up_models(comprehend: Any, name: str, live_arn: str | None, retain: int) -> list[str]:
    """Delete this workflow's old classifier versions; returns the ARNs it deleted."""
    versions: list[dict[str, Any]] = []
    paginator = comprehend.get_paginator("list_document_classifiers")
    for page in paginator.paginate(Filter={"DocumentClassifierName": name}):
        versions += page.get("DocumentClassifierPropertiesList", [])
    others = sorted(
        (v for v in versions if v["DocumentClassifierArn"] != live_arn),
        key=lambda v: v.get("SubmitTime") or 0,
        reverse=True,
    )
    deleted = []
    for version in others[retain:]:
        if version.get("Status") not in DELETABLE:
            continue
        try:
            comprehend.delete_document_classifier(
                DocumentClassifierArn=version["DocumentClassifierArn"]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] in (
                "ResourceInUseException",
                "ResourceNotFoundException",
            ):
                continue  # still behind an endpoint, or already gone
            raise
        deleted.append(version["DocumentClassifierArn"])
    return deleted


def discard(comprehend: Any, arn: str | None) -> bool:
    """Delete a losing or failed candidate; False if there was nothing to delete, or if a
    failed endpoint still holds it (a later promotion's clean-up deletes it then)."""
    if not arn:
        return False
    try:
        comprehend.delete_document_classifier(DocumentClassifierArn=arn)
    except ClientError as error:
        if error.response["Error"]["Code"] in (
            "ResourceNotFoundException",
            "ResourceInUseException",
        ):
            return False
        raise
    return True
