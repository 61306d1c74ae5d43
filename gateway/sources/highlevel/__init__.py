"""HighLevel (LeadConnector): payments orders of one location; contacts as customers."""

from gateway.sources.base import Adapter, Simulated
from gateway.sources.highlevel.client import HighLevelSource
from gateway.sources.highlevel.normalize import KIND
from gateway.sources.highlevel.settings import HighLevelSettings

ADAPTER = Adapter(
    KIND,
    HighLevelSettings,
    HighLevelSource,
    simulator=Simulated(
        "gateway.sources.highlevel.simulator",
        "hl-main",
        # the demo's credentials that renew, from the simulator's token endpoint
        renewing=lambda token_store: {"renewing": True, "token_store": token_store},
        rate_limited=True,  # 100 calls per 10 s per location (docs/backends.md)
    ),
)
