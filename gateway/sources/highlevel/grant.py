"""HighLevel OAuth 2.0 (docs/backends.md): a refresh token for an access token and the next
refresh token; the one presented is spent.

``POST {oauth_url}/oauth/token`` with ``client_id``, ``client_secret``,
``grant_type=refresh_token``, ``refresh_token`` and ``user_type=Location``.
"""

from __future__ import annotations

from gateway.credentials.base import CredentialFailed, Issued
from gateway.credentials.endpoint import TokenEndpoint

DEFAULT_URL = "https://services.leadconnectorhq.com"


class HighLevelOAuth:
    """A :class:`~gateway.credentials.base.Grant` of a rotating HighLevel refresh token."""

    rotates = True

    def __init__(
        self,
        source: str,
        *,
        oauth_url: str,
        client_id: str,
        client_secret: str,
        timeout_s: float,
    ) -> None:
        self.source = source
        self.url = oauth_url.rstrip("/") + "/oauth/token"
        self._endpoint = TokenEndpoint(source, self.url, timeout_s=timeout_s)
        self._client = {"client_id": client_id, "client_secret": client_secret}

    async def request(self, refresh_token: str | None) -> Issued:
        if not refresh_token:
            raise CredentialFailed(self.source, "no refresh token", code=None, retriable=False)
        return await self._endpoint.post(
            {
                **self._client,
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "user_type": "Location",
            }
        )

    async def aclose(self) -> None:
        await self._endpoint.aclose()
