"""Kind → adapter. Adding a kind is one folder and one line here; a kind described by a
manifest (docs/manifests.md) is a folder with its file and sample payloads."""

from __future__ import annotations

from gateway.sources import adobe_vip, hamgam, highlevel, licensespring, woocommerce, zaveit
from gateway.sources.base import Adapter
from gateway.sources.manifest import USER_ADAPTER

ADAPTERS: dict[str, Adapter] = {
    adapter.config_name: adapter
    for adapter in (
        licensespring.ADAPTER,
        zaveit.ADAPTER,
        hamgam.ADAPTER,
        adobe_vip.ADAPTER,
        highlevel.ADAPTER,
        woocommerce.ADAPTER,
        USER_ADAPTER,
    )
}
