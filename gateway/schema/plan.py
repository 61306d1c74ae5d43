"""What graphql-core works out again for every request of a document, kept with it.

For each object type a document selects, graphql-core collects the selected fields
(following fragments and @skip/@include) and then, for every field of every object,
finds its definition and resolver, builds a resolve info, calls the resolver and
completes the value through a chain of type checks. Most fields of this schema read an
attribute (Strawberry's "basic" fields) and return a scalar or a plain object.

A :class:`DocumentPlan` keeps, per document, the collected fields of each object type and
a :class:`Step` per selected field saying how it is read: a leaf attribute, a plain
object attribute, ``__typename``, or through graphql-core's own ``execute_field``. The
executor (gateway.schema.executor) reads plain fields straight from the step and hands
every other field, and every unusual value (an exception, a null for a non-null field, a
value the scalar refuses), to graphql-core, so errors and nulls are graphql-core's own.
tests/test_plan.py checks that answers are the same as graphql-core's over generated
queries.

A document whose @skip/@include read variables (or whose fragments take arguments) is
collected per request as graphql-core does: its collected fields depend on the values.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from enum import Enum
from typing import Any, NamedTuple

from graphql import (
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    VariableNode,
    Visitor,
    visit,
)
from graphql.execution.collect_fields import CollectedFields, FieldDetailsList, GroupedFieldSet
from graphql.type import GraphQLBoolean, GraphQLFloat, GraphQLID, GraphQLInt, GraphQLString

from gateway.compat.private import is_default_resolver


class Kind(Enum):
    LEAF = 1  #: an attribute holding a scalar or enum value
    OBJECT = 2  #: an attribute holding an object of a type with no is_type_of check
    TYPENAME = 3  #: ``__typename``
    EXECUTE = 4  #: anything else: graphql-core's execute_field


class Step(NamedTuple):
    """How one selected field (one response key) of an object type is read."""

    name: str  #: the response key
    details: FieldDetailsList
    kind: Kind
    attr: str  #: the Python attribute (LEAF, OBJECT)
    nullable: bool
    #: LEAF: the scalar's or enum's ``coerce_output_value``
    coerce: Callable[[Any], Any] | None
    #: OBJECT: its type; the field definition's return type for errors
    object_type: GraphQLObjectType | None
    field: GraphQLField | None
    #: LEAF: whether ``coerce`` refuses anything but a plain value (graphql-core's own
    #: scalars, enums): then an awaitable cannot pass as a value, and need not be looked for
    strict: bool = False


def steps_for(
    schema: GraphQLSchema, parent_type: GraphQLObjectType, fields: GroupedFieldSet
) -> list[Step]:
    """A step per response key of ``fields`` (selected on ``parent_type``), in order."""
    return [_step(schema, parent_type, name, details) for name, details in fields.items()]


def _step(
    schema: GraphQLSchema, parent_type: GraphQLObjectType, name: str, details: FieldDetailsList
) -> Step:
    node = details[0].node
    field_name = node.name.value
    execute = Step(name, details, Kind.EXECUTE, "", True, None, None, None)
    if any(d.fragment_variable_values is not None for d in details):
        return execute
    if field_name == "__typename":
        return Step(name, details, Kind.TYPENAME, "", False, None, None, None)
    field = schema.get_field(parent_type, field_name)
    if field is None or field.args or node.arguments:
        return execute
    attr = _plain_attribute(field)
    if attr is None:
        return execute
    kind = field.type
    nullable = not isinstance(kind, GraphQLNonNull)
    inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
        coerce = inner.coerce_output_value
        strict = isinstance(inner, GraphQLEnumType) or any(inner is t for t in _STRICT)
        return Step(name, details, Kind.LEAF, attr, nullable, coerce, None, field, strict)
    if isinstance(inner, GraphQLObjectType) and inner.is_type_of is None:
        return Step(name, details, Kind.OBJECT, attr, nullable, None, inner, field)
    return execute


#: graphql-core's own scalars: their coerce_output_value refuses anything but plain values
_STRICT = (GraphQLString, GraphQLInt, GraphQLFloat, GraphQLBoolean, GraphQLID)


def _plain_attribute(field: GraphQLField) -> str | None:
    """The attribute a Strawberry "basic" field reads with ``getattr`` (no resolver, no
    extension, no permission), or None for any other field."""
    if not is_default_resolver(field.resolve):
        return None
    definition = (field.extensions or {}).get("strawberry-definition")
    if definition is None or not getattr(definition, "is_basic_field", False):
        return None
    if getattr(definition, "default_resolver", None) is not getattr:
        return None
    name = getattr(definition, "python_name", None)
    return name if isinstance(name, str) else None


class DocumentPlan:
    """One operation's collected fields and steps, kept across its requests.

    Holds the operation and fragment nodes: the keys are the ids of field nodes in them,
    which cannot be reused while they live."""

    __slots__ = ("by_list", "fits", "fragments", "kept", "operation", "steps", "subfields")

    def __init__(
        self, operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
    ) -> None:
        self.operation = operation
        self.fragments = fragments
        #: (object type name, ids of the parent's field nodes) -> collected subfields
        self.subfields: dict[tuple[str, tuple[int, ...]], CollectedFields] = {}
        #: (object type name, id of a kept grouped field set) -> its steps
        self.steps: dict[tuple[str, int], list[Step]] = {}
        #: ids of the field lists in kept grouped field sets (alive as long as this plan)
        self.kept: set[int] = set()
        #: (object type name, id of a kept field list) -> its collected subfields: the
        #: same answer as ``subfields`` without making the key of node ids each time
        self.by_list: dict[tuple[str, int], CollectedFields] = {}
        #: whether a customer summary answers a selection (gateway.schema.types._fits),
        #: by the selection's field node ids: the same for every request of the document
        self.fits: dict[tuple[tuple[int, ...], frozenset[str]], bool] = {}

    def collected(
        self,
        schema: GraphQLSchema,
        return_type: GraphQLObjectType,
        details: FieldDetailsList,
        collect: Callable[[], CollectedFields],
    ) -> CollectedFields:
        quick = (return_type.name, id(details))
        found = self.by_list.get(quick)
        if found is not None:
            return found
        key = (return_type.name, tuple(id(d.node) for d in details))
        found = self.subfields.get(key)
        if found is None:
            found = self.subfields[key] = collect()
            fields = found.grouped_field_set
            self.steps[(return_type.name, id(fields))] = steps_for(schema, return_type, fields)
            self.kept.update(id(listed) for listed in fields.values())
        if id(details) in self.kept:
            self.by_list[quick] = found
        return found


class PlanCache:
    """Plans of the operations executed lately (bounded like the parse cache)."""

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        #: id(operation) -> (the operation, kept alive so that its id is not reused;
        #: its plan, or None where its fields depend on variable values)
        self._plans: OrderedDict[int, tuple[OperationDefinitionNode, DocumentPlan | None]]
        self._plans = OrderedDict()

    def plan(
        self, operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
    ) -> DocumentPlan | None:
        """The operation's plan; None where its fields depend on variable values."""
        key = id(operation)
        kept = self._plans.get(key)
        if kept is not None and kept[0] is operation:
            self._plans.move_to_end(key)
            return kept[1]
        found = DocumentPlan(operation, fragments) if _static(operation, fragments) else None
        self._plans[key] = (operation, found)
        if len(self._plans) > self.maxsize:
            self._plans.popitem(last=False)
        return found


def _static(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> bool:
    """Whether the fields collected for ``operation`` are the same whatever its variables
    (no @skip/@include reads a variable, no fragment spread passes arguments)."""
    finder = _VariableDirectives()
    for node in (operation, *fragments.values()):
        visit(node, finder)
        if finder.found:
            return False
    return True


class _VariableDirectives(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_directive(self, node: Any, *_: Any) -> Any:
        if node.name.value in ("skip", "include") and any(
            isinstance(arg.value, VariableNode) for arg in node.arguments or ()
        ):
            self.found = True
            return Visitor.BREAK
        return None

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> Any:
        if getattr(node, "arguments", None):
            self.found = True
            return Visitor.BREAK
        return None
