"""Adobe IMS, OAuth server-to-server (docs/backends.md): client credentials for an access token.

``POST {ims_url}/ims/token/v3`` with ``client_id``, ``client_secret``,
``grant_type=client_credentials`` and ``scope`` (comma-separated); no refresh token: a new
access token is simply asked for again.
"""

from __future__ import annotations

from gateway.credentials.base import Issued
from gateway.credentials.endpoint import TokenEndpoint

DEFAULT_URL = "https://ims-na1.adobelogin.com"


class AdobeIms:
    """A :class:`~gateway.credentials.base.Grant` of Adobe IMS client credentials."""

    rotates = False

    def __init__(
        self,
        source: str,
        *,
        ims_url: str,
        client_id: str,
        client_secret: str,
        scopes: str,
        timeout_s: float,
    ) -> None:
        self.url = ims_url.rstrip("/") + "/ims/token/v3"
        self._endpoint = TokenEndpoint(source, self.url, timeout_s=timeout_s)
        self._form = {
            "client_id": client_id,
            "client_secret": client_secret,
            "grant_type": "client_credentials",
            "scope": scopes,
        }

    async def request(self, refresh_token: str | None) -> Issued:
        return await self._endpoint.post(self._form)

    async def aclose(self) -> None:
        await self._endpoint.aclose()
