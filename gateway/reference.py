"""The config file described from its settings models: a JSON Schema and a Markdown reference.

Both are built from the pydantic models (``gateway.config`` and each kind's
``settings.py``), so a key added there appears in ``gateway config-schema``,
``docs/config.schema.json`` and ``docs/configuration.md`` (``make docs`` rewrites the two
files; a test fails while they differ from the code).
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AnyHttpUrl, BaseModel, Field, create_model
from pydantic.fields import FieldInfo

from gateway.config import _SOURCE_NAME as SOURCE_NAME
from gateway.config import Settings
from gateway.sources.base import SourceSettings
from gateway.sources.registry import ADAPTERS

SCHEMA_ID = "https://json-schema.org/draft/2020-12/schema"


def config_schema() -> dict[str, Any]:
    """The JSON Schema of the TOML config file: every table and key with its description;
    ``[sources.<name>]`` tables are told apart by ``kind``."""
    kinds: Any = Union.__getitem__(tuple(a.settings for a in ADAPTERS.values()))
    one_source: Any = Annotated[kinds, Field(discriminator="kind")]
    sources_field = Settings.model_fields["sources"]
    model = create_model(
        "GatewayConfig",
        __base__=Settings,
        sources=(
            dict[str, one_source],
            Field(default_factory=dict, description=sources_field.description),
        ),
    )
    schema = model.model_json_schema(mode="validation")
    for adapter in ADAPTERS.values():
        # The loader requires `kind` although the models give it a default.
        definition = schema["$defs"][adapter.settings.__name__]
        definition["required"] = ["kind", *definition.get("required", [])]
    schema["properties"]["sources"]["propertyNames"] = {"pattern": SOURCE_NAME.pattern}
    schema.pop("title", None)
    return {
        "$schema": SCHEMA_ID,
        "title": "Order graph gateway configuration (TOML)",
        "description": "A value written as ${NAME} is read from the environment variable "
        "NAME when the file is loaded (docs/configuration.md).",
        **schema,
    }


def config_schema_text() -> str:
    """``config_schema()`` as the stable JSON text of docs/config.schema.json."""
    return json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"


# --- the Markdown reference ---------------------------------------------------------------


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The settings models inside an annotation (``X``, ``X | None``, ``tuple[X, ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models(arg)]


def type_name(annotation: Any) -> str:
    """A reader's name for a key's type: string, integer, "a" | "b", list of strings..."""
    origin = get_origin(annotation)
    if origin is Literal:
        return " \\| ".join(json.dumps(v) for v in get_args(annotation))
    if origin in (Union, types.UnionType):
        names = [type_name(a) for a in get_args(annotation) if a is not type(None)]
        return " \\| ".join(names)
    if origin is tuple or origin is list:
        inner = get_args(annotation)[0]
        return f"list of {type_name(inner)}s"
    if origin is Annotated:
        return type_name(get_args(annotation)[0])
    simple = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path"}
    if annotation in simple:
        return simple[annotation]
    if annotation is AnyHttpUrl:
        return "URL"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    return str(annotation)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value))


def default_text(info: FieldInfo) -> str:
    """The default as TOML, "required", or "none" (the key is simply left out)."""
    if info.is_required():
        return "**required**"
    default = info.get_default(call_default_factory=True)
    if default is None:
        return "none"
    if isinstance(default, BaseModel):
        return "(table)"
    if default == ():
        return "`[]`"
    return f"`{_toml(default)}`"


def _limits(info: FieldInfo) -> str:
    bounds = []
    for item in info.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(item, attr, None) is not None:
                bounds.append(f"{sign} {getattr(item, attr)}")
        if getattr(item, "pattern", None):
            bounds.append(f"matches `{item.pattern}`")
        if getattr(item, "max_length", None) is not None:
            bounds.append(f"at most {item.max_length} items")
    return f" ({', '.join(bounds)})" if bounds else ""


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _rows(fields: Mapping[str, FieldInfo], skip: frozenset[str] = frozenset()) -> Iterator[str]:
    yield "| key | type | default | meaning |"
    yield "|---|---|---|---|"
    for name, info in fields.items():
        if name in skip or _models(info.annotation):
            continue
        meaning = _escape(info.description or "") + _limits(info)
        yield f"| `{name}` | {type_name(info.annotation)} | {default_text(info)} | {meaning} |"


def _table(path: str, model: type[BaseModel], note: str = "", many: bool = False) -> Iterator[str]:
    yield f"### `[[{path}]]`" if many else f"### `[{path}]`"
    yield ""
    # The model's docstring says what the table is for; the field's description when
    # the model has none.
    if text := (model.__doc__ or "").strip().split("\n\n")[0] or note:
        yield text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")
        yield ""
    yield from _rows(model.model_fields)
    yield ""
    for name, info in model.model_fields.items():
        for sub in _models(info.annotation):
            many = get_origin(info.annotation) is tuple
            yield from _table(f"{path}.{name}", sub, info.description or "", many)


def undescribed() -> list[str]:
    """Keys of the config file whose model gives no description (``table.key``)."""
    missing: list[str] = []

    def walk(model: type[BaseModel], where: str) -> None:
        for name, info in model.model_fields.items():
            if name == "kind" and model is not SourceSettings:
                continue  # a kind's own `kind` is its Literal
            if not info.description:
                missing.append(f"{where}.{name}" if where else name)
            for sub in _models(info.annotation):
                walk(sub, f"{where}.{name}" if where else name)

    walk(Settings, "")
    walk(SourceSettings, "sources.<name>")
    for kind, adapter in ADAPTERS.items():
        walk(adapter.settings, f"sources.<{kind}>")
    return sorted(set(missing))


INTRO = """\
# Configuration reference

<!-- Generated by `make docs` (scripts/gen_docs.py) from the settings models in
gateway/config.py and gateway/sources/*/settings.py. Do not edit by hand. -->

The gateway reads one TOML file, given by `--config FILE` or the environment variable
`GATEWAY_CONFIG`. A value written as `${NAME}` is read from the environment variable `NAME`
when the file is loaded, so secrets stay out of the file; an unset variable stops start-up.
In a number or boolean key write it as a string (`port = "${PORT}"`): the value is
converted after it is read (an editor checking the schema below flags such a line).
An unknown key, a missing required key or a bad value stops start-up with one line naming
the table and key, for example
`gateway: config error: sources.eu-shop.token: environment variable SHOP_TOKEN is not set`.
`gateway check --config FILE` validates a file and calls each source once
([operations.md](operations.md)).

Editors can check and complete the file with its JSON Schema,
[config.schema.json](config.schema.json) (the output of `gateway config-schema`): with
Taplo or VS Code's "Even Better TOML", put `#:schema ./docs/config.schema.json` (a path
relative to the TOML file, or a URL) on the file's first line.

Every table is optional except `[sources.<name>]`: a gateway without sources answers
nothing. "none" as a default means the key is unset unless you write it.
"""


def config_reference() -> str:
    """docs/configuration.md: every table and key, per source kind, with type, default and
    meaning."""
    lines = [INTRO]
    lines.append("## The tables")
    lines.append("")
    for name, info in Settings.model_fields.items():
        if name == "sources":
            continue
        for model in _models(info.annotation):
            lines.extend(_table(name, model, info.description or ""))
    lines.append("## Sources: `[sources.<name>]`")
    lines.append("")
    lines.append(
        "One table per backend instance; the table's key is the source's name (letters, "
        "digits, `_`, `.`, `-`), which answers carry as `source`. Several sources may share "
        "a kind (two shops, three locations). Every source takes the keys below; its `kind` "
        "adds its own (next sections). What each backend needs and how the gateway talks to "
        "it: [backends.md](backends.md)."
    )
    lines.append("")
    lines.append(f"Kinds: {', '.join(f'`{kind}`' for kind in ADAPTERS)}.")
    lines.append("")
    lines.extend(_rows(SourceSettings.model_fields))
    lines.append("")
    base = SourceSettings.model_fields
    for kind, adapter in ADAPTERS.items():
        fields = adapter.settings.model_fields
        own = {
            name: info
            for name, info in fields.items()
            if name != "kind"
            and (name not in base or default_text(info) != default_text(base[name]))
        }
        lines.append(f'### `kind = "{kind}"`')
        lines.append("")
        if own:
            lines.append("Besides the keys every source takes:")
            lines.append("")
            lines.extend(_rows(own))
        else:
            lines.append("Only the keys every source takes.")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
