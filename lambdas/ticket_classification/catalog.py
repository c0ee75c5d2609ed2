"""Recommended materials for a ticket, from a catalog keyed by (operation, resource).

The catalog (`catalog.json` in this package, replaced before deploying to customise it) maps
`"<operation>/<resource>"`, `"*/<resource>"`, `"<operation>/*"` and `"*/*"` to lists of
materials (`{"type": "runbook" | "documentation" | "ssm-document", "title", "link"}`). A ticket
gets the most specific entry that exists, in that order; `"*/*"` must exist so every ticket gets
an answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lambdas.shared.errors import ConfigurationError

CATALOG_FILE = Path(__file__).with_name("catalog.json")
MATERIAL_TYPES = frozenset({"runbook", "documentation", "ssm-document"})


@dataclass(frozen=True)
class Recommendation:
    key: str  # the catalog entry that matched
    materials: tuple[dict[str, str], ...]

    def as_dict(self) -> dict[str, Any]:
        return {"CatalogKey": self.key, "Materials": [dict(m) for m in self.materials]}


def validate(catalog: Any) -> dict[str, tuple[dict[str, str], ...]]:
    if not isinstance(catalog, dict) or "*/*" not in catalog:
        raise ConfigurationError('the catalog must be a JSON object with a "*/*" entry')
    checked: dict[str, tuple[dict[str, str], ...]] = {}
    for key, materials in catalog.items():
        if key.count("/") != 1 or not isinstance(materials, list) or not materials:
            raise ConfigurationError(f"catalog entry {key!r} must be 'op/resource': [materials]")
        for material in materials:
            if (
                not isinstance(material, dict)
                or material.get("type") not in MATERIAL_TYPES
                or not material.get("title")
                or not material.get("link")
            ):
                raise ConfigurationError(
                    f"catalog entry {key!r}: each material needs a type "
                    f"({', '.join(sorted(MATERIAL_TYPES))}), a title and a link"
                )
        checked[key] = tuple({k: str(v) for k, v in m.items()} for m in materials)
    return checked


@cache
def load_catalog(path: Path = CATALOG_FILE) -> dict[str, tuple[dict[str, str], ...]]:
    return validate(json.loads(path.read_text(encoding="utf-8")))


def recommend(
    operation: str, resource: str, catalog: dict[str, tuple[dict[str, str], ...]] | None = None
) -> Recommendation:
    entries = catalog if catalog is not None else load_catalog()
    for key in (f"{operation}/{resource}", f"*/{resource}", f"{operation}/*", "*/*"):
        if key in entries:
            return Recommendation(key, entries[key])
    raise ConfigurationError('the catalog has no "*/*" entry')  # validate() prevents this
