"""The `[sources.<name>]` table of kind adobe_vip."""

from __future__ import annotations

from typing import Literal

from pydantic import AnyHttpUrl, Field, model_validator
from pydantic_core import PydanticCustomError

from gateway.credentials.adobe_ims import DEFAULT_URL
from gateway.credentials.config import one_way
from gateway.sources.base import SourceSettings


class AdobeVipSettings(SourceSettings):
    kind: Literal["adobe_vip"] = "adobe_vip"
    #: a fixed IMS access token, sent as "Authorization: Bearer <token>"; or the ims_* keys
    token: str | None = None
    #: the integration's API key, sent as "X-Api-Key" (with ims_client_id: the client id)
    api_key: str | None = None
    #: OAuth server-to-server: the access token is asked of Adobe IMS and renewed
    ims_client_id: str | None = None
    ims_client_secret: str | None = None
    ims_scopes: str = "openid,AdobeID,read_organizations"
    #: POST {ims_url}/ims/token/v3
    ims_url: AnyHttpUrl = AnyHttpUrl(DEFAULT_URL)
    #: customers whose order history the order list covers
    customer_ids: tuple[str, ...] = Field(default=(), max_length=1000)
    #: ask for `pricing` on every line (fetch-price=true)
    fetch_price: bool = True

    @model_validator(mode="after")
    def _credentials(self) -> AdobeVipSettings:
        one_way(
            ("token", self.token),
            {"ims_client_id": self.ims_client_id, "ims_client_secret": self.ims_client_secret},
        )
        if self.token is not None and self.api_key is None:
            raise PydanticCustomError("credentials", "'api_key' is missing: 'token' needs it")
        return self

    @property
    def x_api_key(self) -> str:
        return self.api_key or self.ims_client_id or ""

    def secrets(self) -> list[str]:
        values = (self.token, self.api_key, self.ims_client_secret)
        return [v for v in values if v]
