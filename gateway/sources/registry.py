"""Kind → adapter: every kind the gateway knows. Adding a kind is one folder and one
line here: its adapter carries its sourceKind (the GraphQL enum value and description),
its settings, its source class, its simulator and any credentials that renew. A kind
described by a manifest (docs/manifests.md) is a folder with its file and sample payloads."""

from __future__ import annotations

from typing import Any

from gateway.domain import SourceKind
from gateway.sources import adobe_vip, hamgam, highlevel, licensespring, woocommerce, zaveit
from gateway.sources.base import Adapter
from gateway.sources.manifest import user_adapter
from gateway.sources.manifest.model import Manifest


def kinds() -> list[SourceKind]:
    """The registered kinds in registry order (the GraphQL enum's order), each once."""
    return list(dict.fromkeys(adapter.kind for adapter in ADAPTERS.values()))


ADAPTERS: dict[str, Adapter] = {
    adapter.config_name: adapter
    for adapter in (
        licensespring.ADAPTER,
        zaveit.ADAPTER,
        hamgam.ADAPTER,
        adobe_vip.ADAPTER,
        highlevel.ADAPTER,
        woocommerce.ADAPTER,
        user_adapter(kinds),
    )
}


def manifest_json_schema() -> dict[str, Any]:
    """A manifest's JSON Schema (``gateway manifest-schema``, docs/manifest.schema.json),
    its ``source_kind`` one of the registered kinds."""
    schema = Manifest.model_json_schema()
    described = schema["properties"]["source_kind"]["description"]
    schema["$defs"]["SourceKind"] = {
        "description": "The backend products the gateway speaks to.",
        "enum": [kind.value for kind in kinds()],
        "title": "SourceKind",
        "type": "string",
    }
    schema["$defs"] = dict(sorted(schema["$defs"].items()))
    schema["properties"]["source_kind"] = {"$ref": "#/$defs/SourceKind", "description": described}
    return schema
