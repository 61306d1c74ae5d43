"""The gateway's exception tree, sorted by what the caller does next.

Every error a client sees carries one of the public codes of docs/errors.md in
``extensions.code``; backend errors also name the source and, where the backend sent
one, its own code.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
BACKEND_UNAVAILABLE = "BACKEND_UNAVAILABLE"
BACKEND_TIMEOUT = "BACKEND_TIMEOUT"
BACKEND_ERROR = "BACKEND_ERROR"
BACKEND_RATE_LIMITED = "BACKEND_RATE_LIMITED"
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"
CLIENT_RATE_LIMITED = "CLIENT_RATE_LIMITED"
INTERNAL = "INTERNAL"


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose; ``code`` is public."""

    code = INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code}


class BadUserInput(GatewayError):
    """The caller sent something the gateway cannot use (bad id, cursor, argument)."""

    code = BAD_USER_INPUT


class NotFound(GatewayError):
    """The object does not exist in its source."""

    code = NOT_FOUND


class Forbidden(GatewayError):
    """The caller's credential lacks the scope this needs."""

    code = FORBIDDEN


#: What a backend's error code looks like ("4116", "UNAUTHORIZED", "invalid_grant"); a
#: longer or stranger value is text, kept out of logs.
_CODE_LIKE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class ClientRateLimited(GatewayError):
    """The caller is over its own quota (requests per minute); refused before any work."""

    code = CLIENT_RATE_LIMITED

    def __init__(self, retry_after: float) -> None:
        #: whole seconds, rounded up: what Retry-After and ``retryAfterS`` say
        self.retry_after_s = max(1, math.ceil(retry_after))
        super().__init__(
            f"this client is over its quota of requests per minute; retry in {self.retry_after_s} s"
        )

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "retryAfterS": self.retry_after_s}


class BackendError(GatewayError):
    """A backend failed to give a usable answer; costs only the fields that needed it.

    ``message`` is the gateway's own words; ``said`` is the backend's (its error
    message), which the client sees after them but no log line does: a backend's text
    may name ids, paths or people.
    """

    code = BACKEND_ERROR
    #: whether trying the same idempotent call again may succeed
    retriable = False

    def __init__(
        self,
        source: str,
        message: str,
        *,
        backend_code: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
        said: str | None = None,
    ) -> None:
        own = f"source '{source}': {message}"
        super().__init__(f"{own}: {said}" if said else own)
        self.source = source
        self.backend_code = backend_code
        self.http_status = http_status
        self.retry_after = retry_after
        self._own = own

    def log_text(self) -> str:
        """What a log line says of this error: source, the gateway's words (with the HTTP
        status) and the backend's code, never the backend's text, path or query."""
        code = self.backend_code
        if code is not None and _CODE_LIKE.fullmatch(code):
            return f"{self._own} (backend code {code})"
        return self._own

    def extensions(self) -> dict[str, Any]:
        ext: dict[str, Any] = {"code": self.code, "source": self.source}
        if self.backend_code is not None:
            ext["backendCode"] = self.backend_code
        if self.http_status is not None:
            ext["httpStatus"] = self.http_status
        return ext


class BackendUnavailable(BackendError):
    """Could not reach the backend, or it said it is overloaded (5xx, 429)."""

    code = BACKEND_UNAVAILABLE
    retriable = True


class BackendTimeout(BackendError):
    """The backend did not answer within the source's timeout."""

    code = BACKEND_TIMEOUT
    retriable = True


class BackendRateLimited(BackendError):
    """The source's rate budget had no slot within ``rate_wait_s``; not sent to the backend."""

    code = BACKEND_RATE_LIMITED

    def extensions(self) -> dict[str, Any]:
        ext = super().extensions()
        ext["retryAfterS"] = math.ceil(self.retry_after or 0)
        return ext


class BackendRejected(BackendError):
    """The backend refused the request (4xx: credentials, permissions, bad parameters)."""


class BackendPayloadInvalid(BackendError):
    """The backend answered, but not with what its API documents (not JSON, wrong shape)."""


_backend_log = logging.getLogger("gateway.backend")


def misshapen(source: str, what: str, object_id: str, exc: Exception) -> BackendPayloadInvalid:
    """The BACKEND_ERROR for a payload a normalizer could not read, logged once here.

    Only what was expected is logged, never the value found: a payload may hold personal
    data (a ValueProblem says what it expected; a KeyError names the key it missed; other
    exceptions' texts may quote the value, so only their type is logged).
    """
    why = getattr(exc, "expected", None)  # gateway.values.ValueProblem (no import: a cycle)
    if why is None and isinstance(exc, KeyError):
        why = f"no key {exc}"
    _backend_log.warning(
        "source %s: %s %s does not have the documented shape: %s%s",
        source,
        what,
        object_id,
        type(exc).__name__,
        f": {why}" if why else "",
    )
    return BackendPayloadInvalid(
        source, f"the {what} {object_id} does not have the documented shape"
    )


class ConfigError(Exception):
    """The configuration cannot be used; the message is one line naming source and key."""
