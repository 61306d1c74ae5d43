"""docs/ is the project's contract for users: generated parts equal the code, examples load,
links stay inside the repository, and a config printed for the simulators checks OK."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gateway.config import settings_from_mapping
from gateway.reference import config_reference, config_schema, undescribed
from gateway.simulators import SIMULATORS
from gateway.sources.registry import ADAPTERS
from tests.conftest import SOURCE_OF

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HAMGAM_MANIFEST = ROOT / "gateway" / "sources" / "hamgam" / "manifest.toml"
REGENERATE = "docs/ is stale: run `make docs` (python scripts/gen_docs.py) and commit the result"


def _gateway(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_configuration_reference_equals_the_settings_models() -> None:
    assert (DOCS / "configuration.md").read_text(encoding="utf-8") == config_reference(), REGENERATE


def test_every_config_key_says_what_it_means() -> None:
    assert undescribed() == [], "add Field(description=...) to these keys, then `make docs`"


def test_reference_names_every_kind_and_its_required_keys() -> None:
    text = config_reference()
    for kind, adapter in ADAPTERS.items():
        assert f'### `kind = "{kind}"`' in text
        for name, info in adapter.settings.model_fields.items():
            if info.is_required() and name not in ("kind", "base_url"):
                assert f"| `{name}` |" in text.split(f'### `kind = "{kind}"`')[1], (kind, name)


def test_config_schema_command_prints_docs_config_schema_json() -> None:
    done = _gateway("config-schema")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (DOCS / "config.schema.json").read_text(encoding="utf-8"), REGENERATE
    assert json.loads(done.stdout) == config_schema()


def _validator() -> Any:
    schema = config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _toml_blocks(path: Path) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def test_the_backends_guide_examples_load_and_fit_the_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A config written from docs/ alone: every complete example in docs/backends.md loads.
    validator = _validator()
    blocks = _toml_blocks(DOCS / "backends.md")
    assert len(blocks) >= len(ADAPTERS)
    kinds_seen: set[str] = set()
    for block in blocks:
        for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", block):
            monkeypatch.setenv(name, f"value-of-{name}")
        text = block.replace("/var/lib/gateway/tokens", str(tmp_path / "tokens"))
        # the manifest example's file: the Hamgam manifest takes the same keys
        text = text.replace("/etc/gateway/my-shop.toml", str(HAMGAM_MANIFEST))
        data = tomllib.loads(text)
        errors = [e.message for e in validator.iter_errors(data)]
        assert errors == [], (block, errors)
        settings = settings_from_mapping(data)
        kinds_seen |= {source.kind for source in settings.sources.values()}
    assert kinds_seen == set(ADAPTERS)


def test_the_schema_refuses_what_the_loader_refuses() -> None:
    validator = _validator()
    shop = {"kind": "hamgam", "base_url": "https://s.example", "token": "t", "currency": "EUR"}
    assert list(validator.iter_errors({"sources": {"shop": shop}})) == []
    for bad in (
        {**shop, "tokn": "t"},  # unknown key
        {**shop, "kind": "shopify"},  # unknown kind
        {k: v for k, v in shop.items() if k != "currency"},  # required key missing
        {k: v for k, v in shop.items() if k != "kind"},  # kind missing
        {**shop, "timeout_s": -1},
    ):
        assert list(validator.iter_errors({"sources": {"shop": bad}})), bad
    assert list(validator.iter_errors({"server": {"log_format": "xml"}}))
    assert list(validator.iter_errors({"sources": {"eu shop": shop}}))  # a name with a space


_OUTSIDE = re.compile(r"\.\./shared|DESIGN\.md|BACKENDS\.md")


def test_readme_docs_and_code_cite_only_what_the_repository_holds() -> None:
    files = [ROOT / "README.md", *DOCS.glob("*.md")]
    for folder in ("gateway", "tests", "bench", "scripts", "deploy"):
        files += [
            p
            for p in (ROOT / folder).rglob("*")
            if p.suffix in {".py", ".md", ".toml"} and "node_modules" not in p.parts
        ]
    cited = [str(p.relative_to(ROOT)) for p in files if _OUTSIDE.search(p.read_text("utf-8"))]
    assert cited == [], "cite docs/ or the vendor's documentation instead"
    for page in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text("utf-8")):
            if not target.startswith(("http://", "https://", "mailto:")):
                assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_check_of_a_config_without_sources_fails(tmp_path: Path) -> None:
    # say, a config file read before `gateway simulate --print-config` wrote it
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    done = _gateway("check", "--config", str(empty))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "gateway check: the config has no [sources.<name>] table\n"


def _read_config(proc: subprocess.Popen[str], deadline_s: float = 60) -> str:
    """What `gateway simulate --print-config` printed: lines until the TOML holds every
    kind's source and the security table (it prints nothing else on stdout)."""
    assert proc.stdout is not None
    text: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            text.append(line)
            try:
                data = tomllib.loads("".join(text))
            except tomllib.TOMLDecodeError:
                continue
            if len(data.get("sources", {})) == len(SIMULATORS) and "introspection" in data.get(
                "security", {}
            ):
                break
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(deadline_s), f"no config printed: {''.join(text)!r}"
    return "".join(text)


def test_simulate_print_config_runs_check_and_export_unchanged(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "simulate", "--port", "0", "--print-config"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        config = tmp_path / "simulators.toml"
        config.write_text(_read_config(proc))
        assert list(_validator().iter_errors(tomllib.loads(config.read_text()))) == []

        done = _gateway("check", "--config", str(config))
        assert done.returncode == 0, done.stdout + done.stderr
        rows = [line.split() for line in done.stdout.splitlines()[1:]]
        assert {(row[0], row[1], row[2]) for row in rows} == {
            (name, kind, "OK") for kind, name in SOURCE_OF.items()
        }

        query = tmp_path / "orders.graphql"
        query.write_text('{ orders(filter: {sources: ["eu-shop"]}) { nodes { sourceId } } }')
        out = tmp_path / "orders.csv"
        done = _gateway(
            "export", str(query), "--config", str(config), "--limit", "3", "--out", str(out)
        )
        assert done.returncode == 0, done.stderr
        lines = out.read_text().splitlines()
        assert lines[0] == "sourceId" and len(lines) == 4
    finally:
        proc.terminate()
        proc.wait(timeout=30)
