"""The `[sources.<name>]` table of kind hamgam."""

from typing import Literal

from pydantic import Field

from gateway.sources.base import SourceSettings


class HamgamSettings(SourceSettings):
    kind: Literal["hamgam"] = "hamgam"
    token: str = Field(
        description='a staff or admin API token, sent as "Authorization: Token <token>"'
    )
    currency: str = Field(
        pattern=r"^[A-Z]{3}$",
        description="the shop's ISO 4217 currency: its payloads carry amounts in minor units "
        "and name no currency",
    )

    def secrets(self) -> list[str]:
        return [self.token]
