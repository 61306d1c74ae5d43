"""Hamgam: a Django web shop; amounts in minor units, currency from the config."""

from gateway.sources.base import Adapter, Simulated
from gateway.sources.hamgam.client import HamgamSource
from gateway.sources.hamgam.normalize import KIND
from gateway.sources.hamgam.settings import HamgamSettings

ADAPTER = Adapter(
    KIND,
    HamgamSettings,
    HamgamSource,
    simulator=Simulated("gateway.sources.hamgam.simulator", "eu-shop"),
)
