"""GraphQL over HTTP: Strawberry's view as an adapter over the GraphQL service.

The service (gateway.service) admits the caller, checks the document, builds the
context, settles results and formats their errors; the view speaks HTTP and WebSocket:
GET and POST bodies, GraphiQL, ``@defer``'s multipart parts, and the subscriptions'
transports. Every error carries ``extensions.code``; unexpected exceptions become
INTERNAL with a request id and no details (the log has them). Malformed HTTP requests
get a GraphQL error body, never a plain-text page. ``application/graphql-response+json``
is answered as the GraphQL-over-HTTP spec says (4xx when there is no data).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

from cross_web import HTTPException
from graphql import ExperimentalIncrementalExecutionResults
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.http.streaming import (
    HTTPStreamTransport,
    MultipartSubscriptionTransport,
    MultipartTransport,
    SSETransport,
)
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from gateway import errors, graphiql
from gateway.compat import fast_paths
from gateway.context import RequestContext
from gateway.disconnect import DisconnectWatch
from gateway.encoding import dumps
from gateway.persisted import Resolved
from gateway.request_warnings import collect
from gateway.schema.analysis import TooComplex
from gateway.schema.incremental import accepts_multipart, wants_apollo_format
from gateway.schema.live import EventResult
from gateway.security import Principal, Unauthenticated
from gateway.service import NOBODY, GraphQLService, RequestRejected
from gateway.telemetry.middleware import note_outcome

log = logging.getLogger("gateway.graphql")

GRAPHQL_RESPONSE = "application/graphql-response+json"


class GraphQLResponse(Response):
    """A sub-response that remembers what the client accepts."""

    wants_graphql_response = False


#: where process_result hands an event's id to the SSE transport (never sent as a key)
EVENT_ID = "\x00eventId"


class EventSSETransport(SSETransport):
    """graphql-sse with each event's ``id:`` (OrderEvent.id), so that a reconnecting
    client's Last-Event-ID resumes after it; the other transports drop the id."""

    def encode_next(self, response: GraphQLHTTPResponse, encode_json: Any) -> str:
        event_id = response.pop(EVENT_ID, None)  # type: ignore[misc]
        text = super().encode_next(response, encode_json)
        return f"id: {event_id}\r\n{text}" if event_id else text


class EventMultipartTransport(MultipartSubscriptionTransport):
    def encode_next(self, response: GraphQLHTTPResponse, encode_json: Any) -> str:
        response.pop(EVENT_ID, None)  # type: ignore[misc]
        return super().encode_next(response, encode_json)


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """graphql-transport-ws messages as text frames (the protocol's; clients such as gql
    refuse binary ones), encoded like every other answer."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


STREAM_TRANSPORTS: Mapping[str, type[HTTPStreamTransport]] = {
    MULTIPART_SUBSCRIPTION_PROTOCOL: EventMultipartTransport,
    GRAPHQL_SSE_PROTOCOL: EventSSETransport,
}
SUBSCRIPTION_PROTOCOLS = (
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_SSE_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)


class GatewayView(GraphQL[RequestContext, None]):
    def __init__(self, service: GraphQLService, **kwargs: Any) -> None:
        # subscriptions: graphql-transport-ws, graphql-sse, multipart (docs/live.md)
        kwargs.setdefault("subscription_protocols", SUBSCRIPTION_PROTOCOLS)
        super().__init__(service.schema, **kwargs)
        self.service = service
        self._persisted = service.persisted
        #: False: Strawberry's own run and body parsing (gateway.compat)
        self._fast_paths = fast_paths()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        watch = DisconnectWatch(receive, scope["method"])
        request = Request(scope, watch.receive)
        request.state.warnings = collect()
        try:
            if _wants_ide(request) and self.graphql_ide is None:
                raise RequestRejected(errors.NotFound(NO_IDE), 404)
            if not _wants_ide(request):  # the GraphiQL page itself is not data
                request.state.principal = await self.service.admit(request)
            response = await self.run(request)
        except asyncio.CancelledError:
            if not watch.disconnected:
                raise
            _abandon(request)
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            return
        except HTTPException as exc:
            note_outcome("error")
            code = errors.PARSE_FAILED if "JSON" in exc.reason else errors.BAD_USER_INPUT
            headers = {"Allow": "GET, POST"} if exc.status_code == 405 else None
            response = _error_response(
                request,
                exc.status_code,
                {"message": exc.reason, "extensions": {"code": code}},
                headers,
            )
        except RequestRejected as exc:
            note_outcome("error")
            status = exc.status or (400 if _accepts_graphql_response(request) else 200)
            body = {"message": exc.error.message, "extensions": exc.error.extensions()}
            response = _error_response(request, status, body, exc.headers)
        finally:
            watch.stop()
            # The context holds the request: unlinked, the request's objects are freed by
            # reference counting as it ends instead of waiting for the cycle collector.
            if hasattr(request.state, "graphql_context"):
                del request.state.graphql_context
        await response(scope, receive, send)

    stream_transport_classes_by_protocol = STREAM_TRANSPORTS
    websocket_adapter_class = TextWebSocketAdapter

    async def on_ws_connect(self, context: RequestContext) -> None:
        """A WebSocket's caller: the credential in ``connection_init``'s payload
        (``{"Authorization": "Bearer ..."}``), else on the upgrade request."""
        payload = getattr(context, "connection_params", None) or {}
        given = {str(k).lower(): v for k, v in payload.items() if isinstance(v, str)}
        headers = {**dict(context.request.headers), **given}
        try:
            principal = self.service.authenticator.authenticate(headers)
        except Unauthenticated:
            raise ConnectionRejectionError({"message": "the credential is not valid"}) from None
        context.request.state.principal = principal
        self.service.restrict(context, principal)

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql.page_response(self.service.security.require_auth)

    def should_render_graphql_ide(self, request: Any) -> bool:
        # Apollo Client's hashed GET has no query and accepts */*: it wants data
        return "extensions" not in request.query_params and super().should_render_graphql_ide(
            request
        )

    async def run(
        self, request: Request | WebSocket, context: Any = UNSET, root_value: Any = UNSET
    ) -> Any:
        """Strawberry's ``run`` for a plain HTTP request (one operation, no
        subscription), in the same steps without the checks for what cannot come back:
        Strawberry asks each result whether it is a subscription stream, a runtime
        Protocol check on every request (bench/README.md). Batches are refused in
        parse_json and the schema has no subscriptions, so a result is one
        ExecutionResult, or @defer's parts for a client that accepts multipart.
        WebSockets and subscription transports go through Strawberry's, and so does
        everything but @defer's parts where gateway.compat turned the fast paths off."""
        if not isinstance(request, Request) or _streams_subscription(request.headers):
            return await super().run(request, context, root_value)
        if not self._fast_paths and not accepts_multipart(request.headers.get("accept", "")):
            # Strawberry's run; @defer's parts (Apollo's format among them) stay here
            return await super().run(request, context, root_value)
        if root_value is UNSET:
            root_value = await self.get_root_value(request)  # type: ignore[func-returns-value]
        adapter = self.request_adapter_class(request)
        sub_response = await self.get_sub_response(request)
        if context is UNSET:
            context = await self.get_context(request, response=sub_response)
        if not self.is_request_allowed(adapter):
            raise HTTPException(405, "GraphQL only supports GET and POST requests.")
        if self.should_render_graphql_ide(adapter):
            if self.graphql_ide:
                return await self.render_graphql_ide(request)
            raise HTTPException(404, "Not Found")
        try:
            request_data = await self.parse_http_body(adapter)
        except json.JSONDecodeError as e:
            raise HTTPException(400, "Unable to parse request body as JSON") from e
        except KeyError as e:
            raise HTTPException(400, "File(s) missing in form data") from e
        result = await self.execute_operation(
            request=request,
            request_adapter=adapter,
            request_data=request_data,
            context=context,
            root_value=root_value,
            sub_response=sub_response,
        )
        if isinstance(result, ExperimentalIncrementalExecutionResults):  # @defer, multipart
            apollo = wants_apollo_format(request.headers.get("accept", ""))
            return self._deferred_response(request, context, result, sub_response, apollo=apollo)
        if not isinstance(result, ExecutionResult):  # cannot happen: see above
            raise TypeError(f"unexpected result {type(result).__name__}")
        response_data = await self.process_result(request=request, result=result)
        return self.create_response(response_data=response_data, sub_response=sub_response)

    def decode_json(self, data: str | bytes) -> object:
        """The body's (or a query parameter's) JSON. Input json.loads refuses other than
        as malformed is the client's too: bytes that are not UTF-8, a number of more than
        4,300 digits (Python's guard against slow int conversion), nesting deeper than
        the interpreter's stack. A 400, as malformed JSON is, never an internal error."""
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            raise
        except UnicodeDecodeError:
            raise HTTPException(400, "the request body is not UTF-8 text") from None
        except ValueError:
            raise HTTPException(400, "a number in the request has too many digits") from None
        except RecursionError:
            raise HTTPException(400, "the request's values are nested too deeply") from None

    def _deferred_response(
        self,
        request: Request,
        ctx: RequestContext,
        result: ExperimentalIncrementalExecutionResults,
        sub_response: Response,
        *,
        apollo: bool,
    ) -> Response:
        """The parts of a deferring operation as ``multipart/mixed``, each sent as soon as
        graphql-core has it; a client that leaves ends the deferred work."""
        payloads = self.service.deferred_parts(
            result,
            ctx,
            apollo=apollo,
            warnings=lambda: getattr(request.state, "warnings", None),
        )
        transport = MultipartTransport()
        media = transport.headers["Content-Type"] + ("; deferSpec=20220824" if apollo else "")
        stream = transport.stream(payloads, self.encode_json_string)
        headers = {k: v for k, v in sub_response.headers.items() if k != "content-type"}
        return StreamingResponse(stream(), media_type=media, headers=headers)

    def parse_json(self, data: str | bytes) -> Any:
        value = super().parse_json(data)
        if not isinstance(value, dict):  # batching is off; anything else is malformed
            raise HTTPException(400, "The request body must be a JSON object")
        return value

    async def parse_http_body(self, request: Any) -> Any:
        plain = await self._plain_json_body(request) if self._fast_paths else None
        data = plain or await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            # persisted_only: a document runs from the manifest or not at all (refused
            # before it is read; see execute_operation)
            if isinstance(item.query, str) and not self._persisted.only:
                try:
                    self.service.check_tokens(item.query)
                except TooComplex as exc:
                    raise RequestRejected(exc, None) from None
        return data

    async def _plain_json_body(self, request: Any) -> GraphQLRequestData | None:
        """Strawberry's parse_http_body for the common request, a POST of
        ``application/json`` that asks for no stream, without parsing the Content-Type
        and Accept headers with the email package twice on every request;
        None for anything else (Strawberry's own parse then reads it)."""
        if request.method != "POST" or request.content_type not in PLAIN_JSON:
            return None
        if _may_stream(request.headers):
            return None  # Strawberry decides
        data = self.parse_json(await request.get_body())  # refuses anything but an object
        query, variables = data.get("query"), data.get("variables")
        extensions = data.get("extensions")
        if not isinstance(query, str | None):
            raise HTTPException(
                400, "The GraphQL operation's `query` must be a string or null, if provided."
            )
        if not isinstance(variables, dict | None):
            raise HTTPException(
                400, "The GraphQL operation's `variables` must be an object or null, if provided."
            )
        if not isinstance(extensions, dict | None):
            raise HTTPException(
                400,
                "The GraphQL operation's `extensions` must be an object or null, if provided.",
            )
        return GraphQLRequestData(
            query=query,
            variables=variables,
            operation_name=data.get("operationName"),
            extensions=extensions,
            protocol="http",
        )

    async def execute_operation(
        self,
        request: Request,
        request_adapter: Any,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: RequestContext,
        root_value: None,
        sub_response: Response,
    ) -> Any:
        """Persisted queries resolved (gateway.persisted) before the operation runs; a
        new APQ document registered once it proved valid; Cache-Control for GETs."""
        resolved: Resolved | None = None
        if isinstance(request_data, GraphQLRequestData):
            try:
                resolved = await self.service.resolve_persisted(
                    request_data, request.app.state.cache
                )
            except errors.GatewayError as exc:
                raise RequestRejected(exc, None) from None
        result = await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )
        if isinstance(result, ExperimentalIncrementalExecutionResults):
            # run sends the parts to a client that accepts multipart; others get one result
            multipart = accepts_multipart(request.headers.get("accept", ""))
            cache = request.app.state.cache
            return await self.service.settle(result, resolved, cache, multipart=multipart)
        if not isinstance(result, ExecutionResult):
            return result  # a subscription's stream
        if resolved is not None:  # an APQ document registered once it proved valid
            await self.service.settle(result, resolved, request.app.state.cache, multipart=False)
        if request.method == "GET":
            clean = not result.errors and not context.partial_errors
            clean = clean and not getattr(request.state, "warnings", None)
            value = self._persisted.cache_control(request.headers, resolved is not None, clean)
            if value is not None:
                sub_response.headers["cache-control"] = value
        return result

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub = GraphQLResponse()
        sub.status_code = None  # type: ignore[assignment]
        del sub.headers["content-length"]
        sub.wants_graphql_response = isinstance(request, Request) and _accepts_graphql_response(
            request
        )
        return sub

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:
        principal: Principal = getattr(request.state, "principal", NOBODY)
        ctx = self.service.context(request, principal)
        if isinstance(request, WebSocket):
            ctx.connection_params = None  # type: ignore[attr-defined]  # on_ws_connect reads it
        request.state.graphql_context = ctx
        return ctx

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        ctx: RequestContext | None = getattr(request.state, "graphql_context", None)
        data = self.service.body(result, ctx, getattr(request.state, "warnings", None))
        if isinstance(result, EventResult) and result.event_id is not None:
            # a subscription's event: SSE sends it as the event's id
            data[EVENT_ID] = result.event_id  # type: ignore[literal-required]
        return data

    def encode_json(self, data: object) -> bytes:
        return self.service.encode(data)

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if isinstance(sub_response, GraphQLResponse) and sub_response.wants_graphql_response:
            response.headers["content-type"] = GRAPHQL_RESPONSE
            if isinstance(response_data, dict) and "data" not in response_data:
                response.status_code = 400
        return response


def _abandon(request: Request) -> None:
    """The client went away: its loaders' batches in flight are cancelled too (they run
    in tasks of their own); calls shared with other requests go on for those."""
    ctx: RequestContext | None = getattr(request.state, "graphql_context", None)
    if ctx is not None:
        ctx.loaders.cancel()
    log.info("client went away; request abandoned (%s %s)", request.method, request.url.path)


def _error_response(
    request: Request, status: int, error: dict[str, Any], headers: dict[str, str] | None
) -> Response:
    media = GRAPHQL_RESPONSE if _accepts_graphql_response(request) else "application/json"
    return Response(dumps({"errors": [error]}), status, headers=headers, media_type=media)


def _may_stream(headers: Any) -> bool:
    """Whether Accept may ask for a streaming transport (multipart/mixed, text/event-
    stream): a cheap superset of Strawberry's check, which parses the header."""
    accept = headers.get("accept", "").lower()
    return "multipart" in accept or "event-stream" in accept


def _streams_subscription(headers: Any) -> bool:
    """Whether Accept asks for a subscription transport (SSE, multipart subscriptions):
    Strawberry's run serves those. ``multipart/mixed`` alone is for ``@defer``."""
    accept = headers.get("accept", "").lower()
    return "event-stream" in accept or "subscriptionspec" in accept


def _wants_ide(request: Request) -> bool:
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and ("query" not in request.query_params)
        and ("extensions" not in request.query_params)  # an APQ GET carries only a hash
    )


#: Content-Type values read by GatewayView._plain_json_body (others: Strawberry's parse).
PLAIN_JSON = frozenset(
    {"application/json", "application/json; charset=utf-8", "application/json;charset=utf-8"}
)

NO_IDE = (
    "no GraphiQL here: introspection is off ([security] introspection = false) and the"
    " IDE cannot work without it; send queries with POST, or GET with ?query="
)


def _accepts_graphql_response(request: Request) -> bool:
    return GRAPHQL_RESPONSE in request.headers.get("accept", "")
