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
    """Replaces configured secret values (tokens, keys) in free text such as error bodies."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, values))) if values else None

    def __call__(self, message: str) -> str:
        if self._pattern is None:
            return message
        return self._pattern.sub("[redacted]", message)
