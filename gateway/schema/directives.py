"""The schema's directives as the released GraphQL spec declares them.

graphql-core 3.3 follows a draft of the spec: its ``@deprecated`` may also stand on
directive definitions (``DIRECTIVE_DEFINITION``). Clients built on the released spec
refuse a schema whose introspection names a location they do not know: graphql-core 3.2
(under Python's gql) rejects the whole schema. The gateway deprecates no directive, so
the draft's extra locations are dropped from every directive it declares; what the
directives do and where a client may write them is otherwise unchanged. Its
``__DirectiveLocation`` enum likewise lists the released spec's locations only (the
draft adds ``FRAGMENT_VARIABLE_DEFINITION`` and ``DIRECTIVE_DEFINITION``), so a strict
client or a schema diff sees the enum the released spec defines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from graphql import (
    DirectiveLocation,
    GraphQLDirective,
    GraphQLEnumType,
    GraphQLNamedType,
    GraphQLSchema,
)

#: ``DirectiveLocations`` of the released spec (October 2021 edition, §3.13): the
#: locations graphql-core 3.2 and graphql-js 16 know. Written out rather than derived
#: from graphql-core, so a location a later release adds is not taken in unseen.
RELEASED_LOCATIONS: frozenset[DirectiveLocation] = frozenset(
    DirectiveLocation[name]
    for name in (
        "QUERY",
        "MUTATION",
        "SUBSCRIPTION",
        "FIELD",
        "FRAGMENT_DEFINITION",
        "FRAGMENT_SPREAD",
        "INLINE_FRAGMENT",
        "VARIABLE_DEFINITION",
        "SCHEMA",
        "SCALAR",
        "OBJECT",
        "FIELD_DEFINITION",
        "ARGUMENT_DEFINITION",
        "INTERFACE",
        "UNION",
        "ENUM",
        "ENUM_VALUE",
        "INPUT_OBJECT",
        "INPUT_FIELD_DEFINITION",
    )
)


def released(directive: GraphQLDirective) -> GraphQLDirective:
    """The directive itself, or a copy without the locations the released spec lacks."""
    kept = tuple(loc for loc in directive.locations if loc in RELEASED_LOCATIONS)
    if len(kept) == len(directive.locations):
        return directive
    kwargs = directive.to_kwargs()
    kwargs["locations"] = kept
    return GraphQLDirective(**kwargs)


def released_directives(directives: Iterable[GraphQLDirective]) -> tuple[GraphQLDirective, ...]:
    return tuple(released(d) for d in directives)


class _ReleasedLocations(GraphQLEnumType):
    """``__DirectiveLocation`` with the released spec's values. graphql-core refuses to
    define a type under an introspection type's name (it keeps one shared instance per
    process); this copy is made on purpose and used by one schema only."""

    reserved_types: Mapping[str, GraphQLNamedType] = {}


def use_released_locations(schema: GraphQLSchema) -> None:
    """Introspection of ``schema`` lists only ``RELEASED_LOCATIONS`` as the values of
    ``__DirectiveLocation``. The shared enum stays as it is (other schemas in the process,
    and the serialization of ``__Directive.locations``, which only ever holds released
    locations here, keep using it): ``__schema { types }`` and ``__type(name:)`` read
    the schema's type map, where the copy stands."""
    name = "__DirectiveLocation"
    shared = schema.type_map.get(name)
    if not isinstance(shared, GraphQLEnumType):
        return
    kwargs: dict[str, Any] = dict(shared.to_kwargs())
    kwargs["values"] = {
        key: value for key, value in shared.values.items() if value.value in RELEASED_LOCATIONS
    }
    schema.type_map[name] = _ReleasedLocations(**kwargs)
