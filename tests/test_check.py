"""`gateway check`: one authenticated call per source, a table, exit 1 on any failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import SOURCE_OF, Simulators

ROOT = Path(__file__).resolve().parents[1]


def _write(path: Path, config: dict[str, Any]) -> Path:
    lines = []
    for name, table in config["sources"].items():
        lines.append(f"[sources.{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "check", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=dict(os.environ),
    )


def _rows(stdout: str) -> dict[str, list[str]]:
    header, *rows = stdout.splitlines()
    assert header.split() == ["SOURCE", "KIND", "RESULT", "LATENCY", "ERROR"]
    return {row.split()[0]: row.split(maxsplit=5) for row in rows}


def test_every_source_answers(sims: Simulators, tmp_path: Path) -> None:
    done = _check("--config", str(_write(tmp_path / "g.toml", sims.config())))
    assert done.returncode == 0, done.stderr
    rows = _rows(done.stdout)
    assert {name: row[1:3] for name, row in rows.items()} == {
        name: [kind, "OK"] for kind, name in SOURCE_OF.items()
    }
    assert all(row[4] == "ms" and row[3].isdigit() for row in rows.values())
    # one cheap call each: the first order of the source's list
    calls = sims.log.entries
    assert sorted(e.mount for e in calls) == sorted(SOURCE_OF)
    sizes = ("limit", "page_size", "~perPage", "per_page")
    assert all(any(e.param(p) == "1" for p in sizes) for e in calls), calls


def test_a_bad_credential_and_a_down_source_fail_with_exit_1(
    sims: Simulators, tmp_path: Path
) -> None:
    config = sims.config(
        ["hamgam", "zaveit", "licensespring"],
        overrides={
            "eu-shop": {"token": "not-the-token-5d1e"},
            "reseller": {"base_url": "http://127.0.0.1:9", "timeout_s": 2},
        },
    )
    done = _check("--config", str(_write(tmp_path / "g.toml", config)))
    assert done.returncode == 1
    rows = _rows(done.stdout)
    assert rows["licensing"][2] == "OK"
    assert rows["eu-shop"][2] == "FAIL"
    assert rows["eu-shop"][5] == "the backend refused the request: HTTP 401: Invalid token."
    assert rows["reseller"][2] == "FAIL"
    assert rows["reseller"][5] == "cannot reach the backend (connection refused)"
    assert "not-the-token-5d1e" not in done.stdout + done.stderr
    assert len(sims.log.of("hamgam")) == 1  # no retries: one call per source


def test_an_invalid_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[sources.eu-shop]\nkind = "hamgam"\nbase_url = "not a url"\n')
    done = _check("--config", str(path))
    assert done.returncode == 2
    assert done.stderr.startswith("gateway: config error: sources.eu-shop.")
    assert done.stdout == ""


def test_a_refused_credential_is_reported_by_the_token_endpoints_code(
    sims: Simulators, tmp_path: Path
) -> None:
    from gateway.sources.adobe_vip import simulator as adobe_sim
    from gateway.sources.highlevel import simulator as hl_sim

    conf = sims.config(["adobe_vip", "highlevel"])
    conf["sources"]["adobe"] = {
        **adobe_sim.demo_source(f"{sims.base_url}/adobe_vip", renewing=True),
        "ims_client_secret": "not-the-secret-4411",
    }
    conf["sources"]["hl-main"] = {
        **hl_sim.demo_source(
            f"{sims.base_url}/highlevel", renewing=True, token_store=str(tmp_path / "tokens")
        ),
        "oauth_refresh_token": "spent-or-unknown-refresh-9",
    }
    done = _check("--config", str(_write(tmp_path / "g.toml", conf)))
    assert done.returncode == 1, done.stderr
    rows = _rows(done.stdout)
    assert rows["adobe"][2] == "FAIL" and "invalid_client" in rows["adobe"][5]
    assert rows["hl-main"][2] == "FAIL" and "invalid_grant" in rows["hl-main"][5]
    for secret in ("not-the-secret-4411", "spent-or-unknown-refresh-9"):
        assert secret not in done.stdout + done.stderr
