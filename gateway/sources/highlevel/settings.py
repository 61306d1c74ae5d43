"""The `[sources.<name>]` table of kind highlevel."""

from typing import Literal

from gateway.sources.base import SourceSettings


class HighLevelSettings(SourceSettings):
    kind: Literal["highlevel"] = "highlevel"
    #: the private integration or OAuth token, sent as "Authorization: Bearer <token>"
    token: str
    #: the sub-account (location) whose orders are read; sent as altId with altType=location
    location_id: str
    #: HighLevel allows 100 requests per 10 s per location: bursts queue client-side
    rate_limit: int | None = 100

    def secrets(self) -> list[str]:
        return [self.token]
