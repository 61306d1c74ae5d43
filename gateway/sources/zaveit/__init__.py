"""Zaveit: a reseller subscription marketplace; one offering per order, float money."""

from gateway.sources.base import Adapter, Simulated
from gateway.sources.zaveit.client import ZaveitSource
from gateway.sources.zaveit.normalize import KIND
from gateway.sources.zaveit.settings import ZaveitSettings

ADAPTER = Adapter(
    KIND,
    ZaveitSettings,
    ZaveitSource,
    simulator=Simulated("gateway.sources.zaveit.simulator", "reseller"),
)
