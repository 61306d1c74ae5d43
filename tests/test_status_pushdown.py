"""Status filters pushed down whole: a call per status value where the backend's list takes
one (Hamgam, HighLevel), every value at once where it takes several (Zaveit, Adobe), none
where no order of the backend can match; the pages equal the unfiltered list filtered here."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.conftest import Simulators, gateway_client, gql

PAGE = """query($f: OrderFilter, $n: Int, $after: String) {
  orders(filter: $f, first: $n, after: $after) {
    edges { node { source sourceId createdAt status sourceStatus } }
    pageInfo { hasNextPage endCursor } } }"""
SHOP_AND_HL = ["eu-shop", "hl-main"]


def page_through(client: Any, first: int, f: dict[str, Any]) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    for _ in range(500):
        body = gql(client, PAGE, {"f": f, "n": first, "after": after})
        assert "errors" not in body, body["errors"]
        conn = body["data"]["orders"]
        nodes += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            return nodes
        after = conn["pageInfo"]["endCursor"]
    raise AssertionError("paging did not end")


def list_calls(sims: Simulators) -> dict[str, Counter[str | None]]:
    """The order-list calls each simulator saw, counted by the status they sent."""
    paths = {"hamgam": "/api/orders/", "highlevel": "/payments/orders"}
    return {
        kind: Counter(e.param("status") for e in sims.log.of(kind) if e.path == path)
        for kind, path in paths.items()
    }


def test_two_statuses_cost_one_call_each_on_hamgam_and_highlevel(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        everything = page_through(client, 500, {"sources": SHOP_AND_HL})
        sims.log.clear()
        wanted = {"sources": SHOP_AND_HL, "status": ["PENDING", "REFUNDED"]}
        body = gql(client, PAGE, {"f": wanted, "n": 50})
    by_hand = [n for n in everything if n["status"] in ("PENDING", "REFUNDED")]
    conn = body["data"]["orders"]
    assert [e["node"] for e in conn["edges"]] == by_hand
    assert conn["pageInfo"]["hasNextPage"] is False
    # the demo data: 14 pending and 7 refunded at the shop, 13 and 8 at HighLevel
    assert Counter((n["source"], n["sourceStatus"]) for n in by_hand) == {
        ("eu-shop", "pending"): 14, ("eu-shop", "refunded"): 7,
        ("hl-main", "pending"): 13, ("hl-main", "refunded"): 8,
    }  # fmt: skip
    # each status's orders fit in one call (first: 50 over 4 streams asks 25 of each)
    assert list_calls(sims) == {
        "hamgam": {"pending": 1, "refunded": 1},
        "highlevel": {"pending": 1, "refunded": 1},
    }


def test_a_status_of_several_backend_values_asks_for_each(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        everything = page_through(client, 500, {"sources": ["eu-shop"]})
        sims.log.clear()
        wanted = {"sources": ["eu-shop"], "status": ["PROCESSING", "COMPLETED"]}
        found = page_through(client, 500, wanted)
    assert found == [n for n in everything if n["status"] in ("PROCESSING", "COMPLETED")]
    # shipped is still being fulfilled: PROCESSING; delivered (and completed) COMPLETED
    assert {n["sourceStatus"] for n in found} == {"processing", "shipped", "delivered"}
    assert list_calls(sims)["hamgam"] == {
        "processing": 1, "shipped": 1, "delivered": 1, "completed": 1
    }  # fmt: skip


@pytest.mark.parametrize("first", [1, 4, 13])
def test_paging_over_status_streams_matches_the_list_filtered_by_hand(
    sims: Simulators, first: int
) -> None:
    wanted = {"sources": SHOP_AND_HL, "status": ["PENDING", "CANCELLED"]}
    with gateway_client(sims.settings()) as client:
        everything = page_through(client, 500, {"sources": SHOP_AND_HL})
        sims.log.clear()
        paged = page_through(client, first, wanted)
    assert paged == [n for n in everything if n["status"] in ("PENDING", "CANCELLED")]
    assert len(paged) > 40
    calls = list_calls(sims)
    # every call asked for one status of the filter's; none read the whole list
    assert set(calls["hamgam"]) == {"pending", "cancelled", "canceled"}
    assert set(calls["highlevel"]) == {"pending", "cancelled", "canceled"}


def test_no_call_where_no_backend_status_can_match(sims: Simulators) -> None:
    # the Python kinds, whose sample data the figures below were read from
    python_kinds = ["licensespring", "zaveit", "hamgam", "adobe_vip", "highlevel"]
    with gateway_client(sims.settings(python_kinds)) as client:
        # Zaveit has no PROCESSING or REFUNDED order, Adobe none either, LicenseSpring's
        # are all COMPLETED
        found = page_through(client, 50, {"status": ["PROCESSING", "REFUNDED"]})
        assert {n["source"] for n in found} == {"eu-shop", "hl-main"}
        assert sims.log.of("zaveit") == []
        assert sims.log.of("adobe_vip") == []
        assert sims.log.of("licensespring") == []
        # and HighLevel none that is PROCESSING or FAILED
        sims.log.clear()
        failed = page_through(client, 50, {"status": ["PROCESSING", "FAILED"]})
    assert {n["status"] for n in failed} == {"PROCESSING", "FAILED"}
    assert {n["source"] for n in failed} == {"eu-shop", "adobe"}
    assert sims.log.of("highlevel") == []
    assert sims.log.of("zaveit") == []


def test_zaveit_and_adobe_send_every_value_at_once(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        everything = page_through(client, 500, {"sources": ["reseller", "adobe"]})
        sims.log.clear()
        wanted = {"sources": ["reseller", "adobe"], "status": ["COMPLETED", "PENDING"]}
        found = page_through(client, 500, wanted)
    assert found == [n for n in everything if n["status"] in ("COMPLETED", "PENDING")]
    (zaveit,) = sims.log.of("zaveit")
    assert zaveit.params_named("~filter[status]") == ["accepted", "draft"]
    adobe = sims.log.of("adobe_vip")
    assert adobe
    # PENDING is 1002 or 1009 to Adobe, and 1009 is no value its status filter takes:
    # the filter is applied here only
    assert all(e.params_named("status") == [] for e in adobe)
    sims.log.clear()
    with gateway_client(sims.settings()) as client:
        completed = page_through(client, 500, {"sources": ["adobe"], "status": ["COMPLETED"]})
    assert completed == [
        n for n in everything if n["source"] == "adobe" and n["status"] == "COMPLETED"
    ]
    assert all(e.params_named("status") == ["1000"] for e in sims.log.of("adobe_vip"))


def test_unknown_among_the_statuses_pushes_no_status(sims: Simulators) -> None:
    # a status no table knows reads as UNKNOWN: no list of backend values can name it
    sims.set.data["hamgam"].orders[3]["status"] = "on-hold"
    sims.set.data["highlevel"].orders[5]["status"] = "partially_paid"
    odd = {
        ("eu-shop", str(sims.set.data["hamgam"].orders[3]["id"])),
        ("hl-main", sims.set.data["highlevel"].orders[5]["_id"]),
    }
    with gateway_client(sims.settings()) as client:
        found = page_through(
            client, 500, {"sources": SHOP_AND_HL, "status": ["UNKNOWN", "PENDING"]}
        )
    unknown = {(n["source"], n["sourceId"]) for n in found if n["status"] == "UNKNOWN"}
    assert unknown == odd
    assert {n["sourceStatus"] for n in found if n["status"] == "UNKNOWN"} == {
        "on-hold", "partially_paid"
    }  # fmt: skip
    pending = sum(o["status"] == "pending" for o in sims.set.data["hamgam"].orders)
    pending += sum(o["status"] == "pending" for o in sims.set.data["highlevel"].orders)
    assert len([n for n in found if n["status"] == "PENDING"]) == pending > 20
    assert list_calls(sims) == {"hamgam": {None: 1}, "highlevel": {None: 1}}
