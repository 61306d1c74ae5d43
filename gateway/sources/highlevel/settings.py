"""The `[sources.<name>]` table of kind highlevel."""

from typing import Literal

from gateway.sources.base import SourceSettings


class HighLevelSettings(SourceSettings):
    kind: Literal["highlevel"] = "highlevel"
    #: the private integration or OAuth token, sent as "Authorization: Bearer <token>"
    token: str
    #: the sub-account (location) whose orders are read; sent as altId with altType=location
    location_id: str

    def secrets(self) -> list[str]:
        return [self.token]
