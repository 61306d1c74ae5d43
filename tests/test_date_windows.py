"""Date windows on large histories: a stream stops at createdAfter, refills read whole
pages, and hasNextPage never sends a client after an empty page. Backend calls are
counted at the simulators (RequestLog), over real HTTP."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from gateway.simulation import Recorded, RequestLog
from gateway.sources.rest import page_window
from tests.conftest import SOURCE_OF, Simulators, gateway_client, gql
from tests.test_listing import PAGE, _utc, every_order

#: Generated orders per simulator: ~15,000 in all, ~3,000 per backend list.
ORDERS = 3000
#: Every backend's largest list page (docs/backends.md; the adapters' list_page_size).
LARGEST = 100
#: Kinds whose list is paged by page number: a page starts at a multiple of its size.
PAGED_BY_NUMBER = {"zaveit", "hamgam"}
#: The kinds these call counts were worked out for (a sixth stream changes how many orders
#: each stream is asked for: 2 x 500 / 11 = 91, not a whole page of 100).
PYTHON_KINDS = ["licensespring", "zaveit", "hamgam", "adobe_vip", "highlevel"]
NO_PUSHDOWN = {SOURCE_OF[kind]: {"pushdown": False} for kind in PYTHON_KINDS}

Row = tuple[str, str, str]


@pytest.fixture(scope="module")
def big() -> Iterator[Simulators]:
    sims = Simulators(orders=ORDERS)
    yield sims
    sims.server.stop()


def served(sims: Simulators) -> dict[str, list[datetime]]:
    """Each stream's creation times in the order its backend lists them, newest first."""
    d = sims.set.data
    lists = {
        "licensespring": [_utc(o["created_at"]) for o in d["licensespring"].orders],
        "zaveit": [_utc(o["created"]) for o in d["zaveit"].orders],
        "hamgam": [_utc(o["created_at"]) for o in d["hamgam"].orders],
        "highlevel": [_utc(o["createdAt"]) for o in d["highlevel"].orders],
    }
    for cid, orders in d["adobe_vip"].orders.items():
        lists[f"adobe_vip/{cid}"] = [_utc(o["creationDate"]) for o in orders]
    assert all(times == sorted(times, reverse=True) for times in lists.values())
    return lists


LIST_PATHS = {
    "licensespring": "/api/v1/orders/",
    "zaveit": "/v2/order/detailed",
    "hamgam": "/api/orders/",
    "highlevel": "/payments/orders",
}


def _window(entry: Recorded) -> tuple[str, int, int] | None:
    """(stream, first position the call covers, how many it asks for) of a list call."""

    def num(name: str) -> int:
        return int(entry.param(name) or 0)

    kind, path = entry.mount, entry.path
    if kind == "adobe_vip" and path.startswith("/v3/customers/") and path.endswith("/orders"):
        return f"adobe_vip/{path.split('/')[3]}", num("offset"), num("limit")
    if path != LIST_PATHS.get(kind):
        return None
    if kind == "zaveit":
        return kind, (num("~page") - 1) * num("~perPage"), num("~perPage")
    if kind == "hamgam":
        return kind, (num("page") - 1) * num("page_size"), num("page_size")
    return kind, num("offset"), num("limit")


def calls(log: RequestLog) -> dict[str, list[tuple[int, int]]]:
    """Each stream's list calls in the order they were made: (start, size)."""
    found: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for entry in log.entries:
        if (window := _window(entry)) is not None:
            found[window[0]].append(window[1:])
    return found


def page_all(
    sims: Simulators, client: Any, first: int, f: dict[str, Any]
) -> tuple[list[list[Row]], list[dict[str, list[tuple[int, int]]]]]:
    """Every page of the list and, per page, each stream's calls; asserts that a page
    follows exactly when the one before said so."""
    pages: list[list[Row]] = []
    per_page: list[dict[str, list[tuple[int, int]]]] = []
    after = None
    for _ in range(200):
        sims.log.clear()
        body = gql(client, PAGE, {"f": f, "n": first, "after": after})
        assert "errors" not in body, body["errors"]
        conn = body["data"]["orders"]
        per_page.append(calls(sims.log))
        pages.append(
            [
                (e["node"]["createdAt"], e["node"]["source"], e["node"]["sourceId"])
                for e in conn["edges"]
            ]
        )
        if not conn["pageInfo"]["hasNextPage"]:
            return pages, per_page
        after = conn["pageInfo"]["endCursor"]
    raise AssertionError("paging did not end")


def check_pages(pages: list[list[Row]], expected: list[Row], first: int) -> None:
    """The pages hold exactly the expected orders in order, every page the one before
    promised is full or the last, and none is empty: no client sent after nothing."""
    assert [row for page in pages for row in page] == expected
    assert len(pages) == max(1, math.ceil(len(expected) / first))
    assert all(len(page) == first for page in pages[:-1])
    assert all(pages[1:])


def check_stops_at_bound(
    sims: Simulators, per_page: list[dict[str, list[tuple[int, int]]]], after: datetime
) -> None:
    """Each stream is read at most one backend page past its last order in the window
    (its orders in the window come first, whatever the backend filtered)."""
    lists = served(sims)
    beyond: dict[str, int] = defaultdict(int)
    for page in per_page:
        for stream, windows in page.items():
            in_window = sum(1 for t in lists[stream] if t >= after)
            beyond[stream] += sum(1 for start, _ in windows if start >= in_window)
    assert beyond and all(n <= 1 for n in beyond.values()), dict(beyond)


@pytest.mark.parametrize("pushdown", [True, False], ids=["pushdown", "gateway-filtered"])
def test_the_issue_window_costs_one_page_past_each_stream(big: Simulators, pushdown: bool) -> None:
    # The issue's BI query: the 500 newest orders by date, then "the next page".
    rows = every_order(big, PYTHON_KINDS)
    assert len(rows) > 5 * ORDERS
    since = rows[499][0]
    expected = [r for r in rows if r[0] >= since]
    with gateway_client(big.settings(PYTHON_KINDS, None if pushdown else NO_PUSHDOWN)) as client:
        pages, per_page = page_all(big, client, 500, {"createdAfter": since})
    check_pages(pages, expected, 500)
    check_stops_at_bound(big, per_page, _utc(since))
    first_page = per_page[0]
    # Before: thousands of calls (bench/README.md), walking LicenseSpring and Hamgam to
    # their ends in calls of a few orders; now one page or two per stream.
    total = sum(len(w) for w in first_page.values())
    assert len(first_page) == 10 and total <= 2 * len(first_page), first_page
    # Whole pages only: nothing like HighLevel's limit=1 calls at offset 211, 212, ...
    assert all(size == LARGEST for w in first_page.values() for _, size in w), first_page


@pytest.mark.parametrize("pushdown", [True, False], ids=["pushdown", "gateway-filtered"])
@pytest.mark.parametrize("first", [37, 100])
def test_paging_a_window_stops_at_its_bound_and_promises_no_empty_page(
    big: Simulators, pushdown: bool, first: int
) -> None:
    rows = every_order(big, PYTHON_KINDS)
    since = rows[420][0]
    expected = [r for r in rows if r[0] >= since]
    with gateway_client(big.settings(PYTHON_KINDS, None if pushdown else NO_PUSHDOWN)) as client:
        pages, per_page = page_all(big, client, first, {"createdAfter": since})
    check_pages(pages, expected, first)
    check_stops_at_bound(big, per_page, _utc(since))
    # A refill (a stream's second call or later in one request) asks for a whole page:
    # at least `first` orders, never the handful the page still lacks. (A numbered page
    # starts at a multiple of its size: test_a_numbered_page_brings_the_most_orders_it_can.)
    for page in per_page:
        for stream, windows in page.items():
            if stream.split("/")[0] not in PAGED_BY_NUMBER:
                assert all(size >= min(first, LARGEST) for _, size in windows[1:]), windows


def test_a_stream_filtered_here_reads_largest_pages_and_stops_at_the_bound(
    big: Simulators,
) -> None:
    # Hamgam takes no date filter, and no status filter when UNKNOWN is asked (no list of
    # its values names every status it lacks): both are applied here.
    rows = every_order(big, PYTHON_KINDS)
    since = rows[2000][0]
    statuses = ["CANCELLED", "REFUNDED", "UNKNOWN"]
    f = {"sources": ["eu-shop"], "createdAfter": since, "status": statuses}
    with gateway_client(big.settings(PYTHON_KINDS)) as client:
        big.log.clear()
        body = gql(
            client,
            "query($f: OrderFilter) { orders(filter: $f, first: 500) { nodes { createdAt status }"
            " pageInfo { hasNextPage } } }",
            {"f": f},
        )
        windows = [w for e in big.log.entries if (w := _window(e)) and w[0] == "hamgam"]
        wanted = gql(
            client,
            "query($f: OrderFilter) { orders(filter: $f, first: 500) { nodes { createdAt status"
            " } } }",
            {"f": {"sources": ["eu-shop"], "createdAfter": since}},
        )
    orders = body["data"]["orders"]
    in_window = wanted["data"]["orders"]["nodes"]
    expected = [n for n in in_window if n["status"] in ("CANCELLED", "REFUNDED")]
    assert orders["nodes"] == expected and 0 < len(expected) < len(in_window) < 500
    assert orders["pageInfo"]["hasNextPage"] is False
    lists = served(big)
    in_hamgam = sum(1 for t in lists["hamgam"] if t >= _utc(since))
    # Whole pages from the start until the bound, not the 3,000 orders Hamgam holds.
    assert [(start, size) for _, start, size in windows] == [
        (n * LARGEST, LARGEST) for n in range(len(windows))
    ]
    assert len(windows) <= in_hamgam // LARGEST + 1 < ORDERS // LARGEST


def test_unfiltered_first_page_costs_one_call_per_stream_on_a_large_history(
    big: Simulators,
) -> None:
    with gateway_client(big.settings(PYTHON_KINDS)) as client:
        big.log.clear()
        body = gql(client, PAGE, {"n": 500})
    assert len(body["data"]["orders"]["edges"]) == 500
    assert body["data"]["orders"]["pageInfo"]["hasNextPage"] is True
    # Every order matches: a stream the backend says goes on needs no look ahead, and a
    # refill needs no more than the page lacks (all of it is taken or left over).
    found = calls(big.log)
    assert len(found) == 10
    assert all(len(w) <= 2 and w[0] == (0, LARGEST) for w in found.values()), found
    assert any(len(w) == 2 for w in found.values())


@pytest.mark.parametrize("limit", [1, 7, 37, 100, 150])
def test_a_numbered_page_brings_the_most_orders_it_can(limit: int) -> None:
    # Page-numbered APIs (Hamgam, Zaveit) start a page at a multiple of its size.
    for offset in range(0, 1200):
        page, size, skip = page_window(offset, limit, LARGEST)
        assert 1 <= size <= LARGEST and (page - 1) * size + skip == offset and 0 <= skip < size
        brings = size - skip
        best = max(s - offset % s for s in range(1, LARGEST + 1))
        wanted = min(limit, LARGEST)
        assert brings >= wanted or brings == best
        assert brings >= min(wanted, best)


def test_has_next_page_reads_ahead_only_when_asked_and_its_cursor_keeps_what_it_learnt(
    big: Simulators,
) -> None:
    times = served(big)["licensespring"]
    # Exactly 200 LicenseSpring orders in the window (no tie across its end in this
    # data), and 200 to a page: the page takes them all, and the stream is not done.
    cut = next(i for i in range(199, len(times)) if times[i] > times[i + 1])
    assert cut == 199
    f = {"sources": ["licensing"], "createdAfter": times[cut].isoformat()}
    nodes_only = "query($f: OrderFilter) { orders(filter: $f, first: 200) { nodes { sourceId } } }"
    with gateway_client(big.settings(PYTHON_KINDS)) as client:
        big.log.clear()
        assert len(gql(client, nodes_only, {"f": f})["data"]["orders"]["nodes"]) == 200
        assert calls(big.log)["licensespring"] == [(0, 100), (100, 100)]
        big.log.clear()
        conn = gql(client, PAGE, {"f": f, "n": 200})["data"]["orders"]
        # hasNextPage asked: one more page is read, finds the window's end, says so...
        assert len(conn["edges"]) == 200 and conn["pageInfo"]["hasNextPage"] is False
        assert calls(big.log)["licensespring"] == [(0, 100), (100, 100), (200, 100)]
        # ...and the end cursor remembers it: a client asking anyway costs no call.
        big.log.clear()
        after = conn["pageInfo"]["endCursor"]
        rest = gql(client, PAGE, {"f": f, "n": 200, "after": after})["data"]["orders"]
        assert rest["edges"] == [] and rest["pageInfo"]["hasNextPage"] is False
        assert big.log.entries == []


def test_a_lone_stream_learns_whether_a_page_follows_in_the_same_call(big: Simulators) -> None:
    f = {"sources": ["eu-shop"]}
    nodes_only = "query($f: OrderFilter) { orders(filter: $f, first: 50) { nodes { sourceId } } }"
    with gateway_client(big.settings(PYTHON_KINDS)) as client:
        big.log.clear()
        conn = gql(client, PAGE, {"f": f, "n": 50})["data"]["orders"]
        assert len(conn["edges"]) == 50 and conn["pageInfo"]["hasNextPage"] is True
        assert calls(big.log) == {"hamgam": [(0, 51)]}
        big.log.clear()
        assert len(gql(client, nodes_only, {"f": f})["data"]["orders"]["nodes"]) == 50
        assert calls(big.log) == {"hamgam": [(0, 50)]}
