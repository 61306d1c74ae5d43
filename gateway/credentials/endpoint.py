"""One POST to an OAuth token endpoint (RFC 6749 §5), and how its answers are read.

What a failure says to a caller is the endpoint's own error code (``invalid_client``) or
what went wrong on the way, never the form sent (it holds the secret) nor the endpoint's
``error_description`` (free text that may echo what it was sent).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from gateway.credentials.base import CredentialFailed, Issued

log = logging.getLogger("gateway.credentials")

#: An error code as RFC 6749 spells them; anything else is not repeated.
_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
#: A token endpoint that does not say how long a token lives: ask again after this long.
UNSAID_LIFETIME_S = 300.0


class TokenEndpoint:
    """Posts form-encoded grants to ``url`` for ``source``; one pooled client, made on
    first use and kept (a renewal is rare, but a refused one may be retried)."""

    def __init__(self, source: str, url: str, *, timeout_s: float) -> None:
        self.source = source
        self.url = url
        self._timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    async def post(self, form: Mapping[str, str]) -> Issued:
        client = self._client
        if client is None:
            client = self._client = httpx.AsyncClient(
                timeout=self._timeout_s, follow_redirects=False
            )
        try:
            response = await client.post(
                self.url, data=dict(form), headers={"Accept": "application/json"}
            )
        except httpx.TimeoutException:
            raise self._failed("the token endpoint did not answer in time") from None
        except httpx.HTTPError as exc:
            raise self._failed(f"cannot reach the token endpoint ({type(exc).__name__})") from None
        return self._read(response.status_code, response.content)

    def _read(self, status: int, content: bytes) -> Issued:
        try:
            body: Any = orjson.loads(content)
        except orjson.JSONDecodeError:
            body = None
        if status >= 400:
            code = body.get("error") if isinstance(body, dict) else None
            code = code if isinstance(code, str) and _CODE.match(code) else None
            said = code or "no error code"
            # 4xx: the endpoint refused these credentials; asking again will not help.
            # 429 and 5xx: it could not answer now.
            final = status < 500 and status != 429
            why = f"the token endpoint answered {said} (HTTP {status})"
            raise self._failed(why, code=code, retriable=not final)
        if not isinstance(body, dict):
            raise self._failed(f"the token endpoint answered HTTP {status} with no JSON object")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise self._failed("the token endpoint's answer has no access_token")
        lifetime = body.get("expires_in")
        if isinstance(lifetime, str) and lifetime.isdigit():
            lifetime = int(lifetime)
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0:
            log.warning(
                "source %s: the token endpoint did not say how long the token lives; "
                "renewing it after %.0f s",
                self.source,
                UNSAID_LIFETIME_S,
            )
            lifetime = UNSAID_LIFETIME_S
        refresh = body.get("refresh_token")
        return Issued(token, float(lifetime), refresh if isinstance(refresh, str) else None)

    def _failed(
        self, why: str, *, code: str | None = None, retriable: bool = True
    ) -> CredentialFailed:
        log.warning("source %s: token endpoint %s: %s", self.source, self.url, why)
        return CredentialFailed(self.source, why, code=code, retriable=retriable)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
