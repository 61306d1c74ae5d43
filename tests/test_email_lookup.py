"""Customers by email in any case: the Django-built backends' exact ``email`` filter is
case-sensitive, so the gateway asks with a case-blind search, reads it to its last page
and keeps only the address asked (``ann@x.io`` is not ``joann@x.io``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.simulation import SHARED_PEOPLE
from gateway.sources.licensespring.simulator import DEMO_API_KEY
from gateway.sources.lookup import MAX_SEARCH_PAGES
from tests.conftest import Simulators, codes, gateway_client, gql

BY_EMAIL = """query($e: String!) { customersByEmail(email: $e) { source sourceId email } }"""
ORDERS_OF = """query($f: OrderFilter) { orders(filter: $f, first: 500) {
  nodes { source sourceId customer { email } } } }"""
#: the person every simulator holds, with the address each stores in lower case
PERSON = SHARED_PEOPLE[2]
SHOUTED = PERSON.email.upper()
#: near misses of PERSON's address: each contains it, in another case too
NEAR = [f"jo{PERSON.email}", f"{PERSON.email}.old", f"X{PERSON.email.upper()}"]


def customers_of(client: Any, email: str) -> list[dict[str, Any]]:
    body = gql(client, BY_EMAIL, {"e": email})
    assert "errors" not in body, body["errors"]
    found: list[dict[str, Any]] = body["data"]["customersByEmail"]
    return found


def test_the_licensespring_simulator_compares_as_django_does(sims: Simulators) -> None:
    base = f"{sims.base_url}/licensespring/api/v1/customers/"
    headers = {"Authorization": f"Api-Key {DEMO_API_KEY}"}

    def emails(**params: str) -> list[str]:
        body = httpx.get(base, params={"limit": "100", **params}, headers=headers).json()
        return [c["email"] for c in body["results"]]

    assert emails(email=PERSON.email) == [PERSON.email]
    assert emails(email=SHOUTED) == []  # exact: case-sensitive
    assert emails(email__icontains=SHOUTED) == [PERSON.email]
    assert emails(email__icontains=PERSON.email.split("@")[1].upper()) == emails(
        email__icontains="@example.com"
    )
    assert len(emails(email__icontains="@EXAMPLE.COM")) == len(SHARED_PEOPLE)
    assert emails(email__startswith=PERSON.email[:5]) == [PERSON.email]
    assert emails(email__startswith=PERSON.email[:5].upper()) == []


def test_an_upper_case_email_finds_the_licensespring_customer(sims: Simulators) -> None:
    with gateway_client(sims.settings(["licensespring"])) as client:
        found = customers_of(client, SHOUTED)
        orders = gql(client, ORDERS_OF, {"f": {"customerEmail": SHOUTED}})
    assert [c["email"] for c in found] == [PERSON.email]
    calls = sims.log.of("licensespring", "/api/v1/customers/")
    assert len(calls) == 2  # one search for each of the two lookups
    for call in calls:
        assert call.param("email__icontains") == SHOUTED and call.param("email") is None
    ordered = [
        o
        for o in sims.set.data["licensespring"].orders
        if (o.get("customer") or {}).get("email") == PERSON.email
    ]
    nodes = orders["data"]["orders"]["nodes"]
    assert len(nodes) == len(ordered) > 0
    assert {n["customer"]["email"] for n in nodes} == {PERSON.email}


def _add_near_misses(sims: Simulators, count: int = 0) -> None:
    """NEAR, and ``count`` more containing PERSON's address, as customers of the three
    backends searched by text, listed before every other customer."""
    emails = NEAR + [f"n{i}.{PERSON.email}" for i in range(count)]
    d = sims.set.data
    for kind in ("licensespring", "hamgam"):
        customers = d[kind].customers
        template = next(iter(customers.values()))
        added = {
            str(9_000_000 + i): {**template, "id": 9_000_000 + i, "email": email}
            for i, email in enumerate(emails)
        }
        d[kind].customers = {**added, **customers}
    accounts = d["zaveit"].accounts
    template = next(iter(accounts.values()))
    near = {
        f"near{i:020d}": {
            **template, "_id": f"near{i:020d}", "id": f"near{i:020d}", "email": {"default": email}
        }
        for i, email in enumerate(emails)
    }  # fmt: skip
    d["zaveit"].accounts = {**near, **accounts}


KINDS = ["licensespring", "hamgam", "zaveit"]
SEARCHES = {
    "licensespring": "/api/v1/customers/",
    "hamgam": "/api/customers/",
    "zaveit": "/v1/account",
}


def test_near_misses_do_not_match(sims: Simulators) -> None:
    _add_near_misses(sims)
    with gateway_client(sims.settings(KINDS)) as client:
        found = customers_of(client, SHOUTED)
        near = customers_of(client, NEAR[0].upper())
    assert sorted(c["source"] for c in found) == ["eu-shop", "licensing", "reseller"]
    assert {c["email"] for c in found} == {PERSON.email}
    assert [c["email"] for c in near] == [NEAR[0]] * 3


def test_every_page_of_matches_is_read(sims: Simulators) -> None:
    # 150 near misses listed first: the address asked is on the second page of each search
    _add_near_misses(sims, 150)
    with gateway_client(sims.settings(KINDS)) as client:
        found = customers_of(client, SHOUTED)
    assert sorted(c["source"] for c in found) == ["eu-shop", "licensing", "reseller"]
    assert {c["email"] for c in found} == {PERSON.email}
    for kind, path in SEARCHES.items():
        assert len([e for e in sims.log.of(kind) if e.path == path]) == 2, kind


def test_a_search_past_its_page_bound_fails_that_source_only(sims: Simulators) -> None:
    _add_near_misses(sims, 100 * MAX_SEARCH_PAGES)
    with gateway_client(sims.settings([*KINDS, "highlevel"])) as client:
        body = gql(client, BY_EMAIL, {"e": SHOUTED})
    assert [c["source"] for c in body["data"]["customersByEmail"]] == ["hl-main"]
    assert sorted(codes(body)) == ["BACKEND_ERROR"] * 3
    for error in body["errors"]:
        assert f"more than {MAX_SEARCH_PAGES} pages" in error["message"]
    for kind, path in SEARCHES.items():
        assert len([e for e in sims.log.of(kind) if e.path == path]) == MAX_SEARCH_PAGES


@pytest.mark.parametrize("email", ["", "   "])
def test_an_empty_customer_email_asks_no_backend(sims: Simulators, email: str) -> None:
    with gateway_client(sims.settings()) as client:
        body = gql(client, ORDERS_OF, {"f": {"customerEmail": email}})
    assert body["data"]["orders"]["nodes"] == []
    assert sims.log.entries == []
