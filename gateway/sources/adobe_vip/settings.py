"""The `[sources.<name>]` table of kind adobe_vip."""

from typing import Literal

from pydantic import Field

from gateway.sources.base import SourceSettings


class AdobeVipSettings(SourceSettings):
    kind: Literal["adobe_vip"] = "adobe_vip"
    #: the IMS access token, sent as "Authorization: Bearer <token>"
    token: str
    #: the integration's API key, sent as "X-Api-Key"
    api_key: str
    #: customers whose order history the order list covers
    customer_ids: tuple[str, ...] = Field(default=(), max_length=1000)
    #: ask for `pricing` on every line (fetch-price=true)
    fetch_price: bool = True

    def secrets(self) -> list[str]:
        return [self.token, self.api_key]
