"""The one JSON encoder: Decimals written as the exact number literals they hold.

Used for every response body (the GraphQL view, /export, the simulators): money leaves
as the backend wrote it, never through a float.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))
    raise TypeError(f"cannot encode {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """JSON with Decimals as exact number literals (raw payloads keep what they said)."""
    return orjson.dumps(value, default=_default)
