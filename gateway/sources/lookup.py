"""Customers found by email: a backend's broad search read to its last page, and the one
exact comparison the gateway makes of what comes back.

Backends compare emails their own way: Django's ``email`` filter is an exact, case-sensitive
match on PostgreSQL ("exact" and "iexact" in Django's QuerySet API reference), so the same
person typed in another case is missed. Each adapter asks with a search that cannot miss a
case variant (``email__icontains``, a free-text search) and keeps only the customers whose
email equals the one asked, ignoring case: ``ann@x.io`` never matches ``joann@x.io``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from gateway.errors import BackendError

T = TypeVar("T")

#: Pages of one search read at most (of up to 100 customers each): a whole address rarely
#: matches more than a handful; past this, the search fails rather than miss a customer.
MAX_SEARCH_PAGES = 10


def same_email(found: object, wanted: str) -> bool:
    """Whether a backend's email value is ``wanted``, ignoring case (never an empty one)."""
    if not isinstance(found, str) or not found.strip():
        return False
    return found.strip().lower() == wanted.strip().lower()


async def every_page(
    source: str,
    read: Callable[[int], Awaitable[tuple[Sequence[T], bool]]],
    *,
    max_pages: int = MAX_SEARCH_PAGES,
) -> list[T]:
    """Every item of a paged search: ``read(n)`` gives page ``n`` (from 0) and whether
    another follows. A search longer than ``max_pages`` is a BackendError for ``source``
    (its part of the answer only), not a silently shortened list."""
    items: list[T] = []
    for number in range(max_pages):
        found, more = await read(number)
        items += found
        if not more or not found:
            return items
    raise BackendError(
        source, f"the customer search matched more than {max_pages} pages of customers"
    )
