"""Opaque global ids: ``Type:source:sourceId`` in URL-safe base64, stable across restarts."""

from __future__ import annotations

import base64
import binascii
from typing import NamedTuple

from gateway.errors import BadUserInput

TYPES = ("Order", "License", "Customer")


class GlobalId(NamedTuple):
    type_name: str
    source: str
    source_id: str


#: base64's URL-safe alphabet from the standard one (what base64.urlsafe_b64encode does,
#: without its layers of Python calls: every order and customer served makes an id)
_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def encode(type_name: str, source: str, source_id: str) -> str:
    raw = f"{type_name}:{source}:{source_id}".encode()
    return binascii.b2a_base64(raw, newline=False).translate(_URL_SAFE).decode().rstrip("=")


def decode(value: str, expected: str | None = None) -> GlobalId:
    """Parse a global id; anything malformed, or of another type, is BAD_USER_INPUT."""
    try:
        padded = value + "=" * (-len(value) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise BadUserInput("not a valid id") from None
    type_name, sep, rest = text.partition(":")
    source, sep2, source_id = rest.partition(":")
    if not sep or not sep2 or type_name not in TYPES or not source or not source_id:
        raise BadUserInput("not a valid id")
    if expected is not None and type_name != expected:
        raise BadUserInput(f"the id is a {type_name} id, not a {expected} id")
    return GlobalId(type_name, source, source_id)
