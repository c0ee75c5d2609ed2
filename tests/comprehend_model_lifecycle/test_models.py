"""Retention of model versions and discarding candidates, against a fake Comprehend client, and
the lifecycle functions' settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdas.comprehend_model_lifecycle.models import clean_up_models, discard
from lambdas.comprehend_model_lifecycle.settings import LifecycleSettings

NAME = "cml-test"
START = datetime(2024, 1, 1, tzinfo=UTC)


def arn(version: str, name: str = NAME) -> str:
    return f"arn:aws:comprehend:us-east-1:123456789012:document-classifier/{name}/version/{version}"


class FakeComprehend:
    """Lists versions two to a page; deletes refuse what `refuse` names with its error code."""

    def __init__(self, versions: list[tuple[str, str]], refuse: dict[str, str] | None = None):
        self.versions = [
            {
                "DocumentClassifierArn": arn(version),
                "Status": status,
                "SubmitTime": START + timedelta(hours=hours),
            }
            for hours, (version, status) in enumerate(versions)
        ]
        self.refuse = refuse or {}
        self.deleted: list[str] = []
        self.filters: list[Any] = []

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_document_classifiers"
        fake = self

        class Paginator:
            def paginate(self, **request: Any) -> Any:
                fake.filters.append(request["Filter"])
                for start in range(0, len(fake.versions), 2):
                    yield {"DocumentClassifierPropertiesList": fake.versions[start : start + 2]}

        return Paginator()

    def delete_document_classifier(self, **request: str) -> None:
        model = request["DocumentClassifierArn"]
        code = self.refuse.get(model)
        if code:
            error = {"Error": {"Code": code, "Message": code}}
            raise ClientError(error, "DeleteDocumentClassifier")
        self.deleted.append(model)


def test_the_live_model_and_the_newest_others_are_kept() -> None:
    comprehend = FakeComprehend([(f"r{i}", "TRAINED") for i in range(6)])
    deleted = clean_up_models(comprehend, NAME, live_arn=arn("r3"), retain=2)
    # Newest first: r5 and r4 are retained, r3 is live; r2, r1 and r0 go.
    assert deleted == [arn("r2"), arn("r1"), arn("r0")] == comprehend.deleted
    assert comprehend.filters == [{"DocumentClassifierName": NAME}]


def test_retaining_none_keeps_only_the_live_model() -> None:
    comprehend = FakeComprehend([("old", "TRAINED"), ("live", "TRAINED")])
    assert clean_up_models(comprehend, NAME, live_arn=arn("live"), retain=0) == [arn("old")]


def test_models_still_training_or_in_use_are_left_alone() -> None:
    statuses = ["IN_ERROR", "TRAINING", "TRAINED", "STOPPED", "TRAINED"]
    comprehend = FakeComprehend(
        list(zip("abcde", statuses, strict=True)),
        refuse={arn("c"): "ResourceInUseException", arn("d"): "ResourceNotFoundException"},
    )
    assert clean_up_models(comprehend, NAME, live_arn=arn("e"), retain=0) == [arn("a")]


def test_an_unexpected_error_while_cleaning_up_is_raised() -> None:
    comprehend = FakeComprehend(
        [("a", "TRAINED"), ("b", "TRAINED")], refuse={arn("a"): "AccessDeniedException"}
    )
    with pytest.raises(ClientError):
        clean_up_models(comprehend, NAME, live_arn=arn("b"), retain=0)


def test_discarding_a_candidate() -> None:
    comprehend = FakeComprehend(
        [],
        refuse={
            arn("gone"): "ResourceNotFoundException",
            arn("held"): "ResourceInUseException",  # behind a failed endpoint being deleted
            arn("denied"): "AccessDeniedException",
        },
    )
    assert discard(comprehend, arn("loser")) is True
    assert comprehend.deleted == [arn("loser")]
    assert discard(comprehend, "") is False
    assert discard(comprehend, None) is False
    assert discard(comprehend, arn("gone")) is False
    assert discard(comprehend, arn("held")) is False
    with pytest.raises(ClientError):
        discard(comprehend, arn("denied"))


def test_settings_come_from_the_environment_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUCKET_NAME", "training")
    monkeypatch.setenv("STATE_TABLE", "state")
    monkeypatch.setenv("CLASSIFIER_NAME", NAME)
    for name in ("CLASSIFIER_MODE", "LABEL_DELIMITER", "SELECTION_METRIC", "TEST_PERCENT",
                 "ALLOWED_LABELS", "RETAIN_MODELS", "MIN_IMPROVEMENT_PER_MILLE",
                 "STATE_MACHINE_ARN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    defaults = LifecycleSettings.from_env()
    assert (defaults.mode, defaults.metric, defaults.test_percent, defaults.retain_models) == (
        "MULTI_CLASS", "F1", 10, 2
    )  # fmt: skip
    assert defaults.allowed_labels == () and defaults.state_machine_arn is None
    assert defaults.multi_label is False

    monkeypatch.setenv("CLASSIFIER_MODE", "MULTI_LABEL")
    monkeypatch.setenv("ALLOWED_LABELS", "World, Sports,,Business")
    monkeypatch.setenv("TEST_PERCENT", "20")
    configured = LifecycleSettings.from_env()
    assert configured.multi_label is True
    assert configured.allowed_labels == ("World", "Sports", "Business")
    assert configured.test_percent == 20
