"""Sources described by a manifest file instead of Python (docs/manifests.md).

A kind shipped as a manifest (WooCommerce) is a folder holding its file and sample
payloads, built here into an Adapter like any other; ``kind = "manifest"`` reads a
user's own file named by the source table's ``manifest`` key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field

from gateway.domain import SourceKind
from gateway.sources.base import Adapter, Simulated, Source, SourceSettings
from gateway.sources.manifest.client import source_class
from gateway.sources.manifest.load import ManifestError, line_of, load, settings_model
from gateway.sources.manifest.model import Manifest

__all__ = ["MANIFEST", "ManifestError", "adapter_of", "load", "user_adapter"]


#: the sourceKind of a user's manifest that re-expresses no built-in kind
MANIFEST = SourceKind(
    "manifest",
    "A backend described by the operator's own manifest file (the source's name says which).",
)


def adapter_of(path: Path, description: str, simulator: Simulated | None = None) -> Adapter:
    """The adapter of a manifest shipped as a kind (``kind = "<its kind>"``): its objects
    report its own kind, described in the GraphQL enum by ``description``."""
    manifest = load(str(path))
    if manifest.source_kind != manifest.kind:
        raise ManifestError(
            f"{path}: source_kind: a shipped kind reports its own ('{manifest.kind}')"
        )
    kind = SourceKind(manifest.kind, description)
    model = settings_model(manifest)

    def create(name: str, settings: SourceSettings, **options: Any) -> Source:
        return source_class(manifest, kind)(name, settings, **options)

    return Adapter(kind, model, create, simulator=simulator)


class UserManifestTable(SourceSettings):
    """``kind = "manifest"``: the common keys, ``manifest``, and the keys the file names."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: Literal["manifest"] = "manifest"
    manifest: str = Field(
        description="The manifest file (docs/manifests.md); a relative path is read from "
        "the working directory, as persisted_queries is."
    )


def user_adapter(kinds: Callable[[], Iterable[SourceKind]]) -> Adapter:
    """``kind = "manifest"``: a user's own file. ``kinds`` are the registry's, one of which
    the file's ``source_kind`` may name (asked when a config is read, not at import)."""

    def kind_of(path: str, manifest: Manifest) -> SourceKind:
        known = {k.value: k for k in kinds()}
        found = known.get(manifest.source_kind)
        if found is None:
            line = line_of(Path(path).read_text(encoding="utf-8"), ("source_kind",))
            names = [repr(name) for name in known]
            raise ManifestError(
                f"{path}:{line}: source_kind: Input should be "
                f"{', '.join(names[:-1])} or {names[-1]}"
            )
        return found

    def settings_for(table: Mapping[str, Any]) -> type[SourceSettings]:
        path = table.get("manifest")
        if not isinstance(path, str):
            return UserManifestTable  # its check names the missing key
        manifest = load(path)
        kind_of(path, manifest)
        return settings_model(manifest, user_file=True)

    def create(name: str, settings: SourceSettings, **options: Any) -> Source:
        path = str(getattr(settings, "manifest"))  # noqa: B009
        manifest = load(path)
        return source_class(manifest, kind_of(path, manifest))(name, settings, **options)

    return Adapter(MANIFEST, UserManifestTable, create, settings_for=settings_for)
