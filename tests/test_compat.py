"""gateway.compat: the private internals checked against the installed libraries, and
the gateway on stock Strawberry execution when a check fails (same answers, said once)."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from aiodataloader import DataLoader

from gateway.compat import MODE_VARIABLE, check, fast_paths, status
from gateway.compat.dataloader import BatchLoader
from gateway.loaders import Loaders
from gateway.schema.executor import GatewayExecutor, StockExecutor
from gateway.schema.operation import GatewaySchema
from gateway.schema.query import build_schema
from tests.conftest import Simulators, gateway_client
from tests.test_plan import ONE, WRITTEN

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def decided_afresh() -> Iterator[None]:
    """Each test decides again (and leaves the next one to decide for itself)."""
    status.cache_clear()
    yield
    status.cache_clear()


def test_the_tested_versions_are_the_pinned_ones() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = dict(d.split("==") for d in project["dependencies"])
    assert {name: pins[name] for name in check.TESTED} == check.TESTED


def test_the_installed_libraries_pass_every_check() -> None:
    assert check.version_problems() == []
    assert check.shape_problems() == []
    assert status() == check.Status(fast=True, problems=())
    schema = build_schema()
    assert isinstance(schema, GatewaySchema) and schema.fast_paths
    assert schema.execution_context_class is GatewayExecutor


def test_another_version_turns_the_fast_paths_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(check, "TESTED", {**check.TESTED, "graphql-core": "3.3.0"})
    found = status()
    assert not found.fast
    assert found.problems == ("graphql-core 3.3.2 (the fast paths are tested on 3.3.0)",)


def test_a_changed_shape_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def gone() -> str | None:
        from graphql.execution import no_such_name  # type: ignore[attr-defined]  # noqa: F401

        return None

    monkeypatch.setattr(check, "_SHAPES", (*check._SHAPES, ("graphql-core gone", gone)))
    problems = status().problems
    assert len(problems) == 1 and problems[0].startswith("graphql-core gone: ImportError")


def test_the_variable_chooses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODE_VARIABLE, "stock")
    assert status().problems == (f"{MODE_VARIABLE}=stock",)
    status.cache_clear()
    monkeypatch.setenv(MODE_VARIABLE, "shapes")
    monkeypatch.setattr(check, "TESTED", {**check.TESTED, "graphql-core": "9.9.9"})
    assert fast_paths()  # versions are not compared, shapes are
    status.cache_clear()
    monkeypatch.setenv(MODE_VARIABLE, "fast")
    with pytest.raises(ValueError, match="expected one of check, shapes, stock"):
        status()


QUERIES = [
    ONE,
    *WRITTEN,
    '{ orderBySourceId(source: "eu-shop", sourceId: "123") { number nope } }',
    "{ orders(first: 2) { nodes { number",
    '{ order(id: "not-an-id") { number } }',
]


async def test_loaders_are_aiodataloaders_own_when_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(Loaders({}).orders, BatchLoader)
    status.cache_clear()
    monkeypatch.setenv(MODE_VARIABLE, "stock")
    loader = Loaders({}).orders
    assert type(loader) is DataLoader


def test_stock_execution_answers_the_same_bytes(
    sims: Simulators, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With the fast paths off (a version the check does not know), every query over
    HTTP gets the same status and bytes as with them on; the log says so once."""
    monkeypatch.setenv(MODE_VARIABLE, "shapes")  # fast on the newest releases too (canary)
    with gateway_client(sims.settings()) as client:
        assert fast_paths()
        fast = [client.post("/graphql", json={"query": q}) for q in QUERIES]
    status.cache_clear()
    caplog.clear()
    monkeypatch.setenv(MODE_VARIABLE, "check")
    monkeypatch.setattr(check, "TESTED", {**check.TESTED, "strawberry-graphql": "0.1.0"})
    with (
        caplog.at_level(logging.WARNING, logger="gateway.compat"),
        gateway_client(sims.settings()) as client,
    ):
        schema = build_schema()
        stock = [client.post("/graphql", json={"query": q}) for q in QUERIES]
        again = client.get("/graphql", params={"query": ONE})
    assert isinstance(schema, GatewaySchema) and not schema.fast_paths
    assert schema.execution_context_class is StockExecutor
    assert [(r.status_code, r.content) for r in stock] == [(r.status_code, r.content) for r in fast]
    assert again.status_code == 200 and again.content == fast[0].content
    said = [r.getMessage() for r in caplog.records if r.name == "gateway.compat"]
    installed = metadata.version("strawberry-graphql")
    assert len(said) == 1
    assert said[0].startswith(
        "running on stock Strawberry execution (slower, same answers): strawberry-graphql"
        f" {installed} (the fast paths are tested on 0.1.0)"
    )
