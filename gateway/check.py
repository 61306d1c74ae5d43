"""`gateway check`: is every configured source reachable with its credentials?

One cheap authenticated call per source, all at once: the first order of the source's
first list (a list call with limit 1 answers for every kind and needs the same
credentials as everything else). No retries, so one failing source is one call and its
timeout at most. Messages are the gateway's own errors: credentials are masked in them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.cache.policy import open_store, sealer_for
from gateway.config import Settings
from gateway.domain import OrderQuery
from gateway.errors import GatewayError
from gateway.sources.base import Source


@dataclass(frozen=True)
class Checked:
    """The check of one source."""

    source: str
    kind: str
    ok: bool
    latency_s: float
    error: str = ""


async def _check_one(source: Source) -> Checked:
    kind = source.kind.value
    streams = source.streams(OrderQuery())
    if not streams:
        return Checked(source.name, kind, False, 0.0, "nothing to call: no list configured")
    start = time.perf_counter()
    try:
        await source.list_orders(streams[0], OrderQuery(), 0, 1)
    except GatewayError as exc:
        message = exc.message.removeprefix(f"source '{source.name}': ")
        return Checked(source.name, kind, False, time.perf_counter() - start, message)
    return Checked(source.name, kind, True, time.perf_counter() - start)


async def check_sources(settings: Settings) -> list[Checked]:
    """Checks every source of ``settings`` concurrently, in the config's order."""
    from gateway.app import build_sources

    once = settings.model_copy(
        update={
            "sources": {
                name: conf.model_copy(update={"retries": 0})
                for name, conf in settings.sources.items()
            }
        }
    )
    # The configured store: a source whose refresh token rotates must renew where the
    # serving replicas keep it (Redis), never spend it on its own.
    conf = settings.cache
    store = open_store(conf.backend, conf.url, conf.max_entries, sealer=sealer_for(conf))
    sources = build_sources(once, cache=store)
    try:
        return list(await asyncio.gather(*(_check_one(s) for s in sources.values())))
    finally:
        for source in sources.values():
            await source.aclose()
        await store.aclose()


def render_table(results: Sequence[Checked]) -> str:
    """A plain-text table: source, kind, result, latency, error."""
    rows = [("SOURCE", "KIND", "RESULT", "LATENCY", "ERROR")]
    rows += [
        (r.source, r.kind, "OK" if r.ok else "FAIL", f"{r.latency_s * 1000:.0f} ms", r.error)
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True))
        + ("  " + row[4] if row[4] else "")
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"
