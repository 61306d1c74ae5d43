"""Hamgam: a Django web shop; amounts in minor units, currency from the config."""

from gateway.domain import SourceKind
from gateway.sources.base import Adapter
from gateway.sources.hamgam.client import HamgamSource
from gateway.sources.hamgam.settings import HamgamSettings

ADAPTER = Adapter(SourceKind.HAMGAM, HamgamSettings, HamgamSource)
