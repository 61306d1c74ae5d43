"""``GET /export`` and ``POST /export``: a query's top-level list as CSV or NDJSON.

Everything that can refuse an export is settled before the first byte: the credential
(by the GraphQL service, as on /graphql), the parameters, the document, the scopes
(personal data and ``raw`` are refused with FORBIDDEN here, not nulled as /graphql does)
and the first page, which runs before the response starts. Each page is one execution
of the document by the GraphQL service with a fresh context, so loaders cache no more
than a page and memory stays bounded by a page. Rows leave as each page arrives; the
next page is asked for only after the previous one was handed to the server. The first
page is small, so its rows need only the first backend page of each source; pages then
grow to the largest the limits allow.

A client that goes away, before the first byte or after, cancels the page in flight and
every backend call it queued (gateway/disconnect.py watches the connection for the whole
export). The server cancelling the export as it stops cuts it off like a failing source.

All or nothing: after the first byte the status cannot change, so a page that fails is
logged with the request id and the response is abandoned without its final chunk; the
client sees a broken transfer, never a short file that looks whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from bisect import bisect_right
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from gateway import errors
from gateway.disconnect import DisconnectWatch
from gateway.domain import OrderQuery
from gateway.encoding import dumps
from gateway.error_format import format_error
from gateway.errors import BadUserInput, Forbidden, GatewayError
from gateway.export.document import ExportPlan, plan_export
from gateway.export.writers import CSV, MEDIA_TYPES, NDJSON, CsvWriter, NdjsonWriter, Writer
from gateway.resilience.budget import BULK, PATIENCE
from gateway.schema.analysis import analyse
from gateway.security import PII_READ, RAW_READ, Principal
from gateway.service import GraphQLService, RequestRejected
from gateway.telemetry import requestid
from gateway.telemetry.middleware import note_document, note_outcome

log = logging.getLogger("gateway.export")

#: The HTTP status of an export refused before its first byte, by the first error's code
#: (a BI tool must see a failure, not read a JSON error body as data).
STATUS = {
    errors.UNAUTHENTICATED: 401,
    errors.FORBIDDEN: 403,
    errors.NOT_FOUND: 404,
    errors.BACKEND_RATE_LIMITED: 429,
    errors.CLIENT_RATE_LIMITED: 429,
    errors.BACKEND_ERROR: 502,
    errors.BACKEND_UNAVAILABLE: 503,
    errors.BACKEND_TIMEOUT: 504,
    errors.INTERNAL: 500,
}


class CutOff(Exception):
    """An export that failed after its first byte (already logged with the request id)."""


class PageFailed(Exception):
    def __init__(self, errs: list[GraphQLError]) -> None:
        super().__init__(f"{len(errs)} error(s)")
        self.errors = errs


@dataclass(frozen=True)
class Params:
    query: str
    variables: dict[str, Any]
    operation_name: str | None
    format: str
    limit: int | None
    bom: bool


#: An export waits this long per call for a rate-limited source's budget (not rate_wait_s):
#: a BI job would rather take longer than be cut off.
EXPORT_PATIENCE_S = 300.0

#: The first page's nodes (line items may make more rows of them). The merge asks every
#: source for at least min(first, 10) orders up front (listing.initial_fetch), so a first
#: page of up to 10 is placed from the first backend page of each source: no slow
#: source's second page, and no 500 orders' calls, stand before the first byte.
FIRST_PAGE_SIZE = 10
#: Each page after it is this many times the last, up to the largest the limits allow.
PAGE_GROWTH = 4

#: The largest ``limit``: GraphQL's Int, as ``first`` is.
MAX_LIMIT = 2**31 - 1


@dataclass
class Progress:
    """How far an export got: whether its first byte left, and the rows written."""

    started: bool = False
    rows: int = 0


class ExportEndpoint:
    """The ASGI app of /export, over the GraphQL service's schema, credentials and limits."""

    def __init__(self, service: GraphQLService) -> None:
        self.service = service
        self.schema = service.core_schema

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        PATIENCE.set(EXPORT_PATIENCE_S)
        BULK.set(True)
        # The whole export, its first page included, stops when the client leaves.
        watch = DisconnectWatch(receive, scope["method"])
        request = Request(scope, watch.receive)
        request_id = _request_id(request)
        progress = Progress()
        # gateway_requests_total: an error until the export ends whole (_stream says ok
        # then), so one refused, cut off or left by its client counts as an error
        note_outcome("error")
        try:
            response = await self._respond(request, request_id, progress)
            if isinstance(response, StreamingResponse):
                await _send_stream(response, send, watch, progress)
            else:
                watch.stop()
                await response(scope, receive, send)
        except CutOff:
            pass  # returning without the final chunk makes the server drop the connection
        except ClientDisconnect:  # gone while its POST body was being read
            log.info("client went away before its export began (request %s)", request_id)
        except asyncio.CancelledError:
            if watch.disconnected:
                log.info(
                    "client went away; export abandoned after %d rows (request %s)",
                    progress.rows,
                    request_id,
                )
            else:  # the server is stopping (its graceful shutdown ran out)
                log.error(
                    "export cut off after %d rows (request %s): the gateway is stopping",
                    progress.rows,
                    request_id,
                )
                if not progress.started:
                    body = {
                        "message": "the gateway is stopping; run the export again",
                        "extensions": {"code": errors.INTERNAL},
                    }
                    stopping = _errors(503, [body], request_id, {"Retry-After": "1"})
                    with contextlib.suppress(Exception):
                        await stopping(scope, receive, send)
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        finally:
            watch.stop()

    async def _respond(self, request: Request, request_id: str, progress: Progress) -> Response:
        """The export's response: its stream, or the JSON error that refused it."""
        try:
            return await self._start(request, request_id, progress)
        except RequestRejected as exc:
            body = {"message": exc.error.message, "extensions": exc.error.extensions()}
            return _errors(exc.status or 400, [body], request_id, exc.headers)
        except GatewayError as exc:
            body = {"message": exc.message, "extensions": exc.extensions()}
            return _errors(STATUS.get(exc.code, 400), [body], request_id)
        except PageFailed as exc:
            bodies = [format_error(e, request_id) for e in exc.errors]
            status = STATUS.get(bodies[0].get("extensions", {}).get("code", ""), 400)
            return _errors(status, bodies, request_id)

    async def _start(self, request: Request, request_id: str, progress: Progress) -> Response:
        if request.method not in ("GET", "POST", "HEAD"):
            raise RequestRejected(
                BadUserInput("/export takes GET or POST"), 405, {"Allow": "GET, HEAD, POST"}
            )
        service = self.service
        principal = await service.admit(request)  # and its quota, before the body
        params = await _params(request)
        if service.persisted.only:  # refused before it is read, as on /graphql
            await service.persisted.resolve(params.query, None, request.app.state.cache)
        service.check_tokens(params.query)
        variables = dict(params.variables)
        plan = plan_export(
            self.schema,
            params.query,
            params.operation_name,
            variables,
            introspection=service.security.introspection,
            max_directives=service.limits.max_directives,
        )
        note_document(plan.document, params.operation_name)
        size = await self._check(request, plan, variables, principal, params.limit)
        writer: Writer = (
            CsvWriter(plan.shape, bom=params.bom) if params.format == CSV else NdjsonWriter()
        )
        headers = {"cache-control": "no-store"}
        if request.method == "HEAD":
            # Tools that ask for a URL's headers first (DuckDB's httpfs) learn the type
            # without a backend call; the length is unknown until the end.
            head_only = Response(None, 200, headers=headers, media_type=writer.media_type)
            del head_only.headers["content-length"]  # not 0: unknown
            note_outcome("ok")
            return head_only
        first_size = min(size, FIRST_PAGE_SIZE)
        page = Pages(self.service, request, principal, plan, variables)
        data = await page(first_size, plan.after)
        head, progress.rows = writer.page(plan.objects(data), params.limit)
        body = _stream(
            page, request_id, plan, (first_size, size), writer,
            writer.head() + head, progress, data, params.limit,
        )  # fmt: skip
        return StreamingResponse(body, media_type=writer.media_type, headers=headers)

    async def _check(
        self,
        request: Request,
        plan: ExportPlan,
        variables: Mapping[str, Any],
        principal: Principal,
        limit: int | None,
    ) -> int:
        """Scopes the selection needs, and the page size: the largest, up to the page-size
        cap, whose estimated cost is within the cost limit (checked again for each page)."""
        limits = self.service.limits
        sources = self.service.sources_for(request, principal)  # those it may read
        streams = sum(len(s.streams(OrderQuery())) for s in sources.values())

        def cost(size: int) -> float:
            chosen = {**variables, plan.first_var: size} if plan.first_var else variables
            found = analyse(
                self.schema,
                plan.document,
                plan.operation_name,
                chosen,
                streams=streams,
                sources=len(sources),
            )
            if found.pii and not principal.can(PII_READ):
                raise Forbidden(
                    "exporting personal data needs the pii:read scope: "
                    + ", ".join(sorted(found.pii))
                )
            if found.raw and not principal.can(RAW_READ):
                raise Forbidden("exporting raw needs the raw:read scope")
            return found.cost

        cap = limits.max_page_size if limit is None else min(limits.max_page_size, limit)
        if plan.first_var is None:
            cost(0)
            return cap
        sizes = range(1, cap + 1)
        # cost grows with the page size: the largest that fits (1 if none: the page's own
        # check then refuses it with QUERY_TOO_COMPLEX, as /graphql would)
        fits = bisect_right(sizes, False, key=lambda n: cost(n) > limits.max_cost)
        return max(1, fits)


class Pages:
    """One export's pages: each one execution of the document, with the page's size and
    cursor, under a fresh context (loaders cache no more than a page)."""

    def __init__(
        self,
        service: GraphQLService,
        request: Request,
        principal: Principal,
        plan: ExportPlan,
        variables: Mapping[str, Any],
    ) -> None:
        self.service, self.request, self.principal = service, request, principal
        self.plan, self.variables = plan, variables

    async def __call__(self, size: int, after: str | None) -> Mapping[str, Any]:
        """One page's result data; PageFailed with every error (all or nothing)."""
        plan = self.plan
        chosen = dict(self.variables)
        if plan.first_var is not None and plan.after_var is not None:
            chosen[plan.first_var] = size
            chosen[plan.after_var] = after
        ctx = self.service.context(self.request, self.principal)
        try:
            result = await self.service.execute(plan.query, chosen, ctx, plan.operation_name)
        finally:
            # Loader batches run in tasks of their own: any still running belongs to
            # nobody now (a page abandoned by its client, or one that failed).
            ctx.loaders.cancel()
        found = [*(result.errors or ()), *ctx.partial_errors]
        if found or result.data is None:
            raise PageFailed(found or [GraphQLError("the page returned no data")])
        return result.data


def _log_text(error: GraphQLError, request_id: str) -> str:
    """An error as a log line may say it: a backend's without the backend's own words."""
    original = error.original_error
    if isinstance(original, errors.BackendError):
        return f"{original.code}: {original.log_text()}"
    body = format_error(error, request_id)
    return f"{body.get('extensions', {}).get('code')}: {body['message']}"


async def _stream(
    pages: Pages,
    request_id: str,
    plan: ExportPlan,
    sizes: tuple[int, int],
    writer: Writer,
    first: bytes,
    progress: Progress,
    data: Mapping[str, Any],
    limit: int | None,
) -> AsyncIterator[bytes]:
    """The export's bytes: the first page's (already run), then each later page's, each
    ``PAGE_GROWTH`` times the last up to ``sizes``' largest (and no more than ``limit``
    still wants)."""
    yield first
    size, largest = sizes
    cursor = plan.next_cursor(data)
    del data, first  # memory: one page at a time
    while cursor is not None and (limit is None or progress.rows < limit):
        size = min(largest, size * PAGE_GROWTH)
        ask = size if limit is None else min(size, limit - progress.rows)
        try:
            page = await pages(ask, cursor)
        except PageFailed as exc:
            log.error(
                "export cut off after %d rows (request %s): %s",
                progress.rows,
                request_id,
                "; ".join(_log_text(e, request_id) for e in exc.errors),
            )
            raise CutOff from None
        except Exception:
            log.exception("export cut off after %d rows (request %s)", progress.rows, request_id)
            raise CutOff from None
        left = None if limit is None else limit - progress.rows
        chunk, added = writer.page(plan.objects(page), left)
        progress.rows += added
        cursor = plan.next_cursor(page)
        del page
        yield chunk
    log.info("export of %d rows done (request %s)", progress.rows, request_id)
    note_outcome("ok")


async def _send_stream(
    response: StreamingResponse, send: Send, watch: DisconnectWatch, progress: Progress
) -> None:
    """Starlette's streaming, less its own disconnect listener: the export's watch,
    running since the request arrived, is the one that cancels (one reader of
    ``receive``). The watch ends before the final chunk, when nothing is left to stop."""
    await send({"type": "http.response.start", "status": 200, "headers": response.raw_headers})
    progress.started = True
    async for chunk in response.body_iterator:
        if not isinstance(chunk, bytes | memoryview):
            chunk = chunk.encode(response.charset)
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    watch.stop()
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _request_id(request: Request) -> str:
    """The request's id, as the telemetry middleware took or made it (and returns it)."""
    return requestid.current_or_new()


def _errors(
    status: int,
    bodies: list[dict[str, Any]],
    request_id: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return Response(
        dumps({"errors": bodies}),
        status,
        headers=headers,
        media_type="application/json",
    )


async def _params(request: Request) -> Params:
    """The export's parameters: from the query string, and for POST a JSON object body
    (whose keys win)."""
    raw: dict[str, Any] = dict(request.query_params)
    if "variables" in raw:
        text = raw["variables"]
        try:
            raw["variables"] = orjson.loads(text) if text.strip() else None
        except orjson.JSONDecodeError:
            raise BadUserInput("variables must be a JSON object") from None
    if request.method == "POST":
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise BadUserInput("the request body must be a JSON object") from None
        if not isinstance(body, dict):
            raise BadUserInput("the request body must be a JSON object")
        raw.update(body)
    query = raw.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadUserInput("query is required: the GraphQL document to export")
    variables = raw.get("variables")
    if variables is None:
        variables = {}
    if not isinstance(variables, dict):
        raise BadUserInput("variables must be a JSON object")
    operation_name = raw.get("operationName") or None
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadUserInput("operationName must be a string")
    return Params(
        query=query,
        variables=variables,
        operation_name=operation_name,
        format=_format(raw.get("format"), request.headers.get("accept", "")),
        limit=_limit(raw.get("limit")),
        bom=_flag(raw.get("bom"), "bom"),
    )


def _format(given: Any, accept: str) -> str:
    if given is None or given == "":
        return NDJSON if MEDIA_TYPES[NDJSON] in accept else CSV
    if given not in (CSV, NDJSON):
        raise BadUserInput(f"unknown format {given!r}: csv or ndjson")
    return str(given)


def _limit(given: Any) -> int | None:
    """The row limit: absent (or JSON null) is none; anything but a whole number from 1 to
    MAX_LIMIT is refused, whatever its length (its digits are counted before int() reads
    them: Python refuses to read more than 4,300)."""
    if given is None:
        return None
    value: Any = given
    if isinstance(given, str) and given.isascii() and given.isdigit():
        digits = given.lstrip("0")
        value = int(digits or "0") if len(digits) <= len(str(MAX_LIMIT)) else MAX_LIMIT + 1
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        shown = given if not isinstance(given, str) or len(given) <= 20 else given[:20] + "…"
        raise BadUserInput(
            f"limit must be a positive whole number (at most {MAX_LIMIT}), not {shown!r}"
        )
    return value


def _flag(given: Any, name: str) -> bool:
    if given in (None, "", "0", "false", False, 0):
        return False
    if given in ("1", "true", True, 1):
        return True
    raise BadUserInput(f"{name} must be 1 or 0")


__all__ = ["CutOff", "ExportEndpoint"]
