"""Personal data, declared once: the :func:`personal` marker on a schema field.

Everything else follows from the marker, so marking a field is the one change that makes
it personal:

- its description ends with :data:`SUFFIX` (what schema.graphql and GraphiQL show);
- the query analysis finds it (:func:`fields_of`, derived once per schema by
  :func:`declare`) and asks for the pii:read scope when a query selects it (docs/errors.md,
  FORBIDDEN; an export refuses it instead, docs/bi.md);
- :func:`hide` nulls it in an object built for a request without that scope.

tests/test_personal_data.py holds the four together.
"""

from __future__ import annotations

from typing import Any, TypeVar

import strawberry
from graphql import GraphQLSchema
from strawberry.types.base import StrawberryObjectDefinition, get_object_definition

#: The end of every personal field's description.
SUFFIX = " Personal data: null without the pii:read scope."
#: The marker in a Strawberry field's metadata, and where the derived set lives in the
#: graphql-core schema's ``extensions`` (graphql-core keeps those for its users).
_KEY = "gateway.personal"

T = TypeVar("T")


def personal(*, description: str) -> Any:
    """A field holding personal data: null without the pii:read scope."""
    return strawberry.field(description=description + SUFFIX, metadata={_KEY: True})


def declare(schema: strawberry.Schema, core: GraphQLSchema) -> frozenset[tuple[str, str]]:
    """Finds the personal fields of a built schema, ``(type, field)`` by their GraphQL
    names, and keeps them with ``core`` (its graphql-core schema) for :func:`fields_of`."""
    names = schema.config.name_converter
    found = frozenset(
        (type_name, names.get_graphql_name(field))
        for type_name in core.type_map
        if isinstance(definition := schema.get_type_by_name(type_name), StrawberryObjectDefinition)
        for field in definition.fields
        if field.metadata.get(_KEY)
    )
    core.extensions[_KEY] = found
    return found


def fields_of(core: GraphQLSchema) -> frozenset[tuple[str, str]]:
    """The personal fields :func:`declare` found in this schema. A schema it never saw
    fails here rather than be taken to hold no personal data."""
    found: frozenset[tuple[str, str]] = core.extensions[_KEY]
    return found


def _python_names(cls: type) -> tuple[str, ...]:
    definition = get_object_definition(cls, strict=True)
    return tuple(f.python_name for f in definition.fields if f.metadata.get(_KEY))


#: Each type's personal attributes, derived on its first :func:`hide` (not per object).
_NAMES: dict[type, tuple[str, ...]] = {}


def hide(obj: T) -> T:
    """``obj`` (a schema object built for this request) with its personal fields null."""
    cls = type(obj)
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = _python_names(cls)
    for name in names:
        setattr(obj, name, None)
    return obj
