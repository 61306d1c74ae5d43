"""The gateway's layers: adapters over the one GraphQL service, no import running back up.

/graphql (gateway/view.py), /export (gateway/export/) and the subscriptions
(gateway/schema/live.py, gateway/live/) are adapters over gateway/service.py; none
reaches into another, and what lies below the service (the schema, the live events,
the error format) imports nothing above it. Read from the source, as ruff reads it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from gateway.sources.registry import ADAPTERS

GATEWAY = Path(__file__).resolve().parent.parent / "gateway"


def imported(path: Path) -> set[str]:
    """Every gateway module ``path`` imports, at its top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "gateway" or name.startswith("gateway.")}


def modules(*parts: str) -> list[Path]:
    where = GATEWAY.joinpath(*parts)
    return sorted(where.rglob("*.py")) if where.is_dir() else [where.with_suffix(".py")]


def importers_of(target: str, paths: list[Path]) -> list[str]:
    """The files among ``paths`` that import ``target`` or anything in it."""
    return [
        str(path.relative_to(GATEWAY.parent))
        for path in paths
        if any(n == target or n.startswith(target + ".") for n in imported(path))
    ]


def test_only_the_app_imports_the_view() -> None:
    everything = [p for p in modules() if p.name != "view.py" or p.parent != GATEWAY]
    assert importers_of("gateway.view", everything) == ["gateway/app.py"]


def test_the_export_and_the_live_events_reach_the_service_not_the_view() -> None:
    adapters = [*modules("export"), *modules("live"), *modules("schema")]
    assert importers_of("gateway.view", adapters) == []
    assert importers_of("gateway.app", adapters) == []
    # /export runs its pages through the service
    assert "gateway.service" in imported(GATEWAY / "export" / "route.py")


def test_below_the_service_nothing_imports_it_or_its_adapters() -> None:
    below = [*modules("schema"), *modules("live"), GATEWAY / "error_format.py"]
    below += [GATEWAY / "context.py", GATEWAY / "encoding.py", GATEWAY / "persisted.py"]
    for above in ("gateway.service", "gateway.view", "gateway.export"):
        assert importers_of(above, below) == [], above


def test_one_error_format_and_one_encoder() -> None:
    """format_error and the Decimal-exact JSON encoder are each defined once."""
    defined: dict[str, list[str]] = {"format_error": [], "dumps": []}
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef) and node.name in defined:
                defined[node.name].append(str(path.relative_to(GATEWAY.parent)))
    assert defined == {
        "format_error": ["gateway/error_format.py"],
        "dumps": ["gateway/encoding.py"],
    }


def test_no_backend_kind_imports_another() -> None:
    # Every registered kind, read from the registry, so a new kind is held to it with no
    # list to update. The manifest engine is the one kind others may be built on
    # (WooCommerce is a manifest with samples).
    folders = {name: GATEWAY / "sources" / name for name in ADAPTERS}
    assert [name for name, folder in folders.items() if not folder.is_dir()] == []
    crossings = [
        (str(path.relative_to(GATEWAY.parent)), other)
        for name, folder in folders.items()
        for path in sorted(folder.rglob("*.py"))
        for other in folders
        if other not in (name, "manifest") and importers_of(f"gateway.sources.{other}", [path])
    ]
    assert crossings == []
