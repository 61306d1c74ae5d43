"""An export's query, checked and rewritten to be run page by page.

The document must be one query operation with one top-level field that is a list: a
connection (``orders``: paged through ``first``/``after``) or a plain list field
(``customersByEmail``: one execution). For a connection the document is rewritten so that
``first`` and ``after`` come from variables the exporter sets for each page, and
``pageInfo { hasNextPage endCursor }`` is selected; everything else is the client's own
selection, executed by the same schema as ``/graphql``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    NameNode,
    Node,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    get_operation_ast,
    parse,
    print_ast,
    visit,
)

from gateway.errors import PARSE_FAILED, VALIDATION_FAILED, BadUserInput, GatewayError
from gateway.export.flatten import Kind, Shape, check_lists, shape_of
from gateway.schema.analysis import TooComplex, count_directives
from gateway.schema.incremental import defers
from gateway.schema.preparation import validate_operation

FIRST_VAR = "_exportFirst"
AFTER_VAR = "_exportAfter"


class Refused(GatewayError):
    """A document an export cannot run, with the code /graphql would give it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class ExportPlan:
    """What the exporter runs and how it reads each page's result."""

    query: str  # the rewritten document's text: the same for every page
    document: DocumentNode
    operation_name: str | None
    key: str  # the top-level field's response name
    #: a connection paged through these variables; None: one execution of a list
    first_var: str | None
    after_var: str | None
    after: str | None  # where paging starts
    rows_key: str  # the connection's "nodes" or "edges" (its response name); "" for a list
    node_key: str | None  # edges: the edge's "node" field, whose columns are lifted
    shape: Shape  # one row object's shape (an edge's node lifted into the edge)

    def objects(self, data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The row objects of one page's result data."""
        top = data[self.key]
        items: list[Mapping[str, Any]] = top[self.rows_key] if self.rows_key else top
        if self.node_key is None:
            return items
        return [_lift(edge, self.node_key) for edge in items]

    def next_cursor(self, data: Mapping[str, Any]) -> str | None:
        """The cursor after this page, or None at the end."""
        if self.first_var is None:
            return None
        info = data[self.key]["pageInfo"]
        return str(info["endCursor"]) if info["hasNextPage"] and info["endCursor"] else None


def _lift(edge: Mapping[str, Any], node_key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in edge.items():
        if k == node_key:
            out.update(v or {})
        else:
            out[k] = v
    return out


def plan_export(
    schema: GraphQLSchema,
    text: str,
    operation_name: str | None,
    variables: dict[str, Any],
    *,
    introspection: bool = True,
    max_directives: int | None = None,
) -> ExportPlan:
    """Check ``text`` for an export and rewrite it for paging; ``variables`` gets the
    starting cursor when the client's own variable holds it. Validated as /graphql
    validates (no suggestions with introspection off, directives counted first).
    Raises Refused/BadUserInput/TooComplex."""
    try:
        document = parse(text)
    except GraphQLError as exc:
        raise Refused(PARSE_FAILED, exc.message) from None
    if max_directives is not None:
        directives = count_directives(document)
        if directives > max_directives:
            raise TooComplex("directives", max_directives, directives)
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        raise BadUserInput(
            f"no operation named '{operation_name}'"
            if operation_name
            else "the document has several operations: pass operationName"
        )
    if operation.operation is not OperationType.QUERY:
        raise BadUserInput(
            f"an export runs a query; this document is a {operation.operation.value}"
        )
    problems = validate_operation(schema, document, introspection=introspection)
    if problems:
        raise Refused(VALIDATION_FAILED, "; ".join(p.message for p in problems))
    if defers(document):
        raise BadUserInput("an export writes whole rows: @defer has no place in it")
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    fields = _top_fields(operation.selection_set, fragments)
    keys = list(dict.fromkeys(_key(f) for f in fields))
    if len(keys) != 1:
        raise BadUserInput(
            "an export runs one top-level list field; this query selects " + ", ".join(keys)
        )
    root = schema.query_type
    assert root is not None
    top = shape_of(schema, operation.selection_set, root, fragments).fields[0]
    definition = root.fields.get(fields[0].name.value)  # None: __typename, __schema
    if definition is not None and top.kind is Kind.LIST and top.shape is not None:
        shape = top.shape
        check_lists(shape)
        return ExportPlan(
            print_ast(document), document, operation_name, top.key, None, None, None, "", None,
            shape,
        )  # fmt: skip
    named = _named(definition.type) if definition is not None else None
    if (
        definition is None
        or top.shape is None
        or "after" not in definition.args
        or not isinstance(named, GraphQLObjectType | GraphQLInterfaceType)
        or "pageInfo" not in named.fields
    ):
        raise BadUserInput(
            f"an export runs a list field; '{top.key}' is not a list "
            "(export orders, or another list such as customersByEmail)"
        )
    lists = [f for f in top.shape.fields if f.name in ("nodes", "edges")]
    if len(lists) != 1 or lists[0].shape is None:
        raise BadUserInput(
            f"select the rows of '{top.key}' as nodes {{ ... }} or edges {{ node {{ ... }} }}"
            + (f" (one of them, not {' and '.join(f.key for f in lists)})" if lists else "")
        )
    rows_field = lists[0]
    assert rows_field.shape is not None
    shape, node_key = rows_field.shape, None
    if rows_field.name == "edges":
        shape, node_key = _lifted(rows_field.shape)
    check_lists(shape)
    document, first_var, after_var, after = _rewrite(document, operation, fields, variables)
    return ExportPlan(
        print_ast(document), document, operation_name, top.key, first_var, after_var, after,
        rows_field.key, node_key, shape,
    )  # fmt: skip


def _named(t: Any) -> Any:
    while hasattr(t, "of_type"):
        t = t.of_type
    return t


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias is not None else node.name.value


def _top_fields(
    selection: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> list[FieldNode]:
    out: list[FieldNode] = []
    for sel in selection.selections:
        if isinstance(sel, FieldNode):
            out.append(sel)
        elif isinstance(sel, InlineFragmentNode):
            out.extend(_top_fields(sel.selection_set, fragments))
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments:
            out.extend(_top_fields(fragments[sel.name.value].selection_set, fragments))
    return out


def _lifted(edge: Shape) -> tuple[Shape, str]:
    """An edge's shape with its node's fields in the node's place (columns per node)."""
    lifted = Shape()
    node_key = ""
    for f in edge.fields:
        inner = f.shape.fields if f.name == "node" and f.shape is not None else [f]
        if f.name == "node":
            node_key = f.key
        for g in inner:
            if g.key in lifted.by_key:
                raise BadUserInput(f"the edge's '{g.key}' and the node's '{g.key}' collide")
            lifted.by_key[g.key] = g
            lifted.fields.append(g)
    return lifted, node_key


def _var(name: str, type_name: str) -> VariableDefinitionNode:
    return VariableDefinitionNode(
        variable=VariableNode(name=NameNode(value=name)),
        type=NamedTypeNode(name=NameNode(value=type_name)),
    )


def _rewrite(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    fields: list[FieldNode],
    variables: dict[str, Any],
) -> tuple[DocumentNode, str, str, str | None]:
    """Make ``first`` and ``after`` variables and select pageInfo; returns the variables'
    names and the starting cursor. A client's own variable is reused as it is."""
    declared = {d.variable.name.value for d in operation.variable_definitions or ()}
    for ours in (FIRST_VAR, AFTER_VAR):
        if ours in declared:
            raise BadUserInput(f"the variable name ${ours} is reserved for exports")
    node = fields[0]
    args = {a.name.value: a for a in node.arguments or ()}
    first_var, after_var, after = FIRST_VAR, AFTER_VAR, None
    new_defs: list[VariableDefinitionNode] = []
    given_first = args.get("first")
    if given_first is not None and isinstance(given_first.value, VariableNode):
        first_var = given_first.value.name.value
    else:
        new_defs.append(_var(FIRST_VAR, "Int"))
    given_after = args.get("after")
    if given_after is not None and isinstance(given_after.value, VariableNode):
        after_var = given_after.value.name.value
        start = variables.get(after_var)
        after = start if isinstance(start, str) else None
    else:
        if given_after is not None and isinstance(given_after.value, StringValueNode):
            after = given_after.value.value
        new_defs.append(_var(AFTER_VAR, "String"))
    first_arg = ArgumentNode(name=NameNode(value="first"), value=_ref(first_var))
    after_arg = ArgumentNode(name=NameNode(value="after"), value=_ref(after_var))
    args_kept = [a for a in node.arguments or () if a.name.value not in ("first", "after")]
    page_info = FieldNode(
        name=NameNode(value="pageInfo"),
        arguments=(),
        directives=(),
        selection_set=SelectionSetNode(
            selections=(
                FieldNode(name=NameNode(value="hasNextPage"), arguments=(), directives=()),
                FieldNode(name=NameNode(value="endCursor"), arguments=(), directives=()),
            )
        ),
    )
    targets = {id(f) for f in fields}

    class Rewrite(Visitor):
        # AST nodes are immutable: the visitor builds the changed copies.
        def enter_field(self, field: FieldNode, *_: Any) -> FieldNode | None:
            if id(field) not in targets:
                return None
            assert field.selection_set is not None
            sub = _with(
                field.selection_set,
                selections=(*field.selection_set.selections, page_info),
            )
            # a field selected twice must keep identical arguments: all get the same
            return _with(field, arguments=(*args_kept, first_arg, after_arg), selection_set=sub)

        def leave_operation_definition(
            self, op: OperationDefinitionNode, *_: Any
        ) -> OperationDefinitionNode:
            defs = (*(op.variable_definitions or ()), *new_defs)
            return _with(op, variable_definitions=defs)

    rewritten = visit(document, Rewrite())
    return rewritten, first_var, after_var, after


N = TypeVar("N", bound=Node)


def _with(node: N, **changes: Any) -> N:
    """A copy of an immutable AST node with some attributes changed."""
    return type(node)(**{**{k: getattr(node, k) for k in node.keys}, **changes})


def _ref(name: str) -> VariableNode:
    return VariableNode(name=NameNode(value=name))
