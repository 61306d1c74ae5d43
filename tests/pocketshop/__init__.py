"""Pocketshop: a throwaway kind that exists only in the tests, built the way a new kind is
(docs/adding-a-backend.md): this folder, and its adapter registered like a registry line
(tests/test_new_kind.py registers it at runtime; no file under gateway/ names it)."""

from gateway.sources.base import Adapter, Simulated
from tests.pocketshop.client import KIND, PocketshopSettings, PocketshopSource

ADAPTER = Adapter(
    KIND,
    PocketshopSettings,
    PocketshopSource,
    simulator=Simulated("tests.pocketshop.simulator", "pocket"),
)
