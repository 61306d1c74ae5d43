"""The warnings a request collects while it runs (a cached copy served past its TTL).

The view opens a collection per request; the HTTP seam adds to it from whichever task
the request's loaders run in (tasks copy the context they are made in).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

_WARNINGS: ContextVar[list[dict[str, Any]] | None] = ContextVar("gateway_warnings", default=None)


def collect() -> list[dict[str, Any]]:
    """Start collecting for the current request; the list fills as it runs."""
    warnings: list[dict[str, Any]] = []
    _WARNINGS.set(warnings)
    return warnings


def warn_stale(source: str, age_s: float) -> None:
    """A STALE warning for ``source``: one per source, with the oldest copy's age."""
    warnings = _WARNINGS.get()
    if warnings is None:
        return
    age = int(age_s)
    for warning in warnings:
        if warning["code"] == "STALE" and warning["source"] == source:
            warning["ageS"] = max(warning["ageS"], age)
            return
    warnings.append({"code": "STALE", "source": source, "ageS": age})
