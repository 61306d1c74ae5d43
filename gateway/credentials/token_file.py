"""``token_store``: rotated refresh tokens in a file only this user may read (mode 0600).

One JSON object, a record per source (keyed as the keeper says) holding the refresh token
and ``origin``, a digest of the configured refresh token it descends from. Every write is a
new file moved over the old one (``os.replace``), so a crash leaves the old file or the new,
never half of one. One process writes it; replicas share tokens through Redis, and each
keeps its own ``token_store`` (when set) as a copy that outlives a Redis restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("gateway.credentials")


def origin_of(configured: str) -> str:
    """What identifies a configured refresh token without holding it."""
    return hashlib.sha256(configured.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Stored:
    """A rotated refresh token, the configured one it descends from (its origin), and
    how many rotations from it (its generation: of two, the higher is the newer)."""

    origin: str
    refresh_token: str
    generation: int = 0

    def __repr__(self) -> str:
        return f"Stored(origin={self.origin!r}, generation={self.generation})"

    def record(self) -> dict[str, str | int]:
        return {
            "origin": self.origin,
            "refresh_token": self.refresh_token,
            "generation": self.generation,
        }

    def newer_than(self, other: Stored | None) -> bool:
        """Whether this is a later rotation of the same configured token than ``other``."""
        if other is None:
            return True
        return self.origin == other.origin and self.generation > other.generation

    @staticmethod
    def of(record: object) -> Stored:
        """Raises ValueError for anything but a stored refresh token's record."""
        if not isinstance(record, dict):
            raise ValueError("not a stored refresh token")
        origin, token = record.get("origin"), record.get("refresh_token")
        # records written before generations were counted are generation 0
        generation = record.get("generation", 0)
        if not isinstance(origin, str) or not isinstance(token, str) or not token:
            raise ValueError("not a stored refresh token")
        if not isinstance(generation, int) or isinstance(generation, bool) or generation < 0:
            raise ValueError("not a stored refresh token")
        return Stored(origin, token, generation)

    def encode(self) -> bytes:
        return json.dumps(self.record()).encode()

    @staticmethod
    def decode(data: bytes) -> Stored:
        return Stored.of(json.loads(data))


def pick(stored: Stored | None, configured: str, source: str) -> str:
    """The refresh token to present: the stored one descends from the configured one
    (a restart), unless an operator configured a new one since (a re-authorization)."""
    if stored is None:
        return configured
    if stored.origin == origin_of(configured):
        return stored.refresh_token
    log.warning(
        "source %s: the configured refresh token is not the one the stored token "
        "descends from (authorized again?); presenting the configured one",
        source,
    )
    return configured


class TokenFile:
    """The ``token_store`` file. Reads and writes raise OSError or ValueError."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, dict[str, str | int]]:
        try:
            with open(self.path, "rb") as handle:
                mode = os.fstat(handle.fileno()).st_mode
                text = handle.read()
        except FileNotFoundError:
            return {}
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("credentials: %s can be read by others; it is rewritten 0600", self.path)
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data

    def read(self, key: str) -> Stored | None:
        record = self._load().get(key)
        return None if record is None else Stored.of(record)

    def write(self, key: str, stored: Stored) -> None:
        """Sets one source's record; the file is replaced whole, fsynced, mode 0600.

        Synchronous on purpose: a renewal is rare, and a read-modify-write that never
        yields to the event loop cannot interleave with another source's.
        """
        data = self._load()
        data[key] = stored.record()
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(fd, 0o600)  # a leftover temp file keeps its old mode through O_CREAT
            handle.write(json.dumps(data, indent=1, sort_keys=True).encode())
            handle.flush()
            os.fsync(fd)
        os.replace(temp, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)
