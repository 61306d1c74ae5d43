"""One order list over all sources: merged paging, cursors, filters, one customer everywhere."""

from __future__ import annotations

import base64
import itertools
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.simulation import NOW, iso_z
from gateway.simulators import SIMULATORS
from gateway.sources.hamgam.simulator import TEHRAN
from tests.conftest import SHIPPED, SOURCE_OF, Simulators, codes, gateway_client, gql

PAGE = """query($f: OrderFilter, $n: Int, $after: String) {
  orders(filter: $f, first: $n, after: $after) {
    edges { cursor node { source sourceId createdAt status } }
    pageInfo { hasNextPage endCursor } } }"""


def _utc(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def every_order(sims: Simulators, kinds: list[str] | None = None) -> list[tuple[str, str, str]]:
    """(createdAt, source, sourceId) of every order the simulators hold (of ``kinds``, or
    every kind), straight from their data, sorted the way the gateway must list them."""
    rows = [
        (_utc(created), source, source_id)
        for kind, (module, source) in SIMULATORS.items()
        for created, source_id in module.listed(sims.set.data[kind])
    ]
    if kinds is not None:
        wanted = {SOURCE_OF[k] for k in kinds}
        rows = [r for r in rows if r[1] in wanted]
    rows.sort(key=lambda r: (-r[0].timestamp(), r[1], r[2]))
    return [(r[0].isoformat(timespec="microseconds"), r[1], r[2]) for r in rows]


def page_through(
    client: Any, first: int, f: dict[str, Any] | None = None
) -> list[tuple[str, str, str]]:
    seen: list[tuple[str, str, str]] = []
    after = None
    for _ in range(2000):
        body = gql(client, PAGE, {"f": f, "n": first, "after": after})
        assert "errors" not in body, body["errors"]
        conn = body["data"]["orders"]
        seen += [
            (e["node"]["createdAt"], e["node"]["source"], e["node"]["sourceId"])
            for e in conn["edges"]
        ]
        if not conn["pageInfo"]["hasNextPage"]:
            return seen
        assert conn["edges"], "a page that says more follows must not be empty here"
        after = conn["pageInfo"]["endCursor"]
    raise AssertionError("paging did not end")


def test_paging_by_37_yields_every_order_once_in_order(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        seen = page_through(client, 37)
    expected = every_order(sims)
    assert len(expected) > 300 and max(Counter(expected).values()) == 1
    assert seen == expected
    created = [s[0] for s in seen]
    assert any(a == b for a, b in itertools.pairwise(created))  # ties exist


def test_first_page_costs_one_list_request_per_source(sims: Simulators) -> None:
    adobe_one_customer = {"adobe": {"customer_ids": ["9876543210"]}}
    with gateway_client(sims.settings(overrides=adobe_one_customer)) as client:
        body = gql(
            client,
            "{ orders(first: 10) { nodes { sourceId price { total { amount } } "
            "customer { email } } pageInfo { hasNextPage } } }",
        )
    assert len(body["data"]["orders"]["nodes"]) == 10
    assert body["data"]["orders"]["pageInfo"]["hasNextPage"] is True
    lists = {
        "licensespring": "/api/v1/orders/",
        "zaveit": "/v2/order/detailed",
        "hamgam": "/api/orders/",
        "adobe_vip": "/v3/customers/9876543210/orders",
        "highlevel": "/payments/orders",
    }
    for kind, path in lists.items():
        listed = [e for e in sims.log.of(kind) if e.path == path]
        assert len(listed) == 1, kind
    (ls,) = sims.log.of("licensespring", "/api/v1/orders/")
    assert (ls.param("limit"), ls.param("offset"), ls.param("order_by")) == (
        "10",
        "0",
        "-created_at",
    )
    # The list payloads carried every selected field: no order was fetched one by one,
    # and HighLevel's contactEmail answered customer.email without a contact call.
    assert sims.log.of("highlevel", "/payments/orders/") == []
    assert sims.log.of("highlevel", "/contacts/") == []
    assert sims.log.of("zaveit", "/v1/order/") == []


def test_adobe_lists_each_configured_customer_history(sims: Simulators) -> None:
    with gateway_client(sims.settings(["adobe_vip"])) as client:
        gql(client, "{ orders(first: 5) { nodes { id } } }")
    paths = sorted(e.path for e in sims.log.of("adobe_vip"))
    cids = sims.config(["adobe_vip"])["sources"]["adobe"]["customer_ids"]
    assert paths == sorted(f"/v3/customers/{cid}/orders" for cid in cids)
    for entry in sims.log.of("adobe_vip"):
        assert entry.param("start-date") == "2000-01-01"  # all history, not the current term
        assert int(entry.param("limit") or 0) <= 100


FILTER = {
    "status": ["CANCELLED", "REFUNDED"],
    "createdAfter": "2025-06-01T00:00:00Z",
    "createdBefore": "2026-06-01T00:00:00Z",
}


def test_list_requests_carry_documented_paging_and_filters(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        gql(client, PAGE, {"f": FILTER, "n": 20})
    log = sims.log
    assert log.of("licensespring") == []  # its orders are all COMPLETED: nothing to ask
    # Hamgam takes one status a call: a stream per Hamgam status that reads as one asked
    # for; it cannot apply the dates, so each stream pages on until a match.
    hamgam = log.of("hamgam", "/api/orders/")
    by_status: dict[str | None, list[Any]] = {}
    for entry in hamgam:
        by_status.setdefault(entry.param("status"), []).append(entry)
    assert set(by_status) == {"cancelled", "canceled", "refunded"}
    for entries in by_status.values():
        windows = [
            (
                (int(e.param("page") or 0) - 1) * int(e.param("page_size") or 0),
                int(e.param("page_size") or 0),
            )
            for e in entries
        ]
        # Each page reads on from where the last ended: nothing skipped, every call brings
        # new orders; once an order fails the filter here, the stream reads the largest
        # pages (re-reading the 10 it had rather than asking for a page of 10 again).
        assert windows[0] == (0, 10) and all(size == 100 for _, size in windows[1:])
        assert all(
            start <= prev_start + prev_size < start + size
            for (prev_start, prev_size), (start, size) in itertools.pairwise(windows)
        )
        assert all(e.param("ordering") == "-created_at" for e in entries)
    # first: 20 over many streams: each is first asked for max(10, 2 * 20 / streams) = 10.
    (zv,) = log.of("zaveit")
    assert (zv.param("~page"), zv.param("~perPage"), zv.param("~sort")) == ("1", "10", "-created")
    assert zv.param("~filter[from]") == "2025-06-01T00:00:00+00:00"
    assert zv.param("~filter[to]") == "2026-06-01T00:00:00+00:00"
    assert zv.params_named("~filter[status]") == ["cancelled", "canceled"]
    for entry in log.of("adobe_vip"):
        # CANCELLED is code 1008, which the history's status filter does not take
        assert entry.params_named("status") == []
        assert entry.param("start-date") == "2025-06-01T00:00:00Z"
        assert entry.param("end-date") == "2026-06-01T00:00:00Z"
        assert (entry.param("offset"), entry.param("limit")) == ("0", "10")
    hl = log.of("highlevel")
    assert sorted(e.param("status") or "" for e in hl) == ["canceled", "cancelled", "refunded"]
    for entry in hl:
        assert (entry.param("startAt"), entry.param("endAt")) == ("2025-06-01", "2026-06-02")
        assert (entry.param("limit"), entry.param("offset")) == ("10", "0")
        assert entry.param("altType") == "location"


def test_pushdown_and_gateway_filtering_give_the_same_pages(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        pushed = page_through(client, 7, FILTER)
    assert {e.param("status") for e in sims.log.of("hamgam", "/api/orders/")} == {
        "cancelled", "canceled", "refunded"
    }  # fmt: skip
    sims.log.clear()
    off = {name: {"pushdown": False} for name in SOURCE_OF.values()}
    with gateway_client(sims.settings(overrides=off)) as client:
        local = page_through(client, 7, FILTER)
    assert pushed == local and len(pushed) > 5
    everything = every_order(sims)
    assert all(s in everything for s in pushed)
    assert all("2025-06-01" <= s[0] < "2026-06-01" for s in pushed)
    assert sims.log.of("hamgam", "/api/orders/")
    assert all(e.param("status") is None for e in sims.log.of("hamgam"))
    assert all(e.param("status") is None for e in sims.log.of("highlevel"))


def test_status_filter_is_exact(sims: Simulators) -> None:
    with gateway_client(sims.settings(SHIPPED)) as client:
        body = gql(client, PAGE, {"f": {"status": ["CANCELLED"]}, "n": 200})
    statuses = {e["node"]["status"] for e in body["data"]["orders"]["edges"]}
    assert statuses == {"CANCELLED"}
    sources = {e["node"]["source"] for e in body["data"]["orders"]["edges"]}
    assert sources == {"reseller", "eu-shop", "adobe", "hl-main"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"n": 501}, "first must be between 1 and 500, got 501"),
        ({"n": 0}, "first must be between 1 and 500, got 0"),
        ({"n": 5, "after": "bm90LWEtY3Vyc29y"}, "not a valid cursor"),
        ({"n": 5, "f": {"sources": ["nowhere"]}}, "unknown source(s): nowhere"),
    ],
)
def test_bad_list_arguments(sims: Simulators, args: dict[str, Any], message: str) -> None:
    with gateway_client(sims.settings()) as client:
        body = gql(client, PAGE, args)
    assert codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["message"] == message
    assert sims.log.entries == []


def test_tampered_and_foreign_cursors(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        cursor = gql(client, PAGE, {"n": 3})["data"]["orders"]["pageInfo"]["endCursor"]
        body, _, mac = base64.urlsafe_b64decode(cursor).rpartition(b".")
        data = json.loads(body)
        first_stream = next(iter(data["p"]))
        data["p"][first_stream] += 1  # skip an order, keep the old signature
        tampered = base64.urlsafe_b64encode(json.dumps(data).encode() + b"." + mac).decode()
        assert codes(gql(client, PAGE, {"n": 3, "after": tampered})) == ["BAD_USER_INPUT"]
        foreign = gql(client, PAGE, {"n": 3, "after": cursor, "f": {"status": ["PENDING"]}})
        assert codes(foreign) == ["BAD_USER_INPUT"]
        assert "another query" in foreign["errors"][0]["message"]


def test_customers_by_email_across_every_source(sims: Simulators) -> None:
    from gateway.simulation import SHARED_PEOPLE

    email = SHARED_PEOPLE[0].email
    with gateway_client(sims.settings()) as client:
        body = gql(
            client,
            """query($e: String!) { customersByEmail(email: $e) {
            source sourceKind email } }""",
            {"e": email.upper()},
        )
    found = body["data"]["customersByEmail"]
    # WooCommerce's simulator serves its documentation's samples, not the shared people
    assert {c["source"] for c in found} == set(SOURCE_OF.values()) - {"woo"}
    assert all(c["email"].lower() == email for c in found)


def test_customer_orders_and_customer_email_filter_agree(sims: Simulators) -> None:
    from gateway.simulation import SHARED_PEOPLE

    email = SHARED_PEOPLE[1].email
    with gateway_client(sims.settings()) as client:
        body = gql(
            client,
            """query($e: String!) { customersByEmail(email: $e) { source
            sourceId orders(first: 500) { nodes { source sourceId createdAt customer {
            sourceId email } } pageInfo { hasNextPage } } } }""",
            {"e": email},
        )
        per_customer = []
        for c in body["data"]["customersByEmail"]:
            assert c["orders"]["pageInfo"]["hasNextPage"] is False
            for n in c["orders"]["nodes"]:
                assert n["source"] == c["source"]
                assert n["customer"]["sourceId"] == c["sourceId"]
                assert n["customer"]["email"].lower() == email
                per_customer.append((n["createdAt"], n["source"], n["sourceId"]))
        filtered = page_through(client, 4, {"customerEmail": email})
    assert len(per_customer) >= 5
    assert sorted(per_customer) == sorted(filtered)
    assert filtered == sorted(filtered, key=lambda r: (-_utc(r[0]).timestamp(), r[1], r[2]))


# -- property: random data, random page sizes ------------------------------------------


def _stamp(minutes: int) -> datetime:
    return NOW - timedelta(minutes=minutes)


def load_random_data(sims: Simulators, times: dict[str, list[int]]) -> None:
    """Replace every simulator's orders with copies of one template at the given times."""
    d = sims.set.data
    ls_t, zv_t, hg_t, ad_t, hl_t = (
        d["licensespring"].orders[0],
        d["zaveit"].orders[0],
        d["hamgam"].orders[0],
        next(iter(d["adobe_vip"].orders.values()))[0],
        d["highlevel"].orders[0],
    )
    ls = [
        {**ls_t, "id": 1700000000000000 + i, "created_at": iso_z(_stamp(m), millis=False)}
        for i, m in enumerate(times["licensespring"])
    ]
    d["licensespring"].orders = sorted(ls, key=lambda o: (o["created_at"], -o["id"]), reverse=True)
    zv = [
        {**zv_t, "id": f"z{i:05d}", "_id": f"z{i:05d}", "created": iso_z(_stamp(m))}
        for i, m in enumerate(times["zaveit"])
    ]
    d["zaveit"].orders = sorted(
        zv, key=lambda o: (o["created"], [-ord(c) for c in o["id"]]), reverse=True
    )
    hg = [
        {
            **hg_t,
            "id": 50000 + i,
            "created_at": _stamp(m).astimezone(TEHRAN).isoformat(timespec="seconds"),
        }
        for i, m in enumerate(times["hamgam"])
    ]
    d["hamgam"].orders = sorted(hg, key=lambda o: (_utc(o["created_at"]), -o["id"]), reverse=True)
    cids = list(d["adobe_vip"].orders)
    by_customer: dict[str, list[dict[str, Any]]] = {cid: [] for cid in cids}
    for i, m in enumerate(times["adobe_vip"]):
        cid = cids[i % len(cids)]
        by_customer[cid].append(
            {
                **ad_t,
                "customerId": cid,
                "orderId": f"{6000000000 + i}",
                "creationDate": iso_z(_stamp(m), millis=False),
            }
        )
    for cid, orders in by_customer.items():
        d["adobe_vip"].orders[cid] = sorted(
            orders, key=lambda o: (o["creationDate"], -int(o["orderId"])), reverse=True
        )
    hl = [
        {**hl_t, "_id": f"h{i:05d}", "createdAt": iso_z(_stamp(m))}
        for i, m in enumerate(times["highlevel"])
    ]
    d["highlevel"].orders = sorted(
        hl, key=lambda o: (o["createdAt"], [-ord(c) for c in o["_id"]]), reverse=True
    )


# Few distinct minutes, so ties across and within sources are common.
_times = st.lists(st.integers(min_value=0, max_value=40), max_size=25)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    times=st.fixed_dictionaries({k: _times for k in SOURCE_OF}),
    first=st.integers(min_value=1, max_value=30),
)
def test_property_paging_equals_sorted_union(
    sims: Simulators, times: dict[str, list[int]], first: int
) -> None:
    load_random_data(sims, times)
    try:
        with gateway_client(sims.settings()) as client:
            seen = page_through(client, first)
        assert seen == every_order(sims)
    finally:
        sims.restore()
