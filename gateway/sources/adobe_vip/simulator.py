"""An Adobe VIP Marketplace Partner API double: headers, history paging, error codes; and
Adobe IMS's token endpoint (client credentials), whose short-lived tokens it accepts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.simulation import (
    JSON,
    NOW,
    Contract,
    TokenIssuer,
    created_times,
    demo_rng,
    int_param,
    iso_z,
    people,
    read_form,
)
from gateway.values import ValueProblem, utc_datetime

DEMO_TOKEN = "demo-adobe-ims-token"
DEMO_API_KEY = "demo-adobe-api-key"
DEMO_IMS_CLIENT_ID = "demo-adobe-ims-client"
DEMO_IMS_CLIENT_SECRET = "demo-adobe-ims-secret-p8Vq2"
SEED_ORDERS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "seed_orders.json").read_text()
)
SEED_CUSTOMER_ID = "9876543210"
ORDER_TYPES = ["NEW", "RENEWAL", "TRANSFER", "RETURN", "SWITCH"]
STATUS_CODES = ["1000", "1000", "1000", "1002", "1004", "1008", "1009", "1026"]
_OFFERS = [
    ("65304578CA01A12", Decimal("359.88")),
    ("65322651CA01A12", Decimal("659.88")),
    ("80004567EA01A12", Decimal("29.99")),
]


@dataclass
class Data:
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: customer id → that customer's orders, newest first
    orders: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Adobe IMS: the one OAuth server-to-server client it knows
    tokens: TokenIssuer = field(
        default_factory=lambda: TokenIssuer(DEMO_IMS_CLIENT_ID, DEMO_IMS_CLIENT_SECRET)
    )


def _customer(cid: str, person: Any) -> dict[str, Any]:
    return {
        "customerId": cid,
        "externalReferenceId": f"ext-{cid[-4:]}",
        "resellerId": "5556667778",
        "companyProfile": {
            "companyName": person.company,
            "preferredLanguage": "en-US",
            "address": {
                "country": person.country,
                "region": "",
                "city": person.city,
                "addressLine1": person.street,
                "addressLine2": "",
                "postalCode": person.postal_code,
                "phoneNumber": person.phone,
            },
            "contacts": [
                {
                    "firstName": person.first,
                    "lastName": person.last,
                    "email": person.email,
                    "phoneNumber": person.phone,
                }
            ],
        },
        "status": "1000",
        "creationDate": "2019-01-01T00:00:00Z",
    }


def sample_data(count: int = 60) -> Data:
    """Six customers (the seed's among them), ``count`` orders over all of them."""
    rng = demo_rng("adobe_vip")
    data = Data()
    persons = people("adobe_vip", 2)
    cids = sample_customer_ids()
    for cid, person in zip(cids, persons, strict=False):
        data.customers[cid] = _customer(cid, person)
        data.orders[cid] = []
    data.orders[SEED_CUSTOMER_ID] = [dict(o) for o in SEED_ORDERS]
    for n, moment in enumerate(created_times("adobe_vip", count)):
        cid = cids[n % len(cids)]
        oid = f"{5120000000 + n:010d}"
        status = rng.choice(STATUS_CODES)
        lines = []
        for k in range(rng.randint(1, 3)):
            offer, _price = rng.choice(_OFFERS)
            lines.append(
                {
                    "extLineItemNumber": k + 1,
                    "offerId": offer,
                    "quantity": rng.randint(1, 20),
                    "subscriptionId": f"{rng.randrange(10**7, 10**8)}" if status == "1000" else "",
                    "status": status,
                    "currencyCode": "USD",
                }
            )
        data.orders[cid].append(
            {
                "externalReferenceId": f"{n}",
                "orderId": oid,
                "customerId": cid,
                "orderType": ORDER_TYPES[n % len(ORDER_TYPES)],
                "referenceOrderId": "",
                "currencyCode": "USD",
                "creationDate": iso_z(moment, millis=False),
                "status": status,
                "lineItems": lines,
                "links": {
                    "self": {
                        "uri": f"/v3/customers/{cid}/orders/{oid}",
                        "method": "GET",
                        "headers": [],
                    }
                },
            }
        )
    for orders in data.orders.values():
        orders.sort(key=lambda o: (o["creationDate"], -int(o["orderId"])), reverse=True)
    return data


def _price_of(offer: str) -> Decimal:
    return next((p for o, p in _OFFERS if o == offer), Decimal("10.00"))


def _with_prices(order: dict[str, Any]) -> dict[str, Any]:
    """The order as Adobe answers it with fetch-price=true: `pricing` per line."""
    lines, total = [], Decimal("0")
    for line in order["lineItems"]:
        unit = _price_of(line["offerId"])
        line_total = unit * line["quantity"]
        total += line_total
        lines.append(
            {
                **line,
                "pricing": {
                    "partnerPrice": unit,
                    "discountedPartnerPrice": unit,
                    "netPartnerPrice": unit,
                    "lineItemPartnerPrice": line_total,
                },
            }
        )
    return {
        **order,
        "lineItems": lines,
        "pricingSummary": [
            {"totalLineItemPartnerPrice": total, "currencyCode": order["currencyCode"]}
        ],
    }


def _error(status: int, code: str, message: str) -> Response:
    return JSON({"code": code, "message": message, "additionalDetails": []}, status)


def listed(data: Data) -> list[tuple[str, str]]:
    """(creation time as the backend writes it, the gateway's sourceId) of every order in
    ``data``: what the tests check the gateway's lists against."""
    return [
        (o["creationDate"], f"{cid}/{o['orderId']}")
        for cid, orders in data.orders.items()
        for o in orders
    ]


def create_app(data: Data, *, token: str = DEMO_TOKEN, api_key: str = DEMO_API_KEY) -> Starlette:
    def denied(request: Request) -> Response | None:
        h = request.headers
        bearer = h.get("authorization", "")
        if bearer == f"Bearer {token}":
            wanted_key = api_key
        elif bearer.startswith("Bearer ") and data.tokens.accepts(bearer[7:]):
            wanted_key = data.tokens.client_id  # an IMS token goes with its client id
        else:
            return _error(401, "4116", "Invalid Authorization token")
        if h.get("x-api-key") != wanted_key:
            return _error(403, "4115", "Invalid API Key")
        if not h.get("x-correlation-id"):
            return _error(400, "1132", "Missing X-Correlation-Id header")
        if h.get("accept") != "application/json" or h.get("content-type") != "application/json":
            return _error(400, "1132", "Accept and Content-Type must be application/json")
        return None

    def priced(request: Request, order: dict[str, Any]) -> dict[str, Any]:
        return _with_prices(order) if request.query_params.get("fetch-price") == "true" else order

    async def get_order(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        cid, oid = request.path_params["cid"], request.path_params["oid"]
        found = next((o for o in data.orders.get(cid, []) if o["orderId"] == oid), None)
        if found is None:
            return _error(404, "2115", "Invalid Customer or Order ID")
        return JSON(priced(request, found))

    async def history(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        cid = request.path_params["cid"]
        if cid not in data.customers:
            return _error(404, "1116", "Invalid Customer ID")
        q = request.query_params
        try:
            start = utc_datetime(q.get("start-date")) or NOW - timedelta(days=365)
            end = utc_datetime(q.get("end-date")) or NOW
        except ValueProblem:
            return _error(400, "1132", "Invalid date")
        items = [
            o for o in data.orders[cid] if start <= (utc_datetime(o["creationDate"]) or NOW) <= end
        ]
        for name, key in (
            ("status", "status"),
            ("order-type", "orderType"),
            ("reference-order-id", "referenceOrderId"),
        ):
            if wanted := q.getlist(name):
                items = [o for o in items if o[key] in wanted]
        limit = int_param(q.get("limit"), 25, low=1, high=100)
        offset = int_param(q.get("offset"), 0)
        if offset > len(items):
            return _error(400, "1133", "Invalid offset")
        page = [priced(request, o) for o in items[offset : offset + limit]]

        def link(at: int) -> dict[str, Any]:
            query = urlencode(
                [(k, v) for k, v in q.multi_items() if k not in ("offset", "limit")]
                + [("offset", at), ("limit", limit)]
            )
            return {"uri": f"/v3/customers/{cid}/orders?{query}", "method": "GET", "headers": []}

        links = {"self": link(offset)}
        if offset + limit < len(items):
            links["next"] = link(offset + limit)
        if offset > 0:
            links["prev"] = link(max(0, offset - limit))
        return JSON(
            {
                "totalCount": len(items),
                "count": len(page),
                "offset": offset,
                "limit": limit,
                "items": page,
                "links": links,
            }
        )

    async def get_customer(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        found = data.customers.get(request.path_params["cid"])
        return JSON(found) if found else _error(404, "1116", "Invalid Customer ID")

    async def ims_token(request: Request) -> Response:
        form = await read_form(request)
        tokens = data.tokens
        if form.get("grant_type") != "client_credentials":
            return tokens.refuse(400, "unsupported_grant_type", "grant_type is not supported")
        if (refusal := tokens.client_refusal(form)) is not None:
            return refusal
        if not form.get("scope"):
            return tokens.refuse(400, "invalid_scope", "scope is missing")
        return JSON(tokens.issue())

    return Starlette(
        routes=[
            Route("/ims/token/v3", ims_token, methods=["POST"]),
            Route("/v3/customers/{cid}", get_customer),
            Route("/v3/customers/{cid}/orders", history),
            Route("/v3/customers/{cid}/orders/{oid}", get_order),
        ]
    )


def demo_source(base_url: str, *, renewing: bool = False) -> dict[str, Any]:
    """The demo's source; ``renewing``: IMS client credentials (the token endpoint is
    served beside the API) instead of a fixed token."""
    credentials: dict[str, Any] = (
        {
            "ims_client_id": DEMO_IMS_CLIENT_ID,
            "ims_client_secret": DEMO_IMS_CLIENT_SECRET,
            "ims_url": base_url,
        }
        if renewing
        else {"token": DEMO_TOKEN, "api_key": DEMO_API_KEY}
    )
    return {
        "kind": "adobe_vip",
        "base_url": base_url,
        **credentials,
        "customer_ids": sample_customer_ids(),
    }


def sample_customer_ids() -> list[str]:
    return [SEED_CUSTOMER_ID] + [f"{1000000000 + i * 1111:010d}" for i in range(1, 6)]


#: the seed order and the refusal the contract suite checks (tests/test_sources_contract.py)
CONTRACT = Contract(
    seed_id="9876543210/0123456789",
    missing_id="9876543210/0000000001",
    credential="token",
    auth_header="authorization",
    auth_backend_code="4116",
    customer_path="/v3/customers/",
    number="0123456789",
    status="COMPLETED",
    source_status="1000",
    created_at="2019-05-02T22:49:54.000000+00:00",
    total=("29.99", "USD"),
    line_count=1,
)
