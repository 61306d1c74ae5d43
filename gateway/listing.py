"""One newest-first order list over many sources, with cursors that resume each source.

Every source is paged through its own list endpoint as one or more *streams* (Adobe has a
stream per customer). A page is a k-way merge of the streams' heads ordered by
(createdAt desc, source, sourceId); the cursor stores, per stream, how many of that
stream's backend items are consumed, so the next page resumes each stream where it
stopped and never rescans from the start. Filters the backend cannot apply are applied
here; positions count backend items, so pushing a filter down or not gives the same pages.

A stream costs no more calls than its part of the page needs:
- it is finished once its list ends or an order passes a bound the newest-first order
  makes final (one older than ``createdAfter``: every later one is older still), whether
  or not the backend applied the filter;
- a stream emptied during the merge is refilled with a whole page, at least ``first``
  orders, and one whose orders are being filtered here with the backend's largest page
  (without a filter, with what the page lacks: every order it brings is taken or kept);
- ``hasNextPage``, when asked for, is true only when some stream holds an order this
  page did not take: if none does, the unfinished streams are read until one does or all
  are finished, so a client is never sent after an empty page.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from gateway.domain import Order, OrderQuery
from gateway.errors import BadUserInput, GatewayError, misshapen
from gateway.sources.base import Source
from gateway.values import SHAPE_ERRORS

MAX_PAGE = 500
DONE = -1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH


def sort_key(order: Order) -> tuple[int, str, str]:
    """Newest first; orders without a date last; ties by source name, then sourceId."""
    micros = -((order.created_at - _EPOCH) // _MICRO) if order.created_at is not None else 1 << 62
    return (micros, order.source, order.source_id)


@dataclass
class _Stream:
    source: Source
    name: str
    query: OrderQuery
    consumed: int
    fetched: int
    buffer: deque[tuple[int, Order]] = field(default_factory=deque)
    #: no more calls: the backend's list ended, or an order passed the query's bound
    finished: bool = False
    failed: bool = False
    #: an order of this stream failed the query: it is filtered here, not by the backend
    filtered: bool = False

    @property
    def key(self) -> str:
        return f"{self.source.name}/{self.name}"

    @property
    def open(self) -> bool:
        """Empty, and more of it can be read."""
        return not (self.buffer or self.finished or self.failed)

    @property
    def more(self) -> bool:
        """Known to hold an order the page did not take (unfiltered, any order is one)."""
        return bool(self.buffer) or (self.open and not self.query.narrows)

    def position(self) -> int:
        return DONE if self.finished and not self.buffer else self.consumed

    def limit(self, want: int) -> int:
        """How many orders to ask for: a stream filtered here reads whole backend pages."""
        largest = self.source.list_page_size
        return largest if self.filtered else max(1, min(want, largest))

    def refill(self, lacking: int, first: int) -> int:
        """How many orders to ask for when the stream ran dry with the page ``lacking``
        orders: unfiltered, that many are enough (every order is taken or left over);
        else a whole page of ``first``, as some may fail the filter or pass its bound."""
        return first if self.query.narrows else lacking


@dataclass(frozen=True)
class Edge:
    """An order and where each stream stands after it; the cursor is made when asked for
    (a page of 50 nodes whose query selects no cursor signs none)."""

    order: Order
    positions: Mapping[str, int]
    digest: str
    codec: CursorCodec

    @cached_property
    def cursor(self) -> str:
        return self.codec.encode(self.digest, self.positions)


@dataclass(frozen=True)
class Page:
    edges: tuple[Edge, ...]
    has_next_page: bool
    errors: tuple[GatewayError, ...]


class CursorCodec:
    """Opaque cursors: positions plus the query's digest, signed so edits are caught."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, body: bytes) -> str:
        return hmac.new(self._secret, body, hashlib.sha256).hexdigest()[:16]

    def encode(self, digest: str, positions: Mapping[str, int]) -> str:
        body = json.dumps({"q": digest, "p": positions}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(body + b"." + self._mac(body).encode()).decode()

    def decode(self, digest: str, cursor: str) -> dict[str, int]:
        try:
            blob = base64.urlsafe_b64decode(cursor.encode("ascii"))
            body, _, mac = blob.rpartition(b".")
            if not hmac.compare_digest(mac.decode(), self._mac(body)):
                raise ValueError("signature")
            data = json.loads(body)
            positions = data["p"]
            if data["q"] != digest:
                raise BadUserInput("the cursor belongs to another query or filter")
            if not all(isinstance(v, int) and v >= DONE for v in positions.values()):
                raise ValueError("positions")
            return {str(k): int(v) for k, v in positions.items()}
        except BadUserInput:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeError):
            raise BadUserInput("not a valid cursor") from None


def query_digest(scope: str, names: Sequence[str], query: OrderQuery) -> str:
    described: dict[str, Any] = {
        "scope": scope,
        "sources": sorted(names),
        "status": sorted(s.value for s in query.statuses) if query.statuses else None,
        "after": query.created_after.isoformat() if query.created_after else None,
        "before": query.created_before.isoformat() if query.created_before else None,
        "customers": sorted(query.customer_ids) if query.customer_ids is not None else None,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


def initial_fetch(first: int, streams: int, look_ahead: bool = True) -> int:
    """How many orders to ask each stream for up front.

    Every stream's head is needed before the first order can be chosen, but rarely all
    ``first`` orders of every stream: twice an even share (at least 10, at most
    ``first``) usually suffices, and a stream that runs dry is refilled during the merge.
    A lone stream is asked for one more than the page when ``look_ahead`` wants to know
    whether another page follows: then that takes no second call.
    """
    if streams <= 1:
        return first + 1 if look_ahead else first
    return min(first, max(10, -(-2 * first // streams)))


def validate_first(first: int, max_page: int = MAX_PAGE) -> None:
    if not 1 <= first <= max_page:
        raise BadUserInput(f"first must be between 1 and {max_page}, got {first}")


def _read_lines(stream: _Stream, orders: Sequence[Order]) -> None:
    try:
        for order in orders:
            order.lines.get()
    except SHAPE_ERRORS as exc:
        raise misshapen(stream.source.name, "order list", stream.name or "-", exc) from None


async def merged_page(
    plans: Mapping[str, tuple[Source, OrderQuery]],
    *,
    first: int,
    after: str | None,
    digest: str,
    codec: CursorCodec,
    read_lines: bool = False,
    look_ahead: bool = True,
) -> Page:
    """The ``first`` orders after ``after`` across every (source, per-source query) planned.

    ``read_lines``: the query selects line items, so they are read as each backend page
    arrives and a misshapen one fails that source's page like any other shape error
    (read later, its error would reach the non-null list and null the whole answer).
    ``look_ahead``: the caller wants ``has_next_page``; false spares the calls that may
    take, and ``has_next_page`` is then true whenever a stream is unfinished.
    """
    positions = codec.decode(digest, after) if after else {}
    streams: list[_Stream] = []
    for source, query in plans.values():
        for name in source.streams(query):
            key = f"{source.name}/{name}"
            at = positions.get(key, 0)
            if at != DONE:
                streams.append(_Stream(source, name, query, consumed=at, fetched=at))
    errors: list[GatewayError] = []

    async def fill(stream: _Stream, want: int) -> None:
        while stream.open:
            try:
                page = await stream.source.list_orders(
                    stream.name, stream.query, stream.fetched, stream.limit(want)
                )
                if read_lines:
                    _read_lines(stream, page.orders)
            except GatewayError as exc:
                stream.failed = True
                errors.append(exc)
                return
            query = stream.query
            for offset, order in enumerate(page.orders, start=stream.fetched):
                if query.matches(order):
                    stream.buffer.append((offset, order))
                elif query.ends(order):
                    stream.finished = True
                    break
                else:
                    stream.filtered = True
            if not stream.buffer and page.orders:
                stream.consumed = stream.fetched + len(page.orders)
            stream.fetched += len(page.orders)
            if not page.has_more or not page.orders:
                stream.finished = True

    def snapshot() -> dict[str, int]:
        return {**positions, **{s.key: s.position() for s in streams}}

    ask = initial_fetch(first, len(streams), look_ahead)
    await asyncio.gather(*(fill(s, ask) for s in streams))
    edges: list[Edge] = []
    while len(edges) < first:
        live = [s for s in streams if s.buffer]
        if not live:
            break
        best = min(live, key=lambda s: sort_key(s.buffer[0][1]))
        offset, order = best.buffer.popleft()
        best.consumed = offset + 1
        if best.open and len(edges) + 1 < first:
            await fill(best, best.refill(first - len(edges) - 1, first))
        edges.append(Edge(order, snapshot(), digest, codec))
    if not look_ahead:
        has_next = any(s.buffer or s.open for s in streams)
        return Page(tuple(edges), has_next, tuple(errors))
    if edges and not any(s.more for s in streams):
        # Whether another page holds anything is known only by reading on; what was read
        # and did not match moves the last cursor past it (or marks the stream done).
        await asyncio.gather(*(fill(s, first) for s in streams if s.open))
        edges[-1] = Edge(edges[-1].order, snapshot(), digest, codec)
    return Page(tuple(edges), any(s.more for s in streams), tuple(errors))
