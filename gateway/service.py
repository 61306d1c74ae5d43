"""The one GraphQL service: from a caller and a document to the answer's bytes.

Who is calling (credential and quota), the document's token limit (before it is
parsed), persisted documents, the request's context, execution (the schema's
:class:`~gateway.schema.preparation.Preparation` parses, validates and checks
directives, depth, cost and scopes with its caches; ``@defer`` runs incrementally),
then errors formatted with their ``extensions.code`` and the body encoded by the one
encoder. ``/graphql`` (gateway.view: HTTP, GraphiQL, ``@defer``'s multipart and the
subscriptions' transports), ``/export`` (gateway.export.route) and the subscriptions
(gateway.schema.live) are adapters over it; none of them imports another.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from functools import lru_cache
from typing import Any

from graphql import ExperimentalIncrementalExecutionResults, GraphQLError, GraphQLSchema
from graphql.language import Lexer, Source, TokenKind
from starlette.requests import HTTPConnection
from strawberry import Schema
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from gateway import errors
from gateway.cache.store import Store
from gateway.compat.private import core_schema
from gateway.config import LimitSettings, PerformanceSettings, SecuritySettings
from gateway.context import RequestContext
from gateway.encoding import dumps
from gateway.error_format import format_error
from gateway.listing import CursorCodec
from gateway.loaders import Loaders
from gateway.persisted import MARK, PersistedQueries, Resolved, document_accepted
from gateway.quota.clients import ClientQuotas
from gateway.resilience.budget import BULK
from gateway.schema.analysis import TooComplex
from gateway.schema.incremental import Parts, merged
from gateway.security import Authenticator, Principal, Unauthenticated
from gateway.sources.base import Source as DataSource
from gateway.telemetry import requestid
from gateway.telemetry.middleware import note_outcome

__all__ = ["NOBODY", "GraphQLService", "RequestRejected", "count_tokens"]

#: The principal of a request that was never authenticated (the GraphiQL page).
NOBODY = Principal("nobody", frozenset())

#: What a response's extensions carry: the request's warnings (STALE), when any.
Warnings = list[dict[str, Any]] | None


class RequestRejected(Exception):
    """A request refused before GraphQL runs (credential, size, tokens)."""

    def __init__(
        self,
        error: errors.GatewayError,
        status: int | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error.message)
        #: None: the status of a GraphQL request error (200 as JSON, 400 as graphql-response)
        self.error, self.status, self.headers = error, status, headers


@lru_cache(maxsize=256)
def count_tokens(query: str, limit: int) -> int:
    """Lexical tokens in a query, counted up to ten times ``limit`` (enough to report).

    Cached like Strawberry's ParserCache: clients send the same few query texts, and
    lexing each again on every request cost more than the cache (bench/README.md).
    """
    lexer = Lexer(Source(query))
    count = 0
    try:
        while lexer.advance().kind is not TokenKind.EOF and count <= limit * 10:
            count += 1
    except GraphQLError:
        pass  # a syntax error: the parser reports it
    return count


class GraphQLService:
    """The gateway's GraphQL operations over one schema, its credentials and limits."""

    def __init__(
        self,
        schema: Schema,
        *,
        cursor_secret: bytes,
        authenticator: Authenticator,
        limits: LimitSettings,
        performance: PerformanceSettings,
        persisted: PersistedQueries | None = None,
        quotas: ClientQuotas | None = None,
    ) -> None:
        self.schema = schema
        #: graphql-core's schema, for the checks that read documents (/export's plans)
        self.core_schema: GraphQLSchema = core_schema(schema)
        self.authenticator = authenticator
        self.limits = limits
        self.persisted = persisted or PersistedQueries()
        self._codec = CursorCodec(cursor_secret)
        self._loaders_batch = performance.loaders
        self._quotas = quotas or ClientQuotas()

    @property
    def security(self) -> SecuritySettings:
        return self.authenticator.settings

    # -- who is calling ---------------------------------------------------------------

    def authenticate(self, request: HTTPConnection) -> Principal:
        """The caller of ``request``, or RequestRejected with 401: one place decides who
        is calling, for /graphql and /export."""
        try:
            principal = self.authenticator.authenticate(request.headers)
        except Unauthenticated as exc:
            raise RequestRejected(exc, 401, {"WWW-Authenticate": "Bearer"}) from None
        if principal.bulk:
            BULK.set(True)
        return principal

    async def admit(self, request: HTTPConnection) -> Principal:
        """The caller (401 when none valid), counted against its quota (429 over it):
        both before the body is read or parsed, so a refusal costs next to nothing."""
        principal = self.authenticate(request)
        if not principal.requests_per_minute:  # the usual case: counted, nothing awaited
            self._quotas.count(principal)
            return principal
        try:
            await self._quotas.admit(principal, request.scope)
        except errors.ClientRateLimited as exc:
            retry = {"Retry-After": str(exc.retry_after_s)}
            raise RequestRejected(exc, 429, retry) from None
        return principal

    # -- the request's context --------------------------------------------------------

    def sources_for(
        self, request: HTTPConnection, principal: Principal
    ) -> Mapping[str, DataSource]:
        """The sources this caller may read: the others do not exist for it."""
        sources: Mapping[str, DataSource] = request.app.state.sources
        if principal.sources is not None:
            sources = {n: s for n, s in sources.items() if n in principal.sources}
        return sources

    def context(self, request: HTTPConnection, principal: Principal) -> RequestContext:
        """A fresh context: this caller's sources, loaders of its own (one request, one
        /export page, one subscription connection)."""
        sources = self.sources_for(request, principal)
        return RequestContext(
            request=request,
            sources=sources,
            codec=self._codec,
            loaders=Loaders(sources, batch=self._loaders_batch),
            principal=principal,
            max_page=self.limits.max_page_size,
        )

    def restrict(self, ctx: RequestContext, principal: Principal) -> None:
        """A context made before its caller was known (a WebSocket's, whose credential
        comes in ``connection_init``) narrowed to that caller."""
        ctx.principal = principal
        if principal.sources is not None:
            ctx.sources = {n: s for n, s in ctx.sources.items() if n in principal.sources}
            ctx.loaders = Loaders(ctx.sources, batch=self._loaders_batch)

    # -- the document -----------------------------------------------------------------

    def check_tokens(self, query: str) -> None:
        """TooComplex for a document of more lexical tokens than the limit allows: counted
        before it is parsed, so a huge one costs no parse."""
        most = self.limits.max_tokens
        tokens = count_tokens(query, most)
        if tokens > most:
            raise TooComplex("tokens", most, tokens)

    async def resolve_persisted(self, data: GraphQLRequestData, cache: Store) -> Resolved | None:
        """A persisted document (APQ or the manifest) put in the request in place of its
        hash; None when it names none. Raises the GatewayError that refuses it."""
        resolved = await self.persisted.resolve(data.query, data.extensions, cache)
        if resolved is not None:
            data.query = resolved.document.text
            data.extensions = {**(data.extensions or {}), MARK: resolved.document}
        return resolved

    # -- execution --------------------------------------------------------------------

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None,
        ctx: RequestContext,
        operation_name: str | None,
        allowed: tuple[OperationType, ...] = (OperationType.QUERY,),
    ) -> ExecutionResult:
        """One operation's result (a query unless ``allowed`` says otherwise)."""
        return await self.schema.execute(
            query,
            variable_values=variables,
            context_value=ctx,
            operation_name=operation_name,
            allowed_operation_types=allowed,
        )

    async def settle(
        self,
        result: Any,
        resolved: Resolved | None,
        cache: Store,
        *,
        multipart: bool,
    ) -> Any:
        """An executed operation's result made final: a new APQ document registered once
        it proved valid; a deferring operation's parts kept for a client that takes
        multipart, else merged into one result (``@defer`` is a hint)."""
        if isinstance(result, ExperimentalIncrementalExecutionResults):
            accepted = document_accepted(result.initial_result.errors)
            if resolved is not None and resolved.register and accepted:
                await self.persisted.register(resolved.document, cache)
            if multipart:
                return result  # the adapter sends its parts (deferred_parts)
            data, found = await merged(result)  # a client that takes one answer
            return ExecutionResult(data=data, errors=found or None)
        if not isinstance(result, ExecutionResult):
            return result
        if resolved is not None and resolved.register and document_accepted(result.errors):
            await self.persisted.register(resolved.document, cache)
        return result

    # -- the answer -------------------------------------------------------------------

    def body(
        self, result: ExecutionResult, ctx: RequestContext | None, warnings: Warnings
    ) -> GraphQLHTTPResponse:
        """A result as the client reads it: data (none for a request error, as the spec
        says), the request's warnings, every error (the fields' partial ones too) with
        its code. Counted in gateway_requests_total."""
        all_errors = list(result.errors or [])
        if ctx is not None:
            all_errors += ctx.partial_errors
        data: GraphQLHTTPResponse = {"data": result.data}
        if result.data is None and result.errors and not _executed(result.errors):
            data = {}  # a request error: the spec says no "data" key
        if warnings:
            data["extensions"] = {"warnings": warnings}
        if all_errors:
            request_id = requestid.current_or_new()
            data["errors"] = [format_error(e, request_id) for e in all_errors]
        note_outcome(outcome(result.data) if all_errors else "ok")
        return data

    def deferred_parts(
        self,
        result: ExperimentalIncrementalExecutionResults,
        ctx: RequestContext,
        *,
        apollo: bool,
        warnings: Callable[[], Warnings],
    ) -> Callable[[], AsyncGenerator[object, None]]:
        """The payloads of a deferring operation in the client's format, each as soon as
        graphql-core has it; closing them ends the deferred work and its loaders."""
        request_id = requestid.current_or_new()
        seen = 0

        def drain() -> list[GraphQLError]:
            nonlocal seen
            late = ctx.partial_errors[seen:]
            seen = len(ctx.partial_errors)
            return late

        def extensions() -> dict[str, Any] | None:
            found = warnings()
            return {"warnings": list(found)} if found else None

        parts = Parts(
            apollo=apollo,
            format_error=lambda error: format_error(error, request_id),
            drain=drain,
            extensions=extensions,
        )

        async def payloads() -> AsyncGenerator[object, None]:
            try:
                first = parts.initial(result.initial_result)
                note_outcome(outcome(first["data"]) if "errors" in first else "ok")
                yield first
                async for later in result.subsequent_results:
                    yield parts.subsequent(later)
            finally:
                await result.subsequent_results.aclose()
                ctx.loaders.cancel()

        return payloads

    encode = staticmethod(dumps)


def outcome(data: dict[str, Any] | None) -> str:
    """Of a result with errors: partial (beside some data) or error (no data at all)."""
    return "partial" if data and any(v is not None for v in data.values()) else "error"


def _executed(errs: list[GraphQLError]) -> bool:
    """Errors from execution (they have a path) rather than refusals of the request."""
    return any(e.path for e in errs)
