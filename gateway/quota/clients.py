"""Who a caller is for its quota, the check itself, and gateway_client_requests_total.

An API key is one client by its name (every replica, every credential of that name); a
JWT by its ``sub``; an anonymous caller (and a JWT without ``sub``) by its address: the
connection's peer, or with ``[server] trusted_proxies`` what those proxies wrote in
X-Forwarded-For (read by uvicorn's ProxyHeadersMiddleware in gateway.app). An IPv6
address counts by its /64, the block one host is usually given. Redis key names hold a
digest, never the subject or the address.
"""

from __future__ import annotations

import hashlib
import ipaddress

from starlette.types import Scope

from gateway.cache.store import Store
from gateway.clock import Clock, SystemClock
from gateway.errors import ClientRateLimited
from gateway.quota.rate import LocalQuota
from gateway.quota.shared import RedisQuota
from gateway.security import Principal
from gateway.telemetry import metrics


def client_address(scope: Scope) -> str:
    """The caller's address as the quota counts it (an IPv6 address by its /64)."""
    client = scope.get("client")
    if not client:
        return "unknown"
    host = str(client[0])
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host  # not an IP (a test client, a unix socket's name): itself
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def identity(principal: Principal, scope: Scope) -> str:
    """The key a caller's quota is kept under: a digest, so it names no one."""
    if principal.kind == "key":
        who = f"key\x00{principal.name}"
    elif principal.kind == "jwt" and principal.subject is not None:
        who = f"jwt\x00{principal.subject}"
    else:
        who = f"address\x00{client_address(scope)}"
    return hashlib.sha256(who.encode()).hexdigest()[:32]


def metric_label(principal: Principal) -> str:
    """The ``client`` label: a key's name, else ``jwt`` or ``anonymous`` (bounded)."""
    return principal.name if principal.kind == "key" else principal.kind


class ClientQuotas:
    """The quota check of every request, in Redis when the cache is Redis."""

    def __init__(self, clock: Clock | None = None, *, metrics_on: bool = True) -> None:
        self.clock = clock
        self.local = LocalQuota(clock or SystemClock())
        self.shared: RedisQuota | None = None
        self.metrics_on = metrics_on

    def use(self, store: Store | None) -> None:
        """Share the quotas through ``store`` when it is Redis (called once it is open)."""
        self.shared = None
        if store is not None and store.connection is not None:
            self.shared = RedisQuota(store.connection, self.local, self.clock)

    def count(self, principal: Principal) -> None:
        """One admitted request, counted ``ok`` (the service calls this directly, with no
        await, for a caller without a quota)."""
        if self.metrics_on:  # metric_label, inline: this runs on every request
            metrics.record_client(
                principal.name if principal.kind == "key" else principal.kind, "ok"
            )

    async def admit(self, principal: Principal, scope: Scope) -> None:
        """Counts one request of ``principal``; ClientRateLimited when it is over quota."""
        per_minute = principal.requests_per_minute
        if not per_minute:
            self.count(principal)
            return
        who = identity(principal, scope)
        if self.shared is not None:
            wait = await self.shared.take(who, per_minute)
        else:
            wait = self.local.take(who, per_minute)
        if wait > 0:
            if self.metrics_on:
                metrics.record_client(metric_label(principal), "limited")
            raise ClientRateLimited(wait)
        self.count(principal)
