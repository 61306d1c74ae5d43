"""A new kind is its folder and its registry line, nothing else: Pocketshop
(tests/pocketshop/: a tiny adapter over a tiny simulator) is registered at runtime the way
gateway/sources/registry.py registers each kind, and then passes the contract suite over
real HTTP, is in the schema's SourceKind enum and the demo's sources, while no file
under gateway/ names it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.schema import build_schema
from gateway.simulators import SIMULATORS, demo_config
from gateway.sources.registry import ADAPTERS, kinds
from tests import pocketshop
from tests.conftest import Simulators, gateway_client, gql
from tests.test_sources_contract import CHECKS

ROOT = Path(__file__).resolve().parents[1]


def test_registered_it_is_a_kind_unregistered_it_is_gone() -> None:
    """First in this file: the module's fixture below keeps it registered once used."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(ADAPTERS, pocketshop.ADAPTER.config_name, pocketshop.ADAPTER)
        assert "pocketshop" in SIMULATORS and "POCKETSHOP" in build_schema().as_str()
    assert "pocketshop" not in ADAPTERS and "pocketshop" not in SIMULATORS
    assert "POCKETSHOP" not in build_schema().as_str()


@pytest.fixture(scope="module")
def pocket() -> Iterator[Simulators]:
    """Every simulator, Pocketshop's too, while its adapter is registered."""
    with pytest.MonkeyPatch.context() as patch:
        # what the registry's one line does: the adapter under its config name
        patch.setitem(ADAPTERS, pocketshop.ADAPTER.config_name, pocketshop.ADAPTER)
        sims = Simulators()
        try:
            yield sims
        finally:
            sims.server.stop()


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_the_contract_suite_passes_for_a_kind_registered_at_runtime(
    pocket: Simulators, check: Callable[[Simulators, str], None]
) -> None:
    pocket.log.clear()
    check(pocket, "pocketshop")


def test_it_is_a_value_of_the_schemas_source_kind_enum(pocket: Simulators) -> None:
    sdl = build_schema().as_str()
    enum = sdl[sdl.index("enum SourceKind {") :]
    enum = enum[: enum.index("}")]
    # after the built-in kinds, in registry order, described by its own folder
    assert enum.endswith(
        '  MANIFEST\n\n  """Pocketshop: a kind that lives only in the tests."""\n  POCKETSHOP\n'
    )
    assert [k.value for k in kinds()][-1] == "pocketshop"


def test_the_demo_and_the_gateway_serve_it(pocket: Simulators) -> None:
    assert "pocketshop" in SIMULATORS
    assert demo_config("http://127.0.0.1:1")["sources"]["pocket"]["kind"] == "pocketshop"
    with gateway_client(pocket.settings()) as client:
        body = gql(client, "{ sources { name kind healthy } }")
    assert {"name": "pocket", "kind": "POCKETSHOP", "healthy": True} in body["data"]["sources"]


def test_no_production_file_names_it() -> None:
    named = [
        path.relative_to(ROOT)
        for path in (ROOT / "gateway").rglob("*")
        if path.is_file()
        and path.suffix in {".py", ".toml", ".json", ".md", ".graphql"}
        and "pocketshop" in path.read_text(encoding="utf-8").lower()
    ]
    assert named == []
    for committed in ("schema.graphql", "schema.subgraph.graphql"):
        assert "POCKETSHOP" not in (ROOT / committed).read_text(encoding="utf-8")
