"""``POST /webhooks/{source}``: HighLevel's order webhooks (``OrderCreate``,
``OrderStatusUpdate``) become live events.

The signature is checked over the raw body before anything is read from it:
``x-ghl-signature`` (Ed25519, base64) with the source's ``webhook_public_key``, else
``x-wh-signature`` (RSA PKCS#1 v1.5 with SHA-256, base64) with ``webhook_rsa_public_key``
(HighLevel's developer docs, "Webhook Integration Guide"). A bad or missing signature is
401 and publishes nothing; a ``timestamp`` more than 5 minutes off or a ``webhookId`` seen
before is answered 200 and dropped. The body is never logged.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from starlette.requests import Request
from starlette.responses import JSONResponse

from gateway.config import Settings
from gateway.live import metrics
from gateway.live.events import Change, EventOrigin, EventType, seen_now
from gateway.live.hub import LiveOrders
from gateway.sources.highlevel.settings import HighLevelSettings

log = logging.getLogger("gateway.live")

#: how far a webhook's timestamp may be from now (HighLevel's docs: about 5 minutes)
TOLERANCE_S = 300.0
#: webhook ids remembered to drop repeats (each for twice the tolerance)
REMEMBERED = 100_000

TYPES = {"OrderCreate": EventType.CREATED, "OrderStatusUpdate": EventType.UPDATED}


class Keys:
    """One HighLevel source's webhook keys, loaded once."""

    def __init__(self, settings: HighLevelSettings) -> None:
        self.location_id = settings.location_id
        self.ed25519: Ed25519PublicKey | None = None
        self.rsa: RSAPublicKey | None = None
        if settings.webhook_public_key:
            key = serialization.load_pem_public_key(settings.webhook_public_key.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("webhook_public_key is not an Ed25519 public key")
            self.ed25519 = key
        if settings.webhook_rsa_public_key:
            rsa = serialization.load_pem_public_key(settings.webhook_rsa_public_key.encode())
            if not isinstance(rsa, RSAPublicKey):
                raise ValueError("webhook_rsa_public_key is not an RSA public key")
            self.rsa = rsa

    def verify(self, body: bytes, headers: Any) -> bool:
        ghl, wh = headers.get("x-ghl-signature"), headers.get("x-wh-signature")
        try:
            if ghl and self.ed25519 is not None:
                self.ed25519.verify(base64.b64decode(ghl, validate=True), body)
                return True
            if wh and self.rsa is not None:
                signature = base64.b64decode(wh, validate=True)
                self.rsa.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
                return True
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return False


class Webhooks:
    """The endpoint: every HighLevel source's keys, the ids seen, the hub to publish on."""

    def __init__(
        self, settings: Settings, live: Callable[[], LiveOrders], now: Callable[[], float]
    ) -> None:
        self.keys = {
            name: Keys(conf)
            for name, conf in settings.sources.items()
            if isinstance(conf, HighLevelSettings)
        }
        self.live, self.now = live, now
        self._seen: OrderedDict[str, float] = OrderedDict()

    async def handle(self, request: Request) -> JSONResponse:
        name = request.path_params["source"]
        keys = self.keys.get(name)
        if keys is None:
            return _answer(404, f"no source '{name}' that takes webhooks")
        body = await request.body()
        if not keys.verify(body, request.headers):
            metrics.webhook_received(name, "bad_signature")
            log.warning("webhook for %s refused: bad or missing signature", name)
            return _answer(401, "bad or missing signature")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _answer(400, "the body is not JSON")
        if not isinstance(payload, dict):
            return _answer(400, "the body is not a JSON object")
        when = _moment(payload.get("timestamp"))
        now = self.now()
        if when is None or abs(now - when.timestamp()) > TOLERANCE_S:
            metrics.webhook_received(name, "stale")
            return _answer(200, "dropped: timestamp more than 5 minutes off")
        webhook_id = str(payload.get("webhookId") or "")
        if self._repeated(f"{name}\x00{webhook_id}", now):
            metrics.webhook_received(name, "duplicate")
            return _answer(200, "dropped: webhookId seen before")
        metrics.webhook_received(name, "accepted")
        change = _change(name, keys.location_id, payload, self.now)
        if change is not None:
            self.live().publish_soon(change)
        return _answer(200, "accepted")

    def _repeated(self, key: str, now: float) -> bool:
        seen = self._seen
        while seen and next(iter(seen.values())) < now - 2 * TOLERANCE_S:
            seen.popitem(last=False)
        if key in seen:
            return True
        seen[key] = now
        while len(seen) > REMEMBERED:
            seen.popitem(last=False)
        return False


def _change(
    source: str, location_id: str, payload: dict[str, Any], now: Callable[[], float]
) -> Change | None:
    """The change a webhook announces; None for other types, another location's orders
    or a body without an order id."""
    kind = TYPES.get(str(payload.get("type")))
    order_id = payload.get("_id")
    location = payload.get("locationId") or payload.get("altId")
    if kind is None or not isinstance(order_id, str) or not order_id or location != location_id:
        return None
    updated = _moment(payload.get("updatedAt"))
    happened = _moment(payload.get("createdAt")) if kind is EventType.CREATED else updated
    status = payload.get("status")
    return Change(
        kind,
        source,
        order_id,
        happened or seen_now(now),
        EventOrigin.WEBHOOK,
        (status if isinstance(status, str) else None, updated),
    )


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _answer(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": status, "message": message}, status)
