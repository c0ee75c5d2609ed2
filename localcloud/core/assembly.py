"""Reads a synthesized CDK cloud assembly (`cdk.out`): stack templates and file assets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The repository whose sources the assembly was synthesized from (its assets must match them).
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class FileAsset:
    """A file asset: a directory or file that `cdk deploy` uploads to the bootstrap bucket."""

    asset_hash: str
    source: Path
    packaging: str  # "zip" (a directory) or "file"
    bucket_name: str  # with ${AWS::AccountId}/${AWS::Region} placeholders
    object_key: str


@dataclass(frozen=True)
class StackArtifact:
    stack_name: str
    artifact_id: str
    template: dict[str, Any]
    template_path: Path
    assets: tuple[FileAsset, ...]

    def asset_for_key(self, object_key: str) -> FileAsset | None:
        return next((a for a in self.assets if a.object_key == object_key), None)


class CloudAssembly:
    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        manifest_path = self.directory / "manifest.json"
        if not manifest_path.is_file():
            raise FileNotFoundError(f"{manifest_path} not found: synthesize first (`make synth`)")
        self.manifest = json.loads(manifest_path.read_text(encoding="utf-8"))

    def stacks(self) -> list[StackArtifact]:
        artifacts = self.manifest.get("artifacts", {})
        found = []
        for artifact_id, artifact in artifacts.items():
            if artifact.get("type") != "aws:cloudformation:stack":
                continue
            properties = artifact["properties"]
            template_path = self.directory / properties["templateFile"]
            assets: list[FileAsset] = []
            for dependency in artifact.get("dependencies", []):
                dep = artifacts.get(dependency, {})
                if dep.get("type") == "cdk:asset-manifest":
                    assets.extend(self._file_assets(dep["properties"]["file"]))
            found.append(
                StackArtifact(
                    stack_name=properties.get("stackName", artifact_id),
                    artifact_id=artifact_id,
                    template=json.loads(template_path.read_text(encoding="utf-8")),
                    template_path=template_path,
                    assets=tuple(assets),
                )
            )
        return found

    def stack(self, stack_name: str) -> StackArtifact:
        for artifact in self.stacks():
            if stack_name in (artifact.stack_name, artifact.artifact_id):
                return artifact
        names = [a.stack_name for a in self.stacks()]
        raise KeyError(f"stack {stack_name!r} is not in {self.directory} (found {names})")

    def _file_assets(self, manifest_file: str) -> list[FileAsset]:
        manifest = json.loads((self.directory / manifest_file).read_text(encoding="utf-8"))
        assets = []
        for asset_hash, entry in manifest.get("files", {}).items():
            source = entry["source"]
            for destination in entry["destinations"].values():
                assets.append(
                    FileAsset(
                        asset_hash=asset_hash,
                        source=self.directory / source["path"],
                        packaging=source.get("packaging", "file"),
                        bucket_name=destination["bucketName"],
                        object_key=destination["objectKey"],
                    )
                )
        return assets
