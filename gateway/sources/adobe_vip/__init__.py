"""Adobe VIP Marketplace: a customer's order history; numeric status codes."""

from gateway.domain import SourceKind
from gateway.sources.adobe_vip.client import AdobeVipSource
from gateway.sources.adobe_vip.settings import AdobeVipSettings
from gateway.sources.base import Adapter

ADAPTER = Adapter(SourceKind.ADOBE_VIP, AdobeVipSettings, AdobeVipSource)
