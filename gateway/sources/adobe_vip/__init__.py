"""Adobe VIP Marketplace: a customer's order history; numeric status codes."""

from gateway.sources.adobe_vip.client import AdobeVipSource
from gateway.sources.adobe_vip.normalize import KIND
from gateway.sources.adobe_vip.settings import AdobeVipSettings
from gateway.sources.base import Adapter, Simulated

ADAPTER = Adapter(
    KIND,
    AdobeVipSettings,
    AdobeVipSource,
    simulator=Simulated(
        "gateway.sources.adobe_vip.simulator",
        "adobe",
        # the demo's credentials that renew, from the simulator's token endpoint
        renewing=lambda token_store: {"renewing": True},
    ),
)
