"""The local cloud's core runs what moto serves; every other service joins it as a plugin, and
neither the core nor a service names a workflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud.core.cloud import LocalCloud as CoreCloud
from localcloud.core.plugins import ServicePlugin
from localcloud.core.provision import CUSTOM_RESOURCE
from localcloud.services import SERVICES
from stacks import WORKFLOWS, stack_id

LOCALCLOUD = Path(__file__).resolve().parents[2] / "localcloud"


@pytest.fixture
def assembly(tmp_path: Path) -> Path:
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {}}))
    return tmp_path


def _by_name(name: str) -> ServicePlugin:
    return next(plugin for plugin in SERVICES if plugin.name == name)


def test_the_core_alone_creates_what_moto_serves_and_no_emulated_service(assembly: Path) -> None:
    core = CoreCloud(assembly)

    assert core.provisioner_for("AWS::S3::Bucket") is not None
    assert core.provisioner_for("AWS::Lambda::Function") is not None
    assert core.provisioner_for("AWS::ApiGateway::RestApi") is None
    assert core.provisioner_for("AWS::RedshiftServerless::Workgroup") is None
    assert core.provisioner_for("Custom::Anything") is None


def test_a_plugin_brings_its_resource_types(assembly: Path) -> None:
    with_api = CoreCloud(assembly, services=[_by_name("apigateway")])

    assert with_api.provisioner_for("AWS::ApiGateway::RestApi") is not None
    assert with_api.provisioner_for("AWS::Glue::Job") is None


def test_any_custom_type_is_a_custom_resource_created_and_deleted_by_its_function(
    assembly: Path,
) -> None:
    cloud = CoreCloud(assembly, services=[_by_name("cloudformation")])
    custom = cloud.provisioner_for(CUSTOM_RESOURCE)

    assert custom is not None
    assert cloud.provisioner_for("Custom::TableSchema") is custom
    assert cloud.deleter_for("Custom::TableSchema") is cloud.deleter_for(CUSTOM_RESOURCE)
    assert cloud.deleter_for("AWS::S3::Bucket") is None
    # A type the core creates itself is not taken for a custom resource.
    assert cloud.provisioner_for("Custom::S3BucketNotifications") is not custom
    assert cloud.deleter_for("Custom::S3BucketNotifications") is None


def test_two_plugins_claiming_one_resource_type_are_refused(assembly: Path) -> None:
    api = _by_name("apigateway")
    twin = ServicePlugin("twin", provisioners=dict(api.provisioners))

    with pytest.raises(ValueError, match=r"AWS::ApiGateway::\w+ has two provisioners"):
        CoreCloud(assembly, services=[api, twin])


def test_every_service_has_its_own_name_and_types() -> None:
    names = [plugin.name for plugin in SERVICES]
    claimed = [t for plugin in SERVICES for t in plugin.provisioners]

    assert len(names) == len(set(names))
    assert len(claimed) == len(set(claimed))


@pytest.mark.parametrize("part", ["core", "services"])
def test_no_workflow_is_named_in_the_core_or_the_services(part: str) -> None:
    names = set(WORKFLOWS) | {stack_id(slug, "")[:-1] for slug in WORKFLOWS}
    found = {
        f"{path.relative_to(LOCALCLOUD)}: {name}"
        for path in (LOCALCLOUD / part).rglob("*.py")
        for name in names
        if name in path.read_text(encoding="utf-8")
    }

    assert names >= {"caption_translation", "CaptionTranslation"}
    assert found == set()
