"""A selection laid out as columns and rows. Pure: no I/O, no schema execution.

A *shape* is a selection set resolved against the schema: its fields in selection order,
merged by response name (fragments inlined), each one a leaf (a column), an object (its
columns dotted under its response name: ``price.total.amount``) or a list of objects
(exploded: one row per element with the parent's columns repeated; no element, one row
with the list's columns empty). A row has room for one list at each level, so two lists
reachable from one object without crossing a list (siblings, or cousins through objects)
are refused; a list inside the exploded list (``lineItems { licenses { key } }``) is fine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    SelectionSetNode,
)

from gateway.errors import BadUserInput


class Kind(Enum):
    LEAF = "leaf"  # a scalar, an enum, or a list of them (one cell, as JSON text)
    OBJECT = "object"
    LIST = "list"  # a list of objects: exploded into rows


@dataclass
class Field:
    key: str  # the response name: the alias, else the field's name
    name: str  # the schema's name of the field
    kind: Kind
    shape: Shape | None = None


@dataclass
class Shape:
    fields: list[Field] = field(default_factory=list)
    #: the fields by response name, to merge a name selected twice
    by_key: dict[str, Field] = field(default_factory=dict, repr=False)

    @property
    def width(self) -> int:
        """How many columns this shape fills."""
        return sum(1 if f.shape is None else f.shape.width for f in self.fields)

    def columns(self, prefix: str = "") -> list[str]:
        """Dotted column names in selection order."""
        out: list[str] = []
        for f in self.fields:
            name = prefix + f.key
            out.extend([name] if f.shape is None else f.shape.columns(name + "."))
        return out


def _unwrap(t: GraphQLOutputType) -> tuple[GraphQLNamedType, bool]:
    """The named type under non-null and list wrappers, and whether a list was among them."""
    is_list = False
    while isinstance(t, GraphQLNonNull | GraphQLList):
        is_list = is_list or isinstance(t, GraphQLList)
        t = t.of_type
    return t, is_list


def shape_of(
    schema: GraphQLSchema,
    selection: SelectionSetNode,
    parent: GraphQLNamedType,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> Shape:
    """The shape of ``selection`` on ``parent`` (a valid document: names are known)."""
    shape = Shape()
    _collect(schema, selection, parent, fragments, shape, frozenset())
    return shape


def _collect(
    schema: GraphQLSchema,
    selection: SelectionSetNode,
    parent: GraphQLNamedType,
    fragments: Mapping[str, FragmentDefinitionNode],
    shape: Shape,
    seen: frozenset[str],
) -> None:
    for sel in selection.selections:
        if isinstance(sel, InlineFragmentNode):
            cond = sel.type_condition
            inner = schema.get_type(cond.name.value) if cond is not None else parent
            _collect(schema, sel.selection_set, inner or parent, fragments, shape, seen)
        elif isinstance(sel, FragmentSpreadNode):
            frag = fragments.get(sel.name.value)
            if frag is not None and sel.name.value not in seen:
                inner = schema.get_type(frag.type_condition.name.value) or parent
                names = seen | {sel.name.value}
                _collect(schema, frag.selection_set, inner, fragments, shape, names)
        elif isinstance(sel, FieldNode):
            _add_field(schema, sel, parent, fragments, shape)


def _add_field(
    schema: GraphQLSchema,
    node: FieldNode,
    parent: GraphQLNamedType,
    fragments: Mapping[str, FragmentDefinitionNode],
    shape: Shape,
) -> None:
    key = node.alias.value if node.alias is not None else node.name.value
    name = node.name.value
    child: GraphQLNamedType | None = None
    is_list = False
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) and name in parent.fields:
        child, is_list = _unwrap(parent.fields[name].type)  # else __typename, __schema
    composite = isinstance(child, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType)
    found = shape.by_key.get(key)
    if found is None:
        if node.selection_set is None or not composite:
            found = Field(key, name, Kind.LEAF)
        else:
            found = Field(key, name, Kind.LIST if is_list else Kind.OBJECT, Shape())
        shape.by_key[key] = found
        shape.fields.append(found)
    if found.shape is not None and node.selection_set is not None and child is not None:
        _collect(schema, node.selection_set, child, fragments, found.shape, frozenset())


def check_lists(shape: Shape, prefix: str = "") -> None:
    """Refuse two lists that would each explode the same row (BAD_USER_INPUT names them)."""
    lists = _lists(shape, prefix)
    if len(lists) > 1:
        raise BadUserInput(
            "an export explodes one list of objects per row, but "
            + " and ".join(path for path, _ in lists)
            + " are selected side by side: export them separately"
        )
    for path, inner in lists:
        check_lists(inner, path + ".")


def _lists(shape: Shape, prefix: str) -> list[tuple[str, Shape]]:
    """The lists of objects reachable from ``shape`` without crossing a list."""
    out: list[tuple[str, Shape]] = []
    for f in shape.fields:
        if f.shape is None:
            continue
        path = prefix + f.key
        if f.kind is Kind.LIST:
            out.append((path, f.shape))
        else:
            out.extend(_lists(f.shape, path + "."))
    return out


Row = list[Any]


def rows(shape: Shape, value: Mapping[str, Any] | None) -> list[Row]:
    """The rows of one object (a result's JSON-ready dict) in ``shape``'s column order.

    Leaves are kept as the result holds them (strings, numbers, booleans, None, and dicts
    or lists for JSON and lists of scalars); writers turn them into text.
    """
    out: list[Row] = [[]]
    for f in shape.fields:
        item = None if value is None else value.get(f.key)
        if f.shape is None:
            for row in out:
                row.append(item)
            continue
        if f.kind is Kind.OBJECT:
            parts = rows(f.shape, item)
        else:
            parts = [p for element in item or () for p in rows(f.shape, element)]
            if not parts:
                parts = [[None] * f.shape.width]
        if len(parts) == 1:
            for row in out:
                row.extend(parts[0])
        else:  # at most one field per shape gets here (check_lists)
            out = [row + part for row in out for part in parts]
    return out
