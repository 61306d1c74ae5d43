"""The `[sources.<name>]` table of kind highlevel."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl, Field, model_validator
from pydantic_core import PydanticCustomError

from gateway.credentials.config import one_way
from gateway.sources.base import SourceSettings
from gateway.sources.highlevel.grant import DEFAULT_URL


class HighLevelSettings(SourceSettings):
    kind: Literal["highlevel"] = "highlevel"
    token: str | None = Field(
        default=None,
        description='a Private Integration token, sent as "Authorization: Bearer <token>"; '
        "or the oauth_* keys",
    )
    oauth_client_id: str | None = Field(
        default=None,
        description="a marketplace app's OAuth instead of token: the access token is renewed "
        "with a refresh token that rotates (each renewal spends it and returns the next)",
    )
    oauth_client_secret: str | None = Field(
        default=None, description="the app's client secret, with oauth_client_id"
    )
    oauth_refresh_token: str | None = Field(
        default=None,
        description="the first refresh token; a rotated one stored (Redis or token_store) "
        "wins over it",
    )
    oauth_url: AnyHttpUrl = Field(
        default=AnyHttpUrl(DEFAULT_URL), description="POST {oauth_url}/oauth/token"
    )
    token_store: str | None = Field(
        default=None,
        description="the file rotated refresh tokens live in (mode 0600); required with "
        'oauth_refresh_token unless [cache] backend = "redis"',
    )
    location_id: str = Field(
        description="the sub-account (location) whose orders are read; sent as altId with "
        "altType=location"
    )
    rate_limit: int | None = Field(
        default=100,
        ge=0,
        description="HighLevel allows 100 requests per 10 s per location: bursts queue "
        "client-side (0: no budget)",
    )

    webhook_public_key: str | None = Field(
        default=None,
        description="the PEM Ed25519 public key that checks x-ghl-signature on POST "
        "/webhooks/<name> (docs/live.md)",
    )
    webhook_rsa_public_key: str | None = Field(
        default=None,
        description="the PEM RSA public key that checks the older x-wh-signature (RSA-SHA256)",
    )

    @model_validator(mode="after")
    def _credentials(self) -> HighLevelSettings:
        one_way(
            ("token", self.token),
            {
                "oauth_client_id": self.oauth_client_id,
                "oauth_client_secret": self.oauth_client_secret,
                "oauth_refresh_token": self.oauth_refresh_token,
            },
        )
        if self.token_store is not None and not Path(self.token_store).parent.is_dir():
            raise PydanticCustomError("credentials", "'token_store': its directory does not exist")
        return self

    def check_with_cache(self, cache_backend: str) -> str | None:
        if self.oauth_refresh_token is None or cache_backend == "redis":
            return None
        if self.token_store is None:
            return (
                "token_store: required with oauth_refresh_token unless [cache] backend is "
                '"redis" (a rotated refresh token must outlive the process)'
            )
        return None

    def secrets(self) -> list[str]:
        values = (self.token, self.oauth_client_secret, self.oauth_refresh_token)
        return [v for v in values if v]
