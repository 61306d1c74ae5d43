"""Values sealed before they reach Redis: AES-GCM with ``[cache] encryption_key``.

Redis is storage outside the process (its dumps, replicas and backups included), so
everything the gateway keeps there that holds a backend's data, a client's document or
a credential is sealed: cached backend bodies, APQ documents, access and refresh tokens.
Rate budget counters and locks hold nothing of anyone's and stay as they are.

A sealed value is ``GWS1`` + a key id (8 bytes) + a random nonce (12 bytes) + the
ciphertext with its tag. The key id is derived from the key (HMAC, so it tells nothing
about the key) and says which key opens the value: the current one, or during a rotation
``encryption_key_previous``. The Redis key name is bound in as associated data, so a value
copied under another name does not open either. A value that does not open (another key,
a value from before sealing, bytes changed) is a miss: the caller asks the backend again.

Nonces are random, so one key should seal at most 2**32 values (NIST SP 800-38D, 8.3):
a year of writes at ~136 a second. The README asks for a rotation at least yearly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_MAGIC = b"GWS1"
_ID_BYTES = 8
_NONCE_BYTES = 12
_HEADER = len(_MAGIC) + _ID_BYTES + _NONCE_BYTES
KEY_BYTES = 32


def new_key() -> str:
    """A fresh key in the config's form: 32 random bytes, base64."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def decode_key(text: str) -> bytes:
    """The key's bytes; ValueError saying what is wrong (never echoing the text)."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be base64 (32 random bytes, base64-encoded)") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"must be {KEY_BYTES} bytes once decoded, not {len(key)}")
    return key


def key_id(key: bytes) -> bytes:
    return hmac.new(key, b"gateway cache key id", hashlib.sha256).digest()[:_ID_BYTES]


class Sealer:
    """Seals with the current key; opens what the current or the previous key sealed."""

    def __init__(self, key: bytes, previous: bytes | None = None) -> None:
        self._id = key_id(key)
        self._aead = AESGCM(key)
        self._openers = {self._id: self._aead}
        if previous is not None and previous != key:
            self._openers[key_id(previous)] = AESGCM(previous)

    def __repr__(self) -> str:  # never a key in a traceback
        return f"Sealer(keys={len(self._openers)})"

    @classmethod
    def configured(cls, key: str, previous: str | None = None) -> Sealer:
        """From the config's base64 text (already checked by the settings)."""
        return cls(decode_key(key), decode_key(previous) if previous else None)

    def seal(self, name: str, value: bytes) -> bytes:
        """``value`` sealed for the Redis key ``name``."""
        nonce = os.urandom(_NONCE_BYTES)
        head = _MAGIC + self._id + nonce
        return head + self._aead.encrypt(nonce, value, _MAGIC + self._id + name.encode())

    def open(self, name: str, sealed: bytes) -> bytes | None:
        """What ``seal(name, ...)`` sealed; None for anything else."""
        if len(sealed) < _HEADER or not sealed.startswith(_MAGIC):
            return None
        ident = sealed[len(_MAGIC) : len(_MAGIC) + _ID_BYTES]
        aead = self._openers.get(ident)
        if aead is None:
            return None
        nonce = sealed[len(_MAGIC) + _ID_BYTES : _HEADER]
        try:
            return aead.decrypt(nonce, sealed[_HEADER:], _MAGIC + ident + name.encode())
        except InvalidTag:
            return None
