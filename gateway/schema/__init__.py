"""The Strawberry schema: thin types over the domain, and the Query."""

from gateway.schema.query import build_schema

__all__ = ["build_schema"]
