"""``@defer``: which documents defer, and the payloads each client format wants.

graphql-core 3.3 executes a deferring document incrementally: an initial result, then
subsequent results that announce (``pending``), deliver (``incremental``, by the pending
id) and close (``completed``) each deferred fragment. Clients read two formats:

- graphql-core's own (the incremental-delivery RFC as graphql-js 17 writes it), served
  with ``multipart/mixed``;
- Apollo Client's ``deferSpec=20220824`` (asked for in its Accept header): no ids, each
  incremental item carries its whole ``path`` and ``label``, errors inside the item.

A client that accepts no multipart answer gets one ordinary result with every deferred
part merged in (:func:`merged`): ``@defer`` is a hint a server may ignore, and answering
completely is what a client unaware of it expects.

Errors are formatted by the caller (gateway.error_format's, so every one carries
``extensions.code``), and the request's partial errors (a source missing from a merged
list) go out with the part that was being computed when they were reported: each part
takes those reported since the previous one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    ExperimentalIncrementalExecutionResults,
    GraphQLError,
    InitialIncrementalExecutionResult,
    SubsequentIncrementalExecutionResult,
    visit,
)
from graphql.execution import PendingResult
from graphql.language import BREAK, Visitor

#: The Accept parameter with which Apollo Client asks for its format.
APOLLO_DEFER_SPEC = "deferspec=20220824"

FormatError = Callable[[GraphQLError], dict[str, Any]]
Path = list[str | int]


def may_defer(query: str | None) -> bool:
    """Whether a document's text can hold ``@defer`` at all (a cheap test on every request;
    :func:`defers` decides)."""
    return query is not None and "defer" in query


def defers(document: DocumentNode) -> bool:
    """Whether the document has a ``@defer`` directive anywhere."""

    class Find(Visitor):
        found = False

        def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
            if node.name.value == "defer":
                self.found = True
                return BREAK
            return None

    finder = Find()
    visit(document, finder)
    return finder.found


def wants_apollo_format(accept: str) -> bool:
    """Whether the Accept header asks for Apollo Client's ``deferSpec=20220824`` parts."""
    return APOLLO_DEFER_SPEC in accept.replace(" ", "").replace('"', "").lower()


def accepts_multipart(accept: str) -> bool:
    return "multipart/mixed" in accept.lower()


class Parts:
    """Turns graphql-core's incremental results into one client format's payloads.

    ``drain`` gives the partial errors reported since it was last called; ``extensions``
    the response's extensions (warnings), sent with the part in which they first appear.
    """

    def __init__(
        self,
        *,
        apollo: bool,
        format_error: FormatError,
        drain: Callable[[], list[GraphQLError]],
        extensions: Callable[[], Mapping[str, Any] | None],
    ) -> None:
        self.apollo = apollo
        self._format = format_error
        self._drain = drain
        self._extensions = extensions
        self._sent_extensions: Mapping[str, Any] | None = None
        self._pending: dict[str, PendingResult] = {}

    def initial(self, result: InitialIncrementalExecutionResult) -> dict[str, Any]:
        out: dict[str, Any] = {"data": result.data}
        errors = [*(result.errors or ()), *self._drain()]
        if errors:
            out["errors"] = self._errors(errors)
        self._remember(result.pending)
        if not self.apollo:
            out["pending"] = [p.formatted for p in result.pending]
        out["hasNext"] = result.has_next
        self._add_extensions(out)
        return out

    def subsequent(self, result: SubsequentIncrementalExecutionResult) -> dict[str, Any]:
        self._remember(result.pending or ())
        late = self._drain()
        out = self._apollo(result, late) if self.apollo else self._graphql_core(result, late)
        out["hasNext"] = result.has_next
        self._add_extensions(out)
        return out

    def _graphql_core(
        self, result: SubsequentIncrementalExecutionResult, late: list[GraphQLError]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if result.pending:
            out["pending"] = [p.formatted for p in result.pending]
        items = []
        for item in result.incremental or ():
            formatted: dict[str, Any] = {"id": item.id, "data": getattr(item, "data", None)}
            if item.sub_path:
                formatted["subPath"] = item.sub_path
            if item.errors:
                formatted["errors"] = self._errors(item.errors)
            items.append(formatted)
        if items:
            out["incremental"] = items
        completed = []
        for done in result.completed or ():
            closed: dict[str, Any] = {"id": done.id}
            if done.errors:
                closed["errors"] = self._errors(done.errors)
            completed.append(closed)
        if completed:
            out["completed"] = completed
        if late:
            out["errors"] = self._errors(late)
        return out

    def _apollo(
        self, result: SubsequentIncrementalExecutionResult, late: list[GraphQLError]
    ) -> dict[str, Any]:
        items: list[dict[str, Any]] = []
        for item in result.incremental or ():
            pending = self._pending[item.id]
            entry: dict[str, Any] = {
                "data": getattr(item, "data", None),
                "path": [*pending.path, *(item.sub_path or ())],
            }
            if pending.label is not None:
                entry["label"] = pending.label
            if item.errors:
                entry["errors"] = list(item.errors)
            items.append(entry)
        for done in result.completed or ():
            if done.errors:  # the fragment failed as a whole: its data is null
                pending = self._pending[done.id]
                entry = {"data": None, "path": list(pending.path), "errors": list(done.errors)}
                if pending.label is not None:
                    entry["label"] = pending.label
                items.append(entry)
        for error in late:  # with the item whose fragment the failed field is in
            home = _deepest_prefix(items, list(error.path or ()))
            if home is None:
                items.append({"data": None, "path": [], "errors": [error]})
            else:
                home.setdefault("errors", []).append(error)
        for entry in items:
            if "errors" in entry:
                entry["errors"] = self._errors(entry["errors"])
        return {"incremental": items} if items else {}

    def _remember(self, pending: Iterable[PendingResult]) -> None:
        for p in pending:
            self._pending[p.id] = p

    def _errors(self, errors: Iterable[GraphQLError]) -> list[dict[str, Any]]:
        return [self._format(e) for e in errors]

    def _add_extensions(self, out: dict[str, Any]) -> None:
        now = self._extensions()
        if now and now != self._sent_extensions:
            out["extensions"] = dict(now)
            self._sent_extensions = dict(now)


def _deepest_prefix(items: list[dict[str, Any]], path: Path) -> dict[str, Any] | None:
    best: dict[str, Any] | None = None
    for entry in items:
        where: Path = entry["path"]
        if path[: len(where)] == where and (best is None or len(where) > len(best["path"])):
            best = entry
    return best


async def merged(
    results: ExperimentalIncrementalExecutionResults,
) -> tuple[dict[str, Any] | None, list[GraphQLError]]:
    """Every part applied to the initial data: what the query without ``@defer`` gives
    (deferred fields placed after the others), and every error of every part."""
    initial = results.initial_result
    data = initial.data
    errors = list(initial.errors or ())
    pending = {p.id: p for p in initial.pending}
    async for part in results.subsequent_results:
        pending.update((p.id, p) for p in part.pending or ())
        for item in part.incremental or ():
            errors.extend(item.errors or ())
            found = getattr(item, "data", None)
            target = _at(data, [*pending[item.id].path, *(item.sub_path or ())])
            if isinstance(target, dict) and isinstance(found, dict):
                _merge(target, found)
        for done in part.completed or ():
            errors.extend(done.errors or ())
    return data, errors


def _at(data: Any, path: Path) -> Any:
    for key in path:
        if data is None:
            return None
        data = data[key]
    return data


def _merge(into: dict[str, Any], more: Mapping[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
