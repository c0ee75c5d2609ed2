"""What a deploy needs from the user's account: taken from context, checked before deploying."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from lambdas.shared.errors import ConfigurationError
from stacks import preflight
from stacks.constructs.deploy_input import deploy_input

pytestmark = pytest.mark.synth

PATTERN = r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]+:[0-9]{12}:workteam/.+"
WORKTEAM = "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/reviewers"
PROJECT = "arn:aws:rekognition:us-east-1:111122223333:project/products/1690000000000"
VERSION = (
    "arn:aws:rekognition:us-east-1:111122223333:project/products/version/products.v1/1690000000001"
)


def _parameter(context: dict[str, str]) -> dict[str, object]:
    stack = Stack(App(context=context), "Probe")
    deploy_input(
        stack,
        "WorkteamArn",
        context_key="probe:workteamArn",
        description="ARN of the work team",
        pattern=PATTERN,
    )
    parameters = Template.from_stack(stack).to_json()["Parameters"]
    return dict(parameters["WorkteamArn"])


def test_a_context_value_becomes_the_parameters_default() -> None:
    parameter = _parameter({"probe:workteamArn": WORKTEAM})
    assert parameter["Default"] == WORKTEAM
    assert parameter["AllowedPattern"] == PATTERN


def test_without_a_context_value_the_parameter_has_no_default_and_names_its_key() -> None:
    parameter = _parameter({})
    assert "Default" not in parameter
    assert str(parameter["Description"]).endswith("Default from context key probe:workteamArn.")


def test_a_context_value_of_the_wrong_form_fails_synth_naming_the_key() -> None:
    with pytest.raises(ConfigurationError, match=r"probe:workteamArn must match .*workteam/"):
        _parameter({"probe:workteamArn": "reviewers"})


def test_preflight_names_each_missing_value_and_its_context_key(
    assembly_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = preflight.main([str(assembly_dir), "--all"])
    errors = capsys.readouterr().err
    assert status == 1
    lines = sorted(line for line in errors.splitlines() if line.startswith("preflight:"))
    assert len(lines) == 3, errors
    assert "ComprehendFeedbackLoop-test: parameter WorkteamArn" in lines[0]
    assert "-c comprehend_feedback_loop:workteamArn=<value>" in lines[0]
    assert "CustomLabelsBatch-test: parameter ProjectArn" in lines[1]
    assert "-c custom_labels_batch:projectArn=<value>" in lines[1]
    assert "-c custom_labels_batch:projectVersionArn=<value>" in lines[2]


def test_preflight_passes_stacks_that_have_every_value(
    assembly_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert preflight.main([str(assembly_dir), "CaptionTranslation-test", "Ticket*"]) == 0
    given = [f"ProjectArn={PROJECT}", f"CustomLabelsBatch-test:ProjectVersionArn={VERSION}"]
    arguments = [str(assembly_dir), "CustomLabelsBatch-test"]
    for item in given:
        arguments += ["--parameters", item]
    assert preflight.main(arguments) == 0
    assert "have every parameter" in capsys.readouterr().out


def test_preflight_refuses_an_unknown_stack_and_a_missing_assembly(
    assembly_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert preflight.main([str(assembly_dir), "NoSuchStack-dev"]) == 2
    assert "no stack matches 'NoSuchStack-dev'" in capsys.readouterr().err
    assert preflight.main([str(tmp_path), "--all"]) == 2
    assert "run `cdk synth` first" in capsys.readouterr().err
