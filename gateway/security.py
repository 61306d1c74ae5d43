"""Who is calling, and what they may read: API keys or JWTs → a Principal with scopes."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import jwt

from gateway.config import SecuritySettings
from gateway.errors import UNAUTHENTICATED, GatewayError

log = logging.getLogger("gateway.security")

ORDERS_READ = "orders:read"
PII_READ = "pii:read"
RAW_READ = "raw:read"


class Unauthenticated(GatewayError):
    """No credential where one is required, or one that is not valid."""

    code = UNAUTHENTICATED


@dataclass(frozen=True)
class Principal:
    name: str
    scopes: frozenset[str]
    #: the sources this caller may read; None is all of them
    sources: frozenset[str] | None = None
    #: what kind of caller, for the per-client quota and its metric: "key" (counted by
    #: its name), "jwt" (by its ``sub``) or "anonymous" (by address)
    kind: Literal["key", "jwt", "anonymous"] = "key"
    #: this caller's quota (gateway.quota); 0 is none
    requests_per_minute: int = 0
    #: a JWT's ``sub``; a token without one is counted by address, as anonymous callers
    subject: str | None = None
    #: every request of this caller is bulk (rate budgets serve interactive ones first)
    bulk: bool = False

    def can(self, scope: str) -> bool:
        return scope in self.scopes


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


class Authenticator:
    """Checks the credential of a request against the configured keys and JWT settings."""

    def __init__(self, settings: SecuritySettings) -> None:
        self.settings = settings
        self._keys = [
            (
                _digest(k.key) if k.key is not None else bytes.fromhex(k.key_sha256 or ""),
                Principal(
                    k.name,
                    frozenset(k.scopes),
                    frozenset(k.sources) if k.sources is not None else None,
                    requests_per_minute=k.requests_per_minute,
                    bulk=k.bulk,
                ),
            )
            for k in settings.api_keys
        ]
        per_client = settings.limits.requests_per_minute_per_client
        self.anonymous = Principal(
            "anonymous",
            frozenset(settings.anonymous_scopes),
            kind="anonymous",
            requests_per_minute=per_client,
        )

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        credential = _credential(headers)
        if credential is None:
            if self.settings.require_auth:
                raise Unauthenticated("a credential is required: Authorization: Bearer <key>")
            return self.anonymous
        if self.settings.jwt is not None and credential.count(".") == 2:
            return self._from_jwt(credential)
        presented = _digest(credential)
        found: Principal | None = None
        for digest, principal in self._keys:
            # Every key is compared, in constant time, so timing tells nothing.
            if hmac.compare_digest(presented, digest):
                found = principal
        if found is None:
            raise Unauthenticated("the credential is not valid")
        return found

    def _from_jwt(self, token: str) -> Principal:
        conf = self.settings.jwt
        assert conf is not None
        key = (conf.secret if conf.algorithm == "HS256" else conf.public_key) or ""
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[conf.algorithm],
                issuer=conf.issuer,
                audience=conf.audience,
                options={"require": ["exp"], "verify_aud": conf.audience is not None},
            )
        except jwt.PyJWTError as exc:
            log.info("rejected a JWT: %s", type(exc).__name__)
            raise Unauthenticated("the credential is not valid") from None
        raw_scopes = claims.get(conf.scope_claim, "")
        scopes = raw_scopes.split() if isinstance(raw_scopes, str) else list(raw_scopes)
        sources = claims.get(conf.sources_claim)
        subject = claims.get("sub")
        return Principal(
            "jwt" if subject is None else str(subject),
            frozenset(str(s) for s in scopes),
            frozenset(str(s) for s in sources) if isinstance(sources, list) else None,
            kind="jwt",
            requests_per_minute=self.settings.limits.requests_per_minute_per_client,
            subject=None if subject is None else str(subject),
        )


def _credential(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return auth.strip() or None
    api_key = headers.get("x-api-key")
    return api_key.strip() if api_key and api_key.strip() else None
