"""Whether a source's renewing credential is accepted, for ``gateway check``."""

from __future__ import annotations

from gateway.credentials.base import CredentialFailed
from gateway.credentials.renewing import RenewingCredential


async def probe_credentials(source: object) -> str | None:
    """None when ``source`` has a fixed token or its token endpoint grants a token; else
    the endpoint's error code (``invalid_client``), or what failed when it sent none
    ("the token endpoint did not answer in time"). Never a secret.

    Asks the endpoint only when the source holds no usable token yet.
    """
    credential = getattr(source, "credential", None)
    if not isinstance(credential, RenewingCredential):
        return None
    try:
        await credential.token()
    except CredentialFailed as exc:
        return exc.backend_code or exc.why
    return None
