"""The `[sources.<name>]` table of kind hamgam."""

from typing import Literal

from pydantic import Field

from gateway.sources.base import SourceSettings


class HamgamSettings(SourceSettings):
    kind: Literal["hamgam"] = "hamgam"
    token: str
    #: ISO 4217 code: the shop's payloads carry amounts in minor units and no currency.
    currency: str = Field(pattern=r"^[A-Z]{3}$")

    def secrets(self) -> list[str]:
        return [self.token]
