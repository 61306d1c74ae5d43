"""The HighLevel simulator's side of order webhooks: orders created and changed, each
change sent as HighLevel sends it (``OrderCreate``, ``OrderStatusUpdate``, signed with
Ed25519 in ``x-ghl-signature``) to a gateway's ``POST /webhooks/<source>``.

The demo key pair is derived from a fixed seed: its public half goes in the demo config
(``webhook_public_key``); a real deployment configures HighLevel's published key.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.encoding import dumps
from gateway.simulation import iso_z

DEMO_KEY = Ed25519PrivateKey.from_private_bytes(
    hashlib.sha256(b"gateway demo: highlevel webhooks").digest()
)
DEMO_PUBLIC_KEY = (
    DEMO_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def sign(body: bytes, key: Ed25519PrivateKey = DEMO_KEY) -> str:
    """``x-ghl-signature``: Ed25519 over the raw body, base64."""
    return base64.b64encode(key.sign(body)).decode()


def body(order: dict[str, Any], type_: str, *, at: datetime | None = None) -> bytes:
    """A webhook body as HighLevel documents it: the order's fields, its type, the
    location, a ``timestamp`` and a fresh ``webhookId``."""
    payload = {
        "type": type_,
        "locationId": order["altId"],
        **{k: order[k] for k in WEBHOOK_FIELDS if k in order},
        "timestamp": iso_z(at or datetime.now(UTC)),
        "webhookId": str(uuid.uuid4()),
    }
    return dumps(payload)


WEBHOOK_FIELDS = (
    "_id",
    "altId",
    "altType",
    "contactId",
    "contactSnapshot",
    "status",
    "fulfillmentStatus",
    "currency",
    "amount",
    "liveMode",
    "items",
    "amountSummary",
    "source",
    "createdAt",
    "updatedAt",
)


def new_order(orders: list[dict[str, Any]], *, now: datetime | None = None) -> dict[str, Any]:
    """A new pending order, newest of all (a copy of the newest one's contents)."""
    moment = iso_z(now or datetime.now(UTC))
    template = orders[0]
    number = sum(1 for o in orders if o["_id"].startswith("66")) + 1
    order = {
        **template,
        "_id": f"66{number:022x}",
        "status": "pending",
        "createdAt": moment,
        "updatedAt": moment,
        "amount": Decimal(str(template["amount"])),
    }
    orders.insert(0, order)
    return order


def change_status(
    orders: list[dict[str, Any]], order_id: str, status: str, *, now: datetime | None = None
) -> dict[str, Any]:
    order = next(o for o in orders if o["_id"] == order_id)
    order["status"] = status
    order["updatedAt"] = iso_z(now or datetime.now(UTC))
    return order


def send(url: str, order: dict[str, Any], type_: str) -> httpx.Response:
    """POST one signed webhook to ``url`` (a gateway's /webhooks/<source>)."""
    raw = body(order, type_)
    headers = {"content-type": "application/json", "x-ghl-signature": sign(raw)}
    return httpx.post(url, content=raw, headers=headers, timeout=10)
