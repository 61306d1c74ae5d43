"""Sources described by a manifest file instead of Python (docs/manifests.md).

A kind shipped as a manifest (WooCommerce) is a folder holding its file and sample
payloads, built here into an Adapter like any other; ``kind = "manifest"`` reads a
user's own file named by the source table's ``manifest`` key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field

from gateway.sources.base import Adapter, Source, SourceSettings
from gateway.sources.manifest.client import source_class
from gateway.sources.manifest.load import ManifestError, load, settings_model
from gateway.sources.manifest.model import Manifest

__all__ = ["USER_ADAPTER", "ManifestError", "adapter_of", "load"]


def adapter_of(path: Path) -> Adapter:
    """The adapter of a manifest shipped as a kind (``kind = "<its kind>"``)."""
    manifest = load(str(path))
    model = settings_model(manifest)

    def create(name: str, settings: SourceSettings, **options: Any) -> Source:
        return source_class(manifest)(name, settings, **options)

    return Adapter(kind=manifest.source_kind, settings=model, create=create, name=manifest.kind)


class UserManifestTable(SourceSettings):
    """``kind = "manifest"``: the common keys, ``manifest``, and the keys the file names."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: Literal["manifest"] = "manifest"
    manifest: str = Field(
        description="The manifest file (docs/manifests.md); a relative path is read from "
        "the working directory, as persisted_queries is."
    )


def _user_settings(table: Mapping[str, Any]) -> type[SourceSettings]:
    path = table.get("manifest")
    if not isinstance(path, str):
        return UserManifestTable  # its check names the missing key
    return settings_model(load(path), user_file=True)


def _create_user(name: str, settings: SourceSettings, **options: Any) -> Source:
    manifest: Manifest = load(str(getattr(settings, "manifest")))  # noqa: B009
    return source_class(manifest)(name, settings, **options)


USER_ADAPTER = Adapter(
    kind=None,
    settings=UserManifestTable,
    create=_create_user,
    name="manifest",
    settings_for=_user_settings,
)
