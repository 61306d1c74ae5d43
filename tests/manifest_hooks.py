"""A manifest hook for tests/test_manifest.py: what a manifest cannot say, in Python."""

from collections.abc import Mapping
from typing import Any


def number_without_year(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Hamgam's key "HG-2024-000123" as "HG-000123" (a shop that hides the year)."""
    prefix, _, rest = str(data.get("key") or "").partition("-")
    return {**data, "key": f"{prefix}-{rest.partition('-')[2]}" if rest else data.get("key")}
