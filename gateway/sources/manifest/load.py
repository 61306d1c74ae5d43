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
    key's own line, else its table's header, else the line of what holds it (an inline
    table), else None."""
    for end in range(len(loc), 0, -1):
        found = _line_of(text, loc[:end])
        if found is not None:
            return found
    return None


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
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
        loc, problem = _first_problem(exc)
        line = line_of(text, loc)
        at = f"{path}:{line}" if line is not None else path
        raise ManifestError(f"{at}: {'.'.join(map(str, loc))}: {problem}") from None
    for name in ("order", "customer"):
        try:
            hook(getattr(manifest.hooks, name))
        except (ImportError, ValueError) as exc:
            line = line_of(text, ("hooks", name))
            raise ManifestError(f"{path}:{line}: hooks.{name}: {exc}") from None
    for loc, template in _templates(manifest):
        unknown = _placeholders(template) - _KNOWN_KEYS - set(manifest.settings)
        if unknown:
            line = line_of(text, loc)
            names = ", ".join(sorted(unknown))
            raise ManifestError(
                f"{path}:{line}: {'.'.join(loc)}: {{{names}}} is no setting of this manifest "
                f"(its [settings]: {', '.join(sorted(manifest.settings)) or 'none'})"
            ) from None
    for name, key in manifest.settings.items():
        if key.pattern is not None:
            try:
                re.compile(key.pattern)
            except re.error as exc:
                line = line_of(text, ("settings", name, "pattern"))
                raise ManifestError(
                    f"{path}:{line}: settings.{name}.pattern: not a regular expression ({exc})"
                ) from None
    return manifest


#: keys every source table has, which templates may name too
_KNOWN_KEYS = frozenset(SourceSettings.model_fields)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def _placeholders(template: str) -> set[str]:
    return set(_PLACEHOLDER.findall(template))


def _templates(manifest: Manifest) -> list[tuple[tuple[str, ...], str]]:
    """Every template a source's settings fill (headers and auth), with its place."""
    found: list[tuple[tuple[str, ...], str]] = [
        (("headers", name), value) for name, value in manifest.headers.items()
    ]
    for field in ("username", "password", "token", "value"):
        value = getattr(manifest.auth, field)
        if isinstance(value, str):
            found.append((("auth", field), value))
    return found


#: what pydantic puts in an error's location for the branch of a union it tried
_BRANCH = re.compile(r"^(str|int|bool|float|[A-Z][A-Za-z]*|function-.*)$")


def _first_problem(exc: ValidationError) -> tuple[tuple[str, ...], str]:
    """The problem to name, and where: of a value that fits no branch of a union (a path
    or a table), the branch that got furthest, its location without the branch names."""
    errors = exc.errors()
    first = errors[0]
    loc = tuple(str(p) for p in first["loc"] if not _BRANCH.match(str(p)))
    related = [
        e
        for e in errors
        if tuple(str(p) for p in e["loc"] if not _BRANCH.match(str(p)))[: len(loc)] == loc
    ]
    deepest = max(related, key=lambda e: len(e["loc"]))
    loc = tuple(str(p) for p in deepest["loc"] if not _BRANCH.match(str(p)))
    if deepest["type"] == "missing":
        return loc, "required key is missing"
    if deepest["type"] == "extra_forbidden":
        return loc, "unknown key"
    if len(related) > 1 and len(deepest["loc"]) == len(first["loc"]):
        return loc, "expected a path (text) or a table (docs/manifests.md, 'A value is read')"
    return loc, deepest["msg"]


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
        fields["manifest"] = (
            str,
            Field(
                description="The manifest file (docs/manifests.md); a relative path is read "
                "from the working directory, as persisted_queries is."
            ),
        )
    else:
        fields["kind"] = (Literal[manifest.kind], manifest.kind)
    model: type[ManifestSettings] = create_model(
        f"{manifest.kind.title().replace('_', '')}Settings", __base__=ManifestSettings, **fields
    )
    model.manifest_keys = manifest.settings
    return model
