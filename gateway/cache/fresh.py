"""Reads that must come from the backend, not the cache (a live event's read of the
order it announces, a poller's look at the newest orders); what they read is stored, so
the next cached read is fresh too."""

from __future__ import annotations

from contextvars import ContextVar

FRESH: ContextVar[bool] = ContextVar("gateway_cache_fresh", default=False)
