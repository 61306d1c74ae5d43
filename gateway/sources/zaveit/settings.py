"""The `[sources.<name>]` table of kind zaveit."""

from typing import Literal

from pydantic import Field

from gateway.sources.base import SourceSettings


class ZaveitSettings(SourceSettings):
    kind: Literal["zaveit"] = "zaveit"
    token: str = Field(description='the session token, sent in the "~session" header')

    def secrets(self) -> list[str]:
        return [self.token]
