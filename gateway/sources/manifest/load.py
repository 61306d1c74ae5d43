"""Reading a manifest file: one line naming the file, the line and what is wrong when it
cannot be read, and the settings model its ``[sources.<name>]`` tables are checked with."""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError, create_model

from gateway.sources.base import SourceSettings
from gateway.sources.manifest.model import Manifest, SettingKey
from gateway.sources.manifest.normalize import hook


class ManifestError(ValueError):
    """A manifest that cannot be used; the message is one line: file:line: problem."""


_TABLE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")


def line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """The line where the value at ``loc`` (a pydantic error location) is written: the
    key's own line, else its table's header, else None."""
    names = [str(p) for p in loc if not isinstance(p, int)]
    wanted_table, key = ".".join(names[:-1]), names[-1] if names else ""
    table = ""
    header: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if found := _TABLE.match(line):
            table = found.group(1).replace('"', "").replace(" ", "")
            if table == ".".join(names):
                header = number
            continue
        if found := _KEY.match(line):
            dotted = found.group(1).replace('"', "").replace("'", "")
            full = f"{table}.{dotted}" if table else dotted
            if full == (f"{wanted_table}.{key}" if wanted_table else key):
                return number
    return header


@lru_cache(maxsize=64)
def load(path: str) -> Manifest:
    """The manifest at ``path``; ManifestError (one line) when it cannot be used."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the manifest ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path}: not valid TOML ({exc})") from None
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        line = line_of(text, tuple(first["loc"]))
        at = f"{path}:{line}" if line is not None else path
        problem = "required key is missing" if first["type"] == "missing" else first["msg"]
        if first["type"] == "extra_forbidden":
            problem = "unknown key"
        raise ManifestError(f"{at}: {where}: {problem}") from None
    for name in ("order", "customer"):
        try:
            hook(getattr(manifest.hooks, name))
        except (ImportError, ValueError) as exc:
            line = line_of(text, ("hooks", name))
            raise ManifestError(f"{path}:{line}: hooks.{name}: {exc}") from None
    return manifest


_TYPES: dict[str, Any] = {"string": str, "integer": int, "boolean": bool, "strings": list[str]}


def settings_fields(keys: dict[str, SettingKey]) -> dict[str, Any]:
    """pydantic field definitions for a manifest's own setting keys."""
    fields: dict[str, Any] = {}
    for name, key in keys.items():
        kind = _TYPES[key.type]
        if key.required:
            fields[name] = (kind, Field(description=key.description, pattern=key.pattern))
        else:
            fields[name] = (
                kind | None,
                Field(default=key.default, description=key.description, pattern=key.pattern),
            )
    return fields


class ManifestSettings(SourceSettings):
    """A manifest kind's table: the common keys, and the manifest's own."""

    #: the manifest's own keys (set on each manifest's model)
    manifest_keys: ClassVar[dict[str, SettingKey]] = {}

    def secrets(self) -> list[str]:
        keys = type(self).manifest_keys
        return [str(getattr(self, k)) for k, key in keys.items() if key.secret and getattr(self, k)]


def settings_model(manifest: Manifest, *, user_file: bool = False) -> type[ManifestSettings]:
    """The settings model of a manifest's sources: ``kind = "<its kind>"`` for a manifest
    shipped as a kind, ``kind = "manifest"`` and ``manifest = "<file>"`` for a user's."""
    fields = settings_fields(manifest.settings)
    if user_file:
        fields["kind"] = (Literal["manifest"], "manifest")
        fields["manifest"] = (str, Field(description="The manifest file (docs/manifests.md)."))
    else:
        fields["kind"] = (Literal[manifest.kind], manifest.kind)
    model: type[ManifestSettings] = create_model(
        f"{manifest.kind.title().replace('_', '')}Settings", __base__=ManifestSettings, **fields
    )
    model.manifest_keys = manifest.settings
    return model
