"""The request id: taken from the client's ``X-Request-Id`` when it is safe, else made.

Held in a context variable for the request's task and the tasks it starts (loaders), so
the HTTP seam, the log and error messages read the same id without passing it around.
"""

from __future__ import annotations

import itertools
import os
import re
from contextvars import ContextVar

HEADER = "X-Request-Id"
_SAFE = re.compile(r"[A-Za-z0-9._-]{1,128}")

_current: ContextVar[str | None] = ContextVar("gateway_request_id", default=None)


def _reseed() -> None:
    global _prefix, _counter
    _prefix = os.urandom(10).hex()
    _counter = itertools.count()


_prefix: str
_counter: itertools.count[int]
_reseed()
os.register_at_fork(after_in_child=_reseed)


def new() -> str:
    """A new id: 32 hex digits, a random prefix per process and a counter. Unique, not
    secret (it is echoed to clients), and far cheaper than uuid4 (no system call for
    randomness) on every request."""
    return f"{_prefix}{next(_counter) & 0xFFFFFFFFFFFF:012x}"


def accept_or_make(value: str | None) -> str:
    """The client's id when it is 1 to 128 of ``[A-Za-z0-9._-]`` (docs/operations.md), else
    a new one: anything else could smuggle text into logs and backend headers."""
    if value is not None and _SAFE.fullmatch(value):
        return value
    return new()


#: bind(request_id): make it this task's (and its children's) request id.
#: current(): the id of the request being served, or None outside one.
#: (The context variable's own methods: no Python call on every request and backend call.)
bind = _current.set
current = _current.get


def current_or_new() -> str:
    """The current request's id, or a fresh one (an error outside a request still gets one)."""
    return _current.get() or new()
