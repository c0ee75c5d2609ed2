"""Static checks on every synthesized template: cdk-nag, cfn-lint, ASL validation, assets."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_all

from localcloud.core.assembly import CloudAssembly
from stacks.asl_polls import read_definition

pytestmark = pytest.mark.synth
REPO_ROOT = Path(__file__).resolve().parents[2]


def templates(assembly_dir: Path) -> list[Path]:
    return [s.template_path for s in CloudAssembly(assembly_dir).stacks()]


def test_cdk_nag_reports_no_unacknowledged_finding(assembly_dir: Path) -> None:
    # Synthesis fails on a finding; a report exists only when one was acknowledged or raised.
    report_path = assembly_dir / "validation-report.json"
    if report_path.exists():
        report = json.loads(report_path.read_text())
        violations = [v for p in report["pluginReports"] for v in p.get("violations", [])]
        assert violations == []


def test_every_acknowledgment_names_a_rule_and_a_reason() -> None:
    source = "\n".join(p.read_text() for p in (REPO_ROOT / "stacks").rglob("*.py"))
    assert "NagSuppressions" not in source  # v2 API: bulk suppressions without findings
    assert "Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))" in source


def test_cfn_lint_finds_no_error(assembly_dir: Path) -> None:
    for path in templates(assembly_dir):
        matches = lint_all(path.read_text())
        errors = [m for m in matches if m.rule.id.startswith("E")]
        assert errors == [], f"{path.name}: " + "; ".join(str(m) for m in errors)


def _definitions(assembly_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in templates(assembly_dir):
        template = json.loads(path.read_text())
        for name, resource in template["Resources"].items():
            if resource["Type"] == "AWS::StepFunctions::StateMachine":
                found.append((f"{path.stem}/{name}", resource["Properties"]["Definition"]))
    return found


def _with_placeholder_arns(node: Any) -> Any:
    """Intrinsic functions stand in for ARNs the deployment fills in; give the validator a
    literal ARN in their place."""
    if isinstance(node, dict):
        if len(node) == 1 and next(iter(node)).startswith(("Fn::", "Ref")):
            return "arn:aws:lambda:us-east-1:123456789012:function:placeholder"
        return {k: _with_placeholder_arns(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_placeholder_arns(v) for v in node]
    return node


def test_state_machine_definitions_are_valid_asl(assembly_dir: Path, tmp_path: Path) -> None:
    validator = REPO_ROOT / "node_modules" / ".bin" / "asl-validator"
    definitions = _definitions(assembly_dir)
    assert definitions
    for name, definition in definitions:
        assert "${" not in json.dumps(definition), f"{name} has an unsubstituted placeholder"
        path = tmp_path / "definition.asl.json"
        path.write_text(json.dumps(_with_placeholder_arns(definition)))
        result = subprocess.run(
            [str(validator), "--json-path", str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"


def test_the_asl_source_files_are_valid_with_their_placeholders(tmp_path: Path) -> None:
    """Validated as read, their Poll loops expanded."""
    validator = REPO_ROOT / "node_modules" / ".bin" / "asl-validator"
    for source in sorted((REPO_ROOT / "statemachines").glob("*.asl.json")):
        path = tmp_path / source.name
        path.write_text(json.dumps(read_definition(source)))
        result = subprocess.run(
            [str(validator), "--json-path", str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{source.name}: {result.stdout}{result.stderr}"


RUNTIME_SDK = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def test_every_handler_imports_from_its_synthesized_asset_in_a_fresh_interpreter(
    assembly_dir: Path, tmp_path: Path
) -> None:
    """No site-packages: only the code asset, the dependency layer and the SDK the Lambda
    Python runtime provides. A handler needing anything else fails to import here."""
    sdk = tmp_path / "runtime-sdk"
    sdk.mkdir()
    site = Path(__import__("boto3").__file__).parents[1]
    for name in RUNTIME_SDK:
        source = site / name if (site / name).exists() else site / f"{name}.py"
        (sdk / source.name).symlink_to(source)
    checked = 0
    for stack in CloudAssembly(assembly_dir).stacks():
        template = stack.template
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            props = resource["Properties"]
            if "S3Key" not in props["Code"]:
                continue  # aws-cdk-lib's inline custom resource handlers
            code = stack.asset_for_key(props["Code"]["S3Key"])
            layers = [
                stack.asset_for_key(
                    template["Resources"][layer["Ref"]]["Properties"]["Content"]["S3Key"]
                )
                for layer in props.get("Layers", [])
            ]
            module = props["Handler"].rsplit(".", 1)[0]
            layer_paths = [str(layer.source / "python") for layer in layers]
            paths = [str(code.source), *layer_paths, str(sdk)]
            script = (
                "import sys, importlib; sys.path[:0] = " + repr(paths) + "; "
                f"m = importlib.import_module({module!r}); "
                f"assert callable(getattr(m, {props['Handler'].rsplit('.', 1)[1]!r}))"
            )
            env = {"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"}
            result = subprocess.run(
                [sys.executable, "-I", "-S", "-c", script],
                capture_output=True, text=True, env=env, cwd=tmp_path,
            )  # fmt: skip
            assert result.returncode == 0, f"{props['Handler']}: {result.stderr[-2000:]}"
            checked += 1
    assert checked >= 4


def test_assets_hold_exactly_the_repository_handler_code(assembly_dir: Path) -> None:
    for stack in CloudAssembly(assembly_dir).stacks():
        for asset in stack.assets:
            package_root = asset.source / "lambdas"
            if not package_root.is_dir():
                continue
            for shipped in package_root.rglob("*.py"):
                original = REPO_ROOT / shipped.relative_to(asset.source)
                assert shipped.read_bytes() == original.read_bytes(), f"{shipped} differs"


def test_unsupported_language_codes_fail_synthesis() -> None:
    from aws_cdk import App

    from app import build_app, cdk_json_context
    from lambdas.shared.errors import ConfigurationError

    context = {**cdk_json_context(), "caption_translation:targetLanguages": "es,xx-YY"}
    with pytest.raises(ConfigurationError, match="xx-YY"):
        build_app(App(context=context))


def test_the_cdk_cli_synthesizes_the_app(tmp_path: Path) -> None:
    cdk = REPO_ROOT / "node_modules" / ".bin" / "cdk"
    if not cdk.exists() or shutil.which("node") is None:
        pytest.fail("the CDK CLI is not installed: run `make install`")
    result = subprocess.run(
        [str(cdk), "synth", "--quiet", "--output", str(tmp_path / "cdk.out")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "cdk.out" / "CaptionTranslation-dev.template.json").exists()
