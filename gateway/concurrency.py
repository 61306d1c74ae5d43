"""Concurrency helpers shared by loaders and sources."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def gather(*aws: Awaitable[T]) -> list[T]:
    """``asyncio.gather`` that awaits a lone awaitable directly: one key per batch is the
    common case, and a task per call is a measurable share of a small query's CPU."""
    if len(aws) == 1:
        return [await aws[0]]
    return list(await asyncio.gather(*aws))
