"""Before any resolver runs: scopes, depth, aliases and the estimated backend cost.

Checked right after validation (so the document is known valid) and before execution
(by ``gateway.schema.preparation``); a query over a limit never reaches a backend.
Directives are counted before validation (``count_directives``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    Node,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from strawberry.types import ExecutionContext

from gateway.compat.private import core_schema
from gateway.config import LimitSettings
from gateway.context import RequestContext
from gateway.domain import OrderQuery
from gateway.errors import QUERY_TOO_COMPLEX, Forbidden, GatewayError
from gateway.schema.personal import fields_of as personal_fields
from gateway.security import ORDERS_READ, PII_READ, RAW_READ

RAW_FIELDS = frozenset({("Order", "raw")})
#: Lists of objects embedded in their parent: how many items the estimate assumes.
EMBEDDED_FANOUT = 10
_EMBEDDED_LISTS = frozenset(
    {
        ("Order", "lineItems"),
        ("Order", "licenses"),
        ("LineItem", "licenses"),
        ("License", "features"),
        ("License", "users"),
    }
)
_SINGLE_FETCH = frozenset({"order", "orderBySourceId", "node", "customer"})


class TooComplex(GatewayError):
    code = QUERY_TOO_COMPLEX

    def __init__(self, limit: str, maximum: int, figure: float) -> None:
        shown = int(figure) if figure == int(figure) else round(figure, 1)
        super().__init__(f"query {limit} is {shown}, over the limit of {maximum}")
        self.limit, self.maximum, self.figure = limit, maximum, shown

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "limit": self.limit, "max": self.maximum, "actual": self.figure}


@dataclass
class Analysis:
    depth: int = 0
    aliases: int = 0
    cost: float = 0.0
    pii: set[str] = field(default_factory=set)
    raw: bool = False


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        streams: int,
        sources: int,
    ) -> None:
        self.schema, self.fragments, self.variables = schema, fragments, variables
        #: fields that hold personal data (docs/errors.md, FORBIDDEN): null without pii:read
        self.personal = personal_fields(schema)
        self.streams, self.sources = streams, sources
        self.result = Analysis()
        #: inside Customer.orders, an order's customer is that (already loaded) customer
        self._in_customer_orders = 0

    def _first(self, node: FieldNode, default: int) -> int:
        for arg in node.arguments or ():
            if arg.name.value == "first":
                value: Any = arg.value
                if isinstance(value, IntValueNode):
                    return max(0, int(value.value))
                if isinstance(value, VariableNode):
                    given = self.variables.get(value.name.value)
                    return max(0, given) if isinstance(given, int) else default
        return default

    def _representations(self, node: FieldNode) -> int:
        """How many entities ``_entities`` (federation) is asked for."""
        for arg in node.arguments or ():
            if arg.name.value == "representations":
                value: Any = arg.value
                if isinstance(value, ListValueNode):
                    return len(value.values)
                if isinstance(value, VariableNode):
                    given = self.variables.get(value.name.value)
                    return len(given) if isinstance(given, list) else 1
        return 1

    def cost(
        self,
        selection: SelectionSetNode,
        parent: GraphQLNamedType,
        depth: int,
        seen: frozenset[str] = frozenset(),
    ) -> float:
        """Backend requests one object of type ``parent`` costs with this selection."""
        total = 0.0
        # edges and nodes share one fetch; a federation entity is one of its types
        combine_max = parent.name in ("OrderConnection", "_Entity")
        for sel in selection.selections:
            part = 0.0
            if isinstance(sel, FieldNode):
                part = self._field(sel, parent, depth)
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition
                inner = self.schema.get_type(cond.name.value) if cond else parent
                part = self.cost(sel.selection_set, inner or parent, depth, seen)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                frag = self.fragments.get(name)
                if frag is None or name in seen:
                    continue
                inner = self.schema.get_type(frag.type_condition.name.value) or parent
                part = self.cost(frag.selection_set, inner, depth, seen | {name})
            total = max(total, part) if combine_max else total + part
        return total

    def _aliases(self, selection: SelectionSetNode, seen: frozenset[str]) -> None:
        """Count the aliases inside an introspection field, which costs no backend."""
        for sel in selection.selections:
            if isinstance(sel, FieldNode):
                self.result.aliases += sel.alias is not None
                if sel.selection_set is not None:
                    self._aliases(sel.selection_set, seen)
            elif isinstance(sel, InlineFragmentNode):
                self._aliases(sel.selection_set, seen)
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value not in seen:
                frag = self.fragments.get(sel.name.value)
                if frag is not None:
                    self._aliases(frag.selection_set, seen | {sel.name.value})

    def _field(self, node: FieldNode, parent: GraphQLNamedType, depth: int) -> float:
        name = node.name.value
        if node.alias is not None:
            self.result.aliases += 1  # every alias, ``__typename``'s too: each is answered
        if name.startswith("__"):
            # introspection and __typename: no backend, no nesting budget
            if node.selection_set is not None:
                self._aliases(node.selection_set, frozenset())
            return 0.0
        self.result.depth = max(self.result.depth, depth)
        if (parent.name, name) in self.personal:
            self.result.pii.add(f"{parent.name}.{name}")
        if (parent.name, name) in RAW_FIELDS:
            self.result.raw = True
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0.0
        definition = parent.fields.get(name)
        if definition is None:
            return 0.0
        child = get_named_type(definition.type)
        key = (parent.name, name)
        inside = key == ("Customer", "orders")
        self._in_customer_orders += inside
        sub = self.cost(node.selection_set, child, depth + 1) if node.selection_set else 0.0
        self._in_customer_orders -= inside
        if key == ("Query", "orders"):
            return self.streams + self._first(node, 50) * sub
        if key == ("Customer", "orders"):
            return 1 + self._first(node, 50) * sub
        if key == ("Query", "customersByEmail"):
            return self.sources * (1 + sub)
        if key == ("Order", "customer"):
            return sub if self._in_customer_orders else 1 + sub
        if key == ("Query", "_entities"):  # each one is fetched like Query.node
            return self._representations(node) * (1 + sub)
        if parent.name == "Query" and name in _SINGLE_FETCH:
            return 1 + sub
        if key in _EMBEDDED_LISTS:
            return EMBEDDED_FANOUT * sub
        return sub


def count_directives(document: DocumentNode) -> int:
    """Every directive written anywhere in a document, known or not (before validation:
    nothing is assumed of the document's shape but the AST's)."""
    count = 0
    stack: list[Node] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, DirectiveNode):
            count += 1  # its arguments are values: no directive inside
            continue
        for value in vars(node).values():
            if isinstance(value, Node):
                stack.append(value)
            elif isinstance(value, tuple | list):
                stack.extend(v for v in value if isinstance(v, Node))
    return count


def analyse(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any],
    *,
    streams: int,
    sources: int,
) -> Analysis:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = next(
        (o for o in operations if o.name and o.name.value == operation_name),
        operations[0] if operations else None,
    )
    walker = _Walker(schema, fragments, variables, streams, sources)
    root = schema.query_type
    if operation is not None and operation.operation is OperationType.SUBSCRIPTION:
        root = schema.subscription_type  # each event is resolved like a query's answer
    if operation is not None and root is not None:
        walker.result.cost = walker.cost(operation.selection_set, root, 1)
    return walker.result


#: What an analysis depends on: query text, operation name, the integer variables and
#: the lengths of list variables (the only values it reads) and the sources the
#: credential sees (by name: a source's streams are fixed by its configuration, which
#: lives as long as the cache).
AnalysisKey = tuple[str, str | None, tuple[tuple[str, int], ...], tuple[str, ...]]


class AnalysisCache:
    """Analyses of valid documents, like Strawberry's ParserCache for parses: clients send
    the same few queries. Bounded: emptied when full."""

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._items: dict[AnalysisKey, Analysis] = {}

    def get(self, key: AnalysisKey) -> Analysis | None:
        return self._items.get(key)

    def put(self, key: AnalysisKey, analysis: Analysis) -> None:
        if len(self._items) >= self.maxsize:
            self._items.clear()
        self._items[key] = analysis


def check(
    ec: ExecutionContext,
    ctx: RequestContext,
    limits: LimitSettings,
    cache: AnalysisCache | None,
) -> GatewayError | None:
    """Scopes and limits for a valid operation: the error that refuses it, or None. A
    credential without pii:read or raw:read gets those fields nulled (and told so)."""
    assert ec.graphql_document is not None
    if not ctx.principal.can(ORDERS_READ):
        return Forbidden("this credential lacks the orders:read scope")
    variables = ec.variables or {}
    key: AnalysisKey | None = None
    found: Analysis | None = None
    if cache is not None and ec.query is not None:
        ints = tuple(
            sorted(
                (k, v if isinstance(v, int) else len(v))
                for k, v in variables.items()
                if isinstance(v, int | list)
            )
        )
        key = (ec.query, ec.operation_name, ints, tuple(ctx.sources))
        found = cache.get(key)
    if found is None:
        found = analyse(
            core_schema(ec.schema),
            ec.graphql_document,
            ec.operation_name,
            variables,
            streams=sum(len(s.streams(OrderQuery())) for s in ctx.sources.values()),
            sources=len(ctx.sources),
        )
        if key is not None and cache is not None:
            cache.put(key, found)
    for limit, maximum, figure in (
        ("depth", limits.max_depth, found.depth),
        ("aliases", limits.max_aliases, found.aliases),
        ("cost", limits.max_cost, found.cost),
    ):
        if figure > maximum:
            return TooComplex(limit, maximum, figure)
    if found.pii and not ctx.principal.can(PII_READ):
        ctx.visibility = ctx.visibility.without_pii()
        ctx.report(
            Forbidden(
                "personal data fields are null: this credential lacks the "
                f"pii:read scope ({', '.join(sorted(found.pii))})"
            ),
            [],
        )
    if found.raw and not ctx.principal.can(RAW_READ):
        ctx.visibility = ctx.visibility.without_raw()
        ctx.report(Forbidden("raw is null: this credential lacks the raw:read scope"), [])
    return None
