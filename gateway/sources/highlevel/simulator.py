"""A HighLevel payments-orders API double: Bearer + Version, altId, 400 for unknown ids;
and its OAuth token endpoint, whose refresh tokens rotate (each one spent when used)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.simulation import (
    JSON,
    Contract,
    SlidingWindow,
    TokenIssuer,
    created_times,
    demo_rng,
    int_param,
    iso_z,
    people,
    read_form,
)
from gateway.sources.highlevel import webhooks

DEMO_TOKEN = "demo-highlevel-token"
DEMO_LOCATION = "3SwdhCu3svxI8AKsPJt6"
DEMO_OAUTH_CLIENT_ID = "demo-hl-app.client"
DEMO_OAUTH_CLIENT_SECRET = "demo-hl-app-secret-Zr41x"
#: the refresh token a fresh simulator accepts (spent by its first use)
DEMO_REFRESH_TOKEN = "demo-hl-refresh-0-Kd93Lw"
API_VERSION = "2021-07-28"

#: The seed's documented order (GET /payments/orders/653f5e0cde5a1314e62a837c), as JSON.
SEED_ORDER: dict[str, Any] = {
    "_id": "653f5e0cde5a1314e62a837c",
    "altId": DEMO_LOCATION,
    "altType": "location",
    "status": "completed",
    "createdAt": "2023-11-20T10:23:36.515Z",
    "updatedAt": "2024-01-23T09:57:04.846Z",
    "contactId": "XPLSw2SVagl12LMDeTmQ",
    "currency": "USD",
    "amount": 100,
    "liveMode": False,
    "fulfillmentStatus": "unfulfilled",
    "contactSnapshot": {
        "last_name": "Mcclain",
        "type": "lead",
        "first_name_lower_case": "rogan",
        "email": "anish+11@hoopai.com",
        "last_name_lower_case": "mcclain",
        "location_id": "o6241QsiRwUIJHyjuhos",
        "company_name": "Jordan and Cox Trading",
    },
    "amountSummary": {"subtotal": 100, "discount": 5},
    "source": {"type": "invoice", "id": "61dd48ff65b013bc39bb09c6"},
    "items": [
        {
            "_id": "61dd33e88058b9f967ca79dc",
            "authorizeAmount": 0,
            "locationId": "SBAWb4yu7A4LSc0skQ6g",
            "name": "Sample Product",
            "qty": 1,
            "price": {
                "_id": "61dd33e88058b9f967ca79dd",
                "name": "One time",
                "type": "one_time",
                "currency": "USD",
                "amount": 100,
            },
            "product": {
                "_id": "61dd33e88058b9f967ca79de",
                "name": "Testing product",
                "productType": "SERVICE",
            },
        }
    ],
    "coupon": {"code": "FEST10", "_id": "63455e48901b43d4ef364a20"},
    "trackingId": "63319ef9-de0a-4c84-aebd-3585fb4a0cdf",
    "fingerprint": "5d51db5a-42b0-4b04-ba88-2c046c982a3a",
    "meta": {"couponSessionExpired": True},
    "markAsTest": False,
    "traceId": "d3b16a92-a8ed-4e6b-8467-844750f78ed5",
    "automaticTaxesCalculated": True,
    "taxCalculationProvider": "taxjar",
    "createdBy": "user123",
}
SEED_CONTACT: dict[str, Any] = {
    "id": "XPLSw2SVagl12LMDeTmQ",
    "locationId": DEMO_LOCATION,
    "firstName": "Rogan",
    "lastName": "Mcclain",
    "contactName": "Rogan Mcclain",
    "email": "anish+11@hoopai.com",
    "phone": "+18888888888",
    "companyName": "Jordan and Cox Trading",
    "address1": "3535 1st St N",
    "city": "Dolomite",
    "state": "AL",
    "country": "US",
    "postalCode": "35061",
    "type": "lead",
    "tags": [],
    "dateAdded": "2023-11-01T10:00:00.000Z",
}
_PRODUCTS = [
    ("Coaching session", Decimal("150")),
    ("Starter plan", Decimal("49.99")),
    ("Workshop ticket", Decimal("299.5")),
]
STATUS_VALUES = ["completed", "completed", "pending", "cancelled", "refunded"]


def _issuer() -> TokenIssuer:
    return TokenIssuer(
        DEMO_OAUTH_CLIENT_ID, DEMO_OAUTH_CLIENT_SECRET, refresh_token=DEMO_REFRESH_TOKEN
    )


@dataclass
class Data:
    orders: list[dict[str, Any]] = field(default_factory=list)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the marketplace app's OAuth: one client, one valid refresh token at a time
    tokens: TokenIssuer = field(default_factory=_issuer)


def sample_data(count: int = 60) -> Data:
    rng = demo_rng("highlevel")
    data = Data(orders=[SEED_ORDER], contacts={SEED_CONTACT["id"]: SEED_CONTACT})
    for i, p in enumerate(people("highlevel", 12)):
        cid = f"ct{i:018d}"
        data.contacts[cid] = {
            "id": cid,
            "locationId": DEMO_LOCATION,
            "firstName": p.first,
            "lastName": p.last,
            "contactName": f"{p.first} {p.last}",
            "email": p.email,
            "phone": p.phone,
            "companyName": p.company,
            "address1": p.street,
            "city": p.city,
            "state": "",
            "country": p.country,
            "postalCode": p.postal_code,
            "type": "customer",
            "tags": [],
        }
    contacts = [c for c in data.contacts.values() if c["id"] != SEED_CONTACT["id"]]
    for n, moment in enumerate(created_times("highlevel", count)):
        contact = rng.choice(contacts)
        items: list[dict[str, Any]] = []
        for k in range(rng.randint(1, 3)):
            name, price = rng.choice(_PRODUCTS)
            items.append(
                {
                    "_id": f"it{n:04d}{k:02d}",
                    "name": name,
                    "qty": rng.randint(1, 2),
                    "locationId": DEMO_LOCATION,
                    "price": {
                        "_id": f"pr{n:04d}{k:02d}",
                        "name": name,
                        "type": "one_time",
                        "currency": "USD",
                        "amount": price,
                    },
                    "product": {
                        "_id": f"pd-{name[:4].lower()}",
                        "name": name,
                        "productType": "SERVICE",
                    },
                }
            )
        subtotal = sum((i["price"]["amount"] * i["qty"] for i in items), Decimal("0"))
        discount = Decimal(rng.choice([0, 0, 5, 10]))
        created = iso_z(moment)
        data.orders.append(
            {
                "_id": f"65{n:022x}",
                "altId": DEMO_LOCATION,
                "altType": "location",
                "status": rng.choice(STATUS_VALUES),
                "createdAt": created,
                "updatedAt": created,
                "contactId": contact["id"],
                "currency": "USD",
                "amount": subtotal - discount,
                "liveMode": n % 11 != 3,
                "fulfillmentStatus": "unfulfilled",
                "contactSnapshot": {
                    "last_name": contact["lastName"],
                    "email": contact["email"],
                    "company_name": contact["companyName"],
                },
                "amountSummary": {"subtotal": subtotal, "discount": discount},
                "source": {"type": "funnel", "id": "fn-1"},
                "items": items,
                "markAsTest": False,
            }
        )
    data.orders.sort(key=lambda o: (o["createdAt"], _neg(o["_id"])), reverse=True)
    return data


def _neg(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


def _list_item(o: dict[str, Any], contacts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    contact = contacts.get(o["contactId"], {})
    return {
        "_id": o["_id"],
        "altId": o["altId"],
        "altType": o["altType"],
        "contactId": o["contactId"],
        "contactName": contact.get("contactName"),
        "contactEmail": contact.get("email"),
        "currency": o["currency"],
        "amount": o["amount"],
        "subtotal": o["amountSummary"]["subtotal"],
        "discount": o["amountSummary"]["discount"],
        "status": o["status"],
        "liveMode": o["liveMode"],
        "totalProducts": len(o["items"]),
        "sourceType": o["source"]["type"],
        "createdAt": o["createdAt"],
        "updatedAt": o["updatedAt"],
        "fulfillmentStatus": o["fulfillmentStatus"],
    }


def _error(status: int, message: Any, error: str | None = None) -> Response:
    body: dict[str, Any] = {"statusCode": status, "message": message}
    if error:
        body["error"] = error
    return JSON(body, status)


#: HighLevel's documented burst limit per location.
RATE_LIMIT = (100, 10.0)


def listed(data: Data) -> list[tuple[str, str]]:
    """(creation time as the backend writes it, the gateway's sourceId) of every order in
    ``data``: what the tests check the gateway's lists against."""
    return [(o["createdAt"], o["_id"]) for o in data.orders]


def create_app(
    data: Data,
    *,
    token: str = DEMO_TOKEN,
    location_id: str = DEMO_LOCATION,
    rate_limit: tuple[int, float] | None = RATE_LIMIT,
) -> Starlette:
    window = SlidingWindow(*rate_limit) if rate_limit else None

    def denied(request: Request) -> Response | None:
        if window is not None:
            admitted, _remaining = window.admit()
            if not admitted:
                return JSON(
                    {"statusCode": 429, "message": "Too many requests"},
                    429,
                    headers={
                        "X-RateLimit-Max": str(window.limit),
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Interval-Milliseconds": str(int(window.window_s * 1000)),
                    },
                )
        bearer = request.headers.get("authorization", "")
        if bearer != f"Bearer {token}" and not (
            bearer.startswith("Bearer ") and data.tokens.accepts(bearer[7:])
        ):
            return _error(401, "Invalid JWT", "Unauthorized")
        if request.headers.get("version") != API_VERSION:
            return _error(400, "Version header is missing or not supported")
        return None

    def location_problem(request: Request) -> Response | None:
        alt = request.query_params.get("altId")
        if not alt:
            return _error(422, ["altId must be a string"], "Unprocessable Entity")
        if alt != location_id:
            return _error(403, "The token does not have access to this location", "Forbidden")
        return None

    async def get_order(request: Request) -> Response:
        if (refusal := denied(request) or location_problem(request)) is not None:
            return refusal
        found = next((o for o in data.orders if o["_id"] == request.path_params["id"]), None)
        return JSON(found) if found else _error(400, "Order not found")

    async def list_orders(request: Request) -> Response:
        if (refusal := denied(request) or location_problem(request)) is not None:
            return refusal
        q = request.query_params
        items = data.orders
        if (status := q.get("status")) is not None:
            items = [o for o in items if o["status"] == status]
        if (contact := q.get("contactId")) is not None:
            items = [o for o in items if o["contactId"] == contact]
        if (start := q.get("startAt")) is not None:
            items = [o for o in items if o["createdAt"][:10] >= start]
        if (end := q.get("endAt")) is not None:
            items = [o for o in items if o["createdAt"][:10] <= end]
        limit = int_param(q.get("limit"), 10, low=1, high=100)
        offset = int_param(q.get("offset"), 0)
        page = [_list_item(o, data.contacts) for o in items[offset : offset + limit]]
        return JSON({"data": page, "totalCount": len(items)})

    async def get_contact(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        found = data.contacts.get(request.path_params["id"])
        return JSON({"contact": found}) if found else _error(400, "Contact not found")

    async def duplicate(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        email = (request.query_params.get("email") or "").lower()
        found = next((c for c in data.contacts.values() if c["email"].lower() == email), None)
        return JSON({"contact": found})

    async def oauth_token(request: Request) -> Response:
        form = await read_form(request)
        tokens = data.tokens
        if form.get("grant_type") != "refresh_token":
            return tokens.refuse(400, "unsupported_grant_type", "grant_type is not supported")
        if (refusal := tokens.client_refusal(form)) is not None:
            return refusal
        if form.get("user_type") not in ("Location", "Company"):
            return tokens.refuse(400, "invalid_request", "user_type must be Location or Company")
        answer = tokens.rotate(form.get("refresh_token"))
        if isinstance(answer, Response):
            return answer
        return JSON(
            {
                **answer,
                "scope": "payments/orders.readonly contacts.readonly",
                "userType": "Location",
                "locationId": location_id,
            }
        )

    return Starlette(
        routes=[
            Route("/oauth/token", oauth_token, methods=["POST"]),
            Route("/payments/orders", list_orders),
            Route("/payments/orders/{id}", get_order),
            Route("/contacts/search/duplicate", duplicate),
            Route("/contacts/{id}", get_contact),
        ]
    )


def demo_source(
    base_url: str, *, renewing: bool = False, token_store: str | None = None
) -> dict[str, Any]:
    """The demo's source; ``renewing``: the OAuth app with its rotating refresh token
    (kept in ``token_store``) instead of a fixed private integration token."""
    credentials: dict[str, Any] = (
        {
            "oauth_client_id": DEMO_OAUTH_CLIENT_ID,
            "oauth_client_secret": DEMO_OAUTH_CLIENT_SECRET,
            "oauth_refresh_token": DEMO_REFRESH_TOKEN,
            "oauth_url": base_url,
            **({"token_store": token_store} if token_store else {}),
        }
        if renewing
        else {"token": DEMO_TOKEN}
    )
    return {
        "kind": "highlevel",
        "base_url": base_url,
        **credentials,
        "location_id": DEMO_LOCATION,
        "webhook_public_key": webhooks.DEMO_PUBLIC_KEY,
    }


#: the seed order and the refusal the contract suite checks (tests/test_sources_contract.py)
CONTRACT = Contract(
    seed_id="653f5e0cde5a1314e62a837c",
    missing_id="000000000000000000000000",
    credential="token",
    auth_header="authorization",
    auth_backend_code="401",
    customer_path="/contacts/",
    number=None,
    status="COMPLETED",
    source_status="completed",
    created_at="2023-11-20T10:23:36.515000+00:00",
    total=("100.00", "USD"),
    line_count=1,
)
