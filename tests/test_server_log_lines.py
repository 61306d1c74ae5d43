"""uvicorn's own lines as the gateway writes them: plain JSON with `log_format = "json"`
(no `color_message` and its ANSI escapes), and one server's lifecycle once under `demo`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

from tests.live import wait_until_up

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_json_log_lines_of_serve_hold_no_colour_codes(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[server]\nlog_format = "json"\n\n[sources.eu-shop]\nkind = "hamgam"\n'
        'base_url = "http://127.0.0.1:9"\ntoken = "t"\ncurrency = "EUR"\n'
    )
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--config", str(path), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}", what="the gateway")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    lines = [json.loads(line) for line in err.splitlines()]
    started = [line for line in lines if line["message"].startswith("Started server process")]
    assert len(started) == 1 and started[0]["logger"] == "uvicorn.error"
    assert all("color_message" not in line for line in lines)
    assert "\x1b" not in err and "\\u001b" not in err


def test_demo_logs_its_server_lifecycle_once_in_the_gateway_format() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "demo", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen: list[str] = []
    running = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            if "Uvicorn running on" in line:
                running.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert running.wait(60), "".join(seen)
        wait_until_up(f"http://127.0.0.1:{port}", what="the gateway")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reader.join(timeout=10)
    text = "".join(seen)
    assert text.count("Started server process") == 1, text
    assert text.count("Finished server process") == 1, text
    lifecycle = [line for line in seen if "server process" in line]
    assert all(line.startswith("INFO uvicorn.error [-]: ") for line in lifecycle), lifecycle
