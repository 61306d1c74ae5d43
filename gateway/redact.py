"""The one redaction list: what never leaves the gateway, in payloads, errors or logs."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

#: Keys dropped wherever they occur in a backend payload (compared case-insensitively).
SECRET_KEYS = frozenset(
    {
        "initial_password",
        "is_initial_password",
        "password",
        "password_hash",
        "national_code",
        "billing_national_code",
        "authorization",
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "apikey",
        "x-api-key",
        "secret",
        "client_secret",
    }
)


def scrub_payload(value: Any) -> Any:
    """A copy of a JSON value without any key on the redaction list."""
    if isinstance(value, Mapping):
        return {k: scrub_payload(v) for k, v in value.items() if str(k).lower() not in SECRET_KEYS}
    if isinstance(value, list):
        return [scrub_payload(v) for v in value]
    return value


class SecretMasker:
    """Replaces configured secret values (tokens, keys) in free text such as error bodies,
    and secrets learned at run time (renewed access and refresh tokens)."""

    #: learned secrets kept: the newest this many (older tokens are long expired)
    LEARNED = 16

    def __init__(self, secrets: Iterable[str]) -> None:
        self._fixed = {s for s in secrets if s and len(s) >= 4}
        self._learned: list[str] = []
        self._pattern = self._compile()

    def _compile(self) -> re.Pattern[str] | None:
        values = sorted({*self._fixed, *self._learned}, key=len, reverse=True)
        return re.compile("|".join(map(re.escape, values))) if values else None

    def add(self, secret: str) -> None:
        """Mask ``secret`` too from now on."""
        if len(secret) < 4 or secret in self._fixed or secret in self._learned:
            return
        self._learned = [*self._learned[-(self.LEARNED - 1) :], secret]
        self._pattern = self._compile()

    def __call__(self, message: str) -> str:
        if self._pattern is None:
            return message
        return self._pattern.sub("[redacted]", message)
