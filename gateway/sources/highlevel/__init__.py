"""HighLevel (LeadConnector): payments orders of one location; contacts as customers."""

from gateway.domain import SourceKind
from gateway.sources.base import Adapter
from gateway.sources.highlevel.client import HighLevelSource
from gateway.sources.highlevel.settings import HighLevelSettings

ADAPTER = Adapter(SourceKind.HIGHLEVEL, HighLevelSettings, HighLevelSource)
