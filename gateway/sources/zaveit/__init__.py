"""Zaveit: a reseller subscription marketplace; one offering per order, float money."""

from gateway.domain import SourceKind
from gateway.sources.base import Adapter
from gateway.sources.zaveit.client import ZaveitSource
from gateway.sources.zaveit.settings import ZaveitSettings

ADAPTER = Adapter(SourceKind.ZAVEIT, ZaveitSettings, ZaveitSource)
