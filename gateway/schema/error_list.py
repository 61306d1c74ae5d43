"""Validation errors as a client reads them: one per distinct message, in a bounded list.

graphql-core reports a mistake once for every place it occurs, so
``__typename @aa@aa@aa@aa@aa@aa@aa@aa@aa@aa`` answered ten identical "Unknown directive
'@aa'." errors: a document can repeat one mistake as often as its size allows (graphql-core
stops at 100 errors), each costing response bytes, and a scanner reads an error count
that follows the directives sent as "directive overloading" (graphql-cop's Directive
Overloading test, github.com/dolevf/graphql-cop). Errors with the same message become one
error listing every location (the GraphQL spec, "Response Format" > "Errors": an error's
``locations`` is a list); past ``MAX_DISTINCT`` distinct errors, one more says how many
were left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from graphql import GraphQLError, Node, SourceLocation

#: The distinct errors a response lists before one error says how many more there were.
MAX_DISTINCT = 20


def merged_errors(errors: Sequence[GraphQLError], limit: int = MAX_DISTINCT) -> list[GraphQLError]:
    """``errors`` with each message once (first appearance first), at most ``limit`` of
    them and, beyond, one error counting the rest."""
    groups: dict[str, list[GraphQLError]] = {}
    for error in errors:
        groups.setdefault(error.message, []).append(error)
    if len(groups) == len(errors) and len(errors) <= limit:
        return list(errors)
    out = [_one(group) for group in groups.values()]
    if len(out) <= limit:
        return out
    # graphql-core's own "stopped here" error: the count below says "at least" instead
    aborted = [e for e in out if e.message == _ABORTED]
    out = [e for e in out if e.message != _ABORTED]
    left = len(out) - limit
    if left <= 0:
        return out + aborted
    many = f"at least {left}" if aborted else str(left)
    plural = "s" if left != 1 else ""
    return [
        *out[:limit],
        GraphQLError(
            f"{many} more validation error{plural} not listed: a response lists at most {limit}"
        ),
    ]


#: What graphql-core's ``validate`` adds when it stops at its ``max_errors`` (100).
_ABORTED = "Too many validation errors, error limit reached. Validation aborted."


def _one(group: list[GraphQLError]) -> GraphQLError:
    """The group's first error, listing every node and location of the group's errors."""
    first = group[0]
    if len(group) == 1:
        return first
    nodes: list[Node] = []
    locations: list[SourceLocation] = []
    for error in group:
        nodes += [n for n in error.nodes or () if not any(n is m for m in nodes)]
        locations += [loc for loc in error.locations or () if loc not in locations]
    one = GraphQLError(
        first.message,
        nodes=nodes or None,
        source=first.source,
        path=first.path,
        original_error=first.original_error,
        extensions=first.extensions or None,
    )
    one.locations = locations or None
    return one
