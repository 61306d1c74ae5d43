"""``gateway export QUERY_FILE``: an export to a file or stdout, over HTTP.

Against a running gateway with ``--url`` (and ``--key``); otherwise in-process: the
gateway of ``--config`` (or ``$GATEWAY_CONFIG``; with neither, the demo over the built-in
simulators) is served on a loopback port of this process and asked the same way, so the
command and a BI tool go through one path (credentials, scopes, limits, streaming).

A cut-off export (a source failing after the first byte) exits 1 and leaves no file:
rows are written to ``FILE.part`` and renamed only when the response ended whole.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
from tqdm import tqdm

from gateway.config import Environment, load_settings, settings_from_mapping
from gateway.errors import ConfigError

#: between two chunks a page is fetched; at 20 ms per backend call a page takes well
#: under a second, so this only ends an export whose gateway went silent
READ_TIMEOUT_S = 300.0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "export", help="export a query's top-level list as CSV or NDJSON (see README)"
    )
    p.add_argument("query_file", type=Path, metavar="QUERY_FILE", help="the GraphQL query")
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a variable; VALUE is JSON when it parses as JSON (10, true, {...}), "
        "else a string (quote digits meant as a string: id='\"123\"')",
    )
    p.add_argument("--format", choices=("csv", "ndjson"), default="csv")
    p.add_argument("--out", type=Path, help="write here (default: stdout)")
    p.add_argument("--limit", type=int, help="at most this many rows")
    p.add_argument("--bom", action="store_true", help="start a CSV with a UTF-8 BOM (Excel)")
    p.add_argument("--url", help="a running gateway, e.g. http://127.0.0.1:8000")
    p.add_argument("--key", help="API key or JWT (default: $GATEWAY_API_KEY)")
    p.add_argument("--config", type=Path, help="in-process over this TOML config")


def variables(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--var {item}: expected NAME=VALUE")
        try:
            out[name] = json.loads(text)
        except ValueError:
            out[name] = text
    return out


def run(args: argparse.Namespace) -> int:
    try:
        query = args.query_file.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"gateway export: cannot read {args.query_file}: {exc.strerror}", file=sys.stderr)
        return 2
    payload: dict[str, Any] = {
        "query": query,
        "variables": variables(args.var),
        "format": args.format,
    }
    if args.limit is not None:
        payload["limit"] = args.limit
    if args.bom:
        payload["bom"] = 1
    key = args.key or os.environ.get("GATEWAY_API_KEY")
    with _gateway(args) as base_url:
        return _download(f"{base_url.rstrip('/')}/export", payload, key, args.out, args.format)


@contextlib.contextmanager
def _gateway(args: argparse.Namespace) -> Iterator[str]:
    """The base URL to ask: ``--url``, or this process serving the gateway on loopback."""
    if args.url:
        yield args.url
        return
    from gateway.app import create_app
    from gateway.simulators import BackgroundServer, SimulatorSet, demo_config

    path = args.config or Environment().gateway_config
    simulators: BackgroundServer | None = None
    if path is not None:
        settings = load_settings(path)
    else:
        simulators = BackgroundServer(SimulatorSet().app()).start()
        settings = settings_from_mapping(demo_config(simulators.base_url))
    server = BackgroundServer(create_app(settings, graphiql=False), lifespan="on").start()
    try:
        yield server.base_url
    finally:
        server.stop()
        if simulators is not None:
            simulators.stop()


class RowCounter:
    """Rows in a stream of CSV or NDJSON bytes (a CSV line break inside quotes is not
    a row's end; the CSV header is not a row); for the progress line only."""

    def __init__(self, fmt: str) -> None:
        self.header = 1 if fmt == "csv" else 0
        self.quoted = False
        self.records = 0

    @property
    def rows(self) -> int:
        return max(self.records - self.header, 0)

    def feed(self, chunk: bytes) -> int:
        """The rows this chunk completed."""
        before = self.rows
        if self.header and (self.quoted or b'"' in chunk):
            for piece in chunk.split(b"\n")[:-1]:
                self.quoted ^= piece.count(b'"') % 2 == 1
                self.records += not self.quoted
            self.quoted ^= chunk.rsplit(b"\n", 1)[-1].count(b'"') % 2 == 1
        else:
            self.records += chunk.count(b"\n")
        return self.rows - before


def _download(
    url: str, payload: dict[str, Any], key: str | None, out: Path | None, fmt: str
) -> int:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    timeout = httpx.Timeout(30.0, read=READ_TIMEOUT_S)
    part = out.with_name(out.name + ".part") if out is not None else None
    counter = RowCounter(fmt)
    progress = tqdm(unit=" rows", file=sys.stderr, disable=not sys.stderr.isatty())
    sink: IO[bytes] = part.open("wb") if part is not None else sys.stdout.buffer
    request_id: str | None = None
    whole = False
    try:
        with httpx.stream("POST", url, json=payload, headers=headers, timeout=timeout) as response:
            request_id = response.headers.get("x-request-id", "unknown")
            if response.status_code != 200:
                response.read()
                print(_refusal(response), file=sys.stderr)
                return 1
            for chunk in response.iter_bytes():
                sink.write(chunk)
                progress.update(counter.feed(chunk))
        whole = True
    except httpx.HTTPError as exc:
        if request_id is None:
            print(f"gateway export: cannot reach {url}: {exc}", file=sys.stderr)
        else:
            print(
                f"gateway export: cut off after {counter.rows} rows "
                f"({type(exc).__name__}); nothing kept. The gateway's log says why "
                f"(request {request_id})",
                file=sys.stderr,
            )
        return 1
    finally:
        progress.close()
        if part is None:
            sink.flush()
        else:
            sink.close()
            if whole and out is not None:
                part.replace(out)
            else:
                part.unlink(missing_ok=True)
    return 0


def _refusal(response: httpx.Response) -> str:
    try:
        body = response.json()
        lines = [
            f"{e.get('extensions', {}).get('code', '?')}: {e.get('message', '')}"
            for e in body.get("errors", [])
        ]
    except ValueError:
        lines = [response.text[:200]]
    return f"gateway export: refused (HTTP {response.status_code}): " + "; ".join(lines)
