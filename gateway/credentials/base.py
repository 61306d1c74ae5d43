"""What the HTTP seam sees of a renewing credential, and what a token endpoint answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.errors import BackendUnavailable


@dataclass(frozen=True, slots=True)
class Issued:
    """A token endpoint's answer: the access token, seconds it lives, and (for grants
    that rotate) the next refresh token; the one presented is spent."""

    access_token: str
    expires_in: float
    refresh_token: str | None = None

    def __repr__(self) -> str:  # never a token in a traceback or a debugger's log
        return f"Issued(expires_in={self.expires_in})"


class Credential(Protocol):
    """A source's access token, fetched on first use and renewed as it runs out."""

    async def token(self) -> str:
        """A token to send now (fetched or renewed first when there is none, or it is
        about to run out). Raises CredentialFailed when it cannot be had."""
        ...

    async def renew(self, refused: str) -> str:
        """A token other than ``refused`` (which the backend answered 401 to): renewed,
        unless another caller already did."""
        ...

    async def aclose(self) -> None: ...


class Grant(Protocol):
    """One token endpoint and the client's credentials for it."""

    #: where tokens are asked for (for log lines; not secret)
    url: str
    #: whether each answer carries a new refresh token and spends the presented one
    rotates: bool

    async def request(self, refresh_token: str | None) -> Issued:
        """Ask for a new access token; raises CredentialFailed."""
        ...

    async def aclose(self) -> None: ...


class CredentialFailed(BackendUnavailable):
    """The access token could not be renewed: the source's fields fail with
    BACKEND_UNAVAILABLE, ``backend_code`` the token endpoint's error code when it sent one.

    A refusal (4xx) is final; a token endpoint that is down, slow or answers nonsense may
    answer the next attempt.
    """

    def __init__(self, source: str, why: str, *, code: str | None, retriable: bool) -> None:
        super().__init__(source, f"the access token cannot be renewed: {why}", backend_code=code)
        self.retriable = retriable
        self.why = why

    def again(self) -> CredentialFailed:
        """A fresh copy for another caller that waited on the same renewal."""
        return CredentialFailed(
            self.source, self.why, code=self.backend_code, retriable=self.retriable
        )
