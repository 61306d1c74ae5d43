"""Kind → adapter. Adding a sixth kind is one folder and one line here."""

from __future__ import annotations

from gateway.sources import adobe_vip, hamgam, highlevel, licensespring, zaveit
from gateway.sources.base import Adapter

ADAPTERS: dict[str, Adapter] = {
    adapter.kind.value: adapter
    for adapter in (
        licensespring.ADAPTER,
        zaveit.ADAPTER,
        hamgam.ADAPTER,
        adobe_vip.ADAPTER,
        highlevel.ADAPTER,
    )
}
