"""The `[sources.<name>]` table of kind zaveit."""

from typing import Literal

from gateway.sources.base import SourceSettings


class ZaveitSettings(SourceSettings):
    kind: Literal["zaveit"] = "zaveit"
    #: sent in the "~session" header
    token: str

    def secrets(self) -> list[str]:
        return [self.token]
