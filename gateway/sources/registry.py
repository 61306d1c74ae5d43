"""Kind → adapter. Adding a sixth kind is one folder and one line here."""

from __future__ import annotations

from gateway.sources import hamgam, licensespring
from gateway.sources.base import Adapter

ADAPTERS: dict[str, Adapter] = {
    adapter.kind.value: adapter
    for adapter in (
        licensespring.ADAPTER,
        hamgam.ADAPTER,
    )
}
