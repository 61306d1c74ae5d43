"""The `[sources.<name>]` table of kind adobe_vip."""

from __future__ import annotations

from typing import Literal

from pydantic import AnyHttpUrl, Field, model_validator
from pydantic_core import PydanticCustomError

from gateway.credentials.config import one_way
from gateway.sources.adobe_vip.grant import DEFAULT_URL
from gateway.sources.base import SourceSettings


class AdobeVipSettings(SourceSettings):
    kind: Literal["adobe_vip"] = "adobe_vip"
    token: str | None = Field(
        default=None,
        description='a fixed IMS access token, sent as "Authorization: Bearer <token>" '
        "(needs api_key); or the ims_* keys",
    )
    api_key: str | None = Field(
        default=None,
        description='the integration\'s API key, sent as "X-Api-Key", with token (with '
        "ims_client_id, the client id is sent)",
    )
    ims_client_id: str | None = Field(
        default=None,
        description="OAuth server-to-server instead of token: the access token is asked of "
        "Adobe IMS and renewed",
    )
    ims_client_secret: str | None = Field(
        default=None, description="the client secret, with ims_client_id"
    )
    ims_scopes: str = Field(
        default="openid,AdobeID,read_organizations",
        description="the scopes asked of IMS, comma-separated",
    )
    ims_url: AnyHttpUrl = Field(
        default=AnyHttpUrl(DEFAULT_URL), description="IMS: POST {ims_url}/ims/token/v3"
    )
    customer_ids: tuple[str, ...] = Field(
        default=(),
        max_length=1000,
        description="customers whose order history the order list covers (one list each)",
    )
    fetch_price: bool = Field(
        default=True, description="ask for `pricing` on every line (fetch-price=true)"
    )

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
