"""The gateway's benchmark: `make bench` (see bench/README.md).

Starts the simulators (one process, pinned to core 1, with 0 and 20 ms per response), then
for each gateway variant a gateway (one uvicorn worker pinned to core 0), drives it with
wrk at 50 connections and prints one table. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DURATION = int(os.environ.get("BENCH_DURATION", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "50"))
LATENCIES = [int(x) for x in os.environ.get("BENCH_LATENCIES_MS", "0,20").split(",")]
MEMORY_REQUESTS = int(os.environ.get("BENCH_MEMORY_REQUESTS", "10000"))
#: Rounds of the side-by-side against Hive Gateway (gateway, Hive, gateway, Hive, ...).
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
#: "peer": only the side-by-side against BENCH_PEER (no variants, levers, memory check).
ONLY = os.environ.get("BENCH_ONLY", "")
#: Warm-up: 2 s windows of wrk until two in a row are within 5% of each other, at least
#: WARM_MIN_S (Node's JIT takes longer: at least 10 s for Hive Gateway), at most WARM_MAX_S.
WARM_WINDOW_S, WARM_TOLERANCE, WARM_MIN_S, WARM_MAX_S = 2, 0.05, 4, 60
NODE_WARM_MIN_S = 10

QUERIES = {
    "one order + customer + lines": """{ orderBySourceId(source: "eu-shop", sourceId: "123") {
        number status customer { email name } lineItems { productName quantity
        total { amount } } } }""",
    "newest 50, all sources": """{ orders(first: 50) { nodes { source sourceId createdAt
        price { total { amount currency } } customer { email } } } }""",
    "50 Adobe + customers": """{ orders(first: 50, filter: {sources: ["adobe"]}) {
        nodes { sourceId status customer { company email } } } }""",
    "newest 50 Hamgam + customers": """{ orders(first: 50, filter: {sources: ["eu-shop"]}) {
        nodes { number status price { total { amount } } customer { email } } } }""",
}
#: One order again, with its id a variable that goes through 50 Hamgam orders in turn:
#: concurrent requests rarely ask for the same order, so little is coalesced.
ROTATING = "one order, 50 ids in turn"
ROTATING_QUERY = """query ($id: String!) { orderBySourceId(source: "eu-shop", sourceId: $id) {
    number status customer { email name } lineItems { productName quantity
    total { amount } } } }"""
HIVE_ROTATING_QUERY = """query ($id: Int!) { getOrder(id: $id) { key status
    customer { email first_name } items { product_name quantity total } } }"""
#: The Hamgam queries as Hive Gateway's OpenAPI-derived schema spells them.
HIVE_QUERIES = {
    "one order + customer + lines": """{ getOrder(id: 123) { key status
        customer { email first_name } items { product_name quantity total } } }""",
    "newest 50 Hamgam + customers": """{ listOrders(page_size: 50) { results { key status
        total buyer { email } } } }""",
}
PEER = os.environ.get("BENCH_PEER", "")
HIVE = "Hive Gateway 2.15.1"
#: Config tables a variant changes ({"performance": {...}, "server": {...}}).
VARIANTS: dict[str, dict[str, Any]] = {
    "gateway": {},
    "naive (no loaders)": {"performance": {"loaders": False}},
}
#: Each lever switched off alone, at 0 ms, against "gateway" in the same run.
LEVERS: dict[str, dict[str, Any]] = {
    "httpx over httpx-aiohttp": {"performance": {"http_transport": "httpx-aiohttp"}},
    "httpx default transport": {"performance": {"http_transport": "httpx"}},
    "no parser/validation/analysis cache": {"performance": {"query_caches": False}},
    "h11 instead of httptools": {"server": {"http_parser": "h11"}},
    "Python's GC defaults": {"performance": {"gc_freeze": False, "gc_young_threshold": 0}},
    # Not a speed lever but a cost: what counting every request and backend call takes.
    "metrics off": {"server": {"metrics": False}},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(core: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *argv] if shutil.which("taskset") else argv


def wait_http(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def process(
    argv: list[str], ready_url: str, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    try:
        wait_http(ready_url)
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live descendants (Hive Gateway forks a worker)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks = int(fields[11]) + int(fields[12])
            stats[int(entry.name)] = (int(fields[1]), ticks / os.sysconf("SC_CLK_TCK"))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == current]
    return total


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def write_config(path: Path, sim_url: str, tables: dict[str, Any]) -> None:
    sys.path.insert(0, str(ROOT))
    from gateway.simulators import demo_config

    conf = demo_config(sim_url)
    server = {"access_log": False, **tables.get("server", {})}
    lines = ["[server]"] + [f"{k} = {toml_value(v)}" for k, v in server.items()]
    lines += [
        "",
        "[security]",
        "require_auth = false",
        'anonymous_scopes = ["orders:read", "pii:read"]',
        "",
    ]
    performance = tables.get("performance", {})
    lines += ["[performance]"] + [f"{k} = {toml_value(v)}" for k, v in performance.items()]
    for name, table in conf["sources"].items():
        # The bench measures the gateway, not HighLevel's rate limit nor the cap on calls
        # in flight per source (default 10, to protect real backends; Hive Gateway has
        # none): 20 per client connection, as a list query makes up to 20 calls at once.
        # A cap of 50 held the 50-order list at ~83 req/s with 20 ms backends (50 calls
        # in flight / ~30 ms each), below what the gateway's CPU allows.
        # (1000 at most: the config's own bound, reached at 50 connections)
        table = {**table, "max_concurrency": min(max(CONNECTIONS, 10) * 20, 1000)}
        if table["kind"] == "highlevel":
            table["rate_limit"] = 0
        lines += ["", f'[sources."{name}"]'] + [f"{k} = {toml_value(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n")


def sim_requests(sim_url: str) -> int:
    return int(httpx.get(f"{sim_url}/__stats", timeout=5).json()["requests"])


def settle(sim_url: str) -> None:
    """Wait until the backends see no more calls: requests wrk left in flight are done."""
    last, quiet_since = -1, time.monotonic()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = sim_requests(sim_url)
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since > 0.5:
            return
        time.sleep(0.1)


@dataclass
class Row:
    latency: int
    variant: str
    query: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    backend_calls: int
    failures: int
    #: backend calls per request under load (fewer than backend_calls where identical
    #: calls in flight at once were made once)
    load_calls: float = 0.0


def drive(gateway_url: str, body: str, seconds: int) -> dict[str, Any]:
    """wrk on one body, or on several in turn (one per line: rotate.lua)."""
    rotating = "\n" in body
    env = {**os.environ, "BENCH_BODIES" if rotating else "BENCH_BODY": body}
    done = subprocess.run(
        pinned(
            1,
            [
                "wrk",
                "-t1",
                f"-c{CONNECTIONS}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(ROOT / "bench" / ("rotate.lua" if rotating else "post.lua")),
                f"{gateway_url}/graphql",
            ],
        ),
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return dict(json.loads(line[len("RESULT ") :]))


def warm(url: str, body: str, min_s: int = WARM_MIN_S) -> tuple[int, bool]:
    """Drive 2 s windows until req/s is stable: (seconds spent, whether it settled).

    Stable means two consecutive windows within 5% of each other after at least ``min_s``;
    a gateway that never settles is measured after WARM_MAX_S anyway, and says so.
    """
    spent, last = 0, 0.0
    while spent < WARM_MAX_S:
        result = drive(url, body, WARM_WINDOW_S)
        spent += WARM_WINDOW_S
        rps = result["requests"] / (result["duration_us"] / 1e6)
        if spent >= min_s and last and abs(rps - last) <= WARM_TOLERANCE * max(rps, last):
            return spent, True
        last = rps
    return spent, False


def checked_calls(url: str, sim_url: str, body: str, label: str) -> int:
    """One request, checked for errors: the backend calls it made (at the simulators)."""
    before = sim_requests(sim_url)
    check = httpx.post(
        f"{url}/graphql", content=body, timeout=30, headers={"content-type": "application/json"}
    ).json()
    if "errors" in check:
        raise RuntimeError(f"{label}: {check['errors']}")
    return sim_requests(sim_url) - before


def measured(
    url: str, pid: int, sim_url: str, latency: int, variant: str, name: str, body: str, calls: int
) -> Row:
    """One wrk run of DURATION seconds on a warmed gateway, with its CPU per request."""
    settle(sim_url)
    cpu0, sim0 = cpu_seconds(pid), sim_requests(sim_url)
    result = drive(url, body, DURATION)
    settle(sim_url)  # requests wrk left in flight finish (and cost) here
    cpu1, sim1 = cpu_seconds(pid), sim_requests(sim_url)
    n = max(result["requests"], 1)
    return Row(
        latency,
        variant,
        name,
        n / (result["duration_us"] / 1e6),
        result["p50_us"] / 1000,
        result["p99_us"] / 1000,
        (cpu1 - cpu0) * 1000 / n,
        calls,
        result["socket_errors"] + result["non2xx"] + result.get("graphql_errors", 0),
        (sim1 - sim0) / n,
    )


def run_query(
    url: str, pid: int, sim_url: str, latency: int, variant: str, name: str, query: str
) -> Row:
    """One row: one checked request (its exact backend calls), warm-up, then wrk."""
    body = json.dumps({"query": query})
    calls = checked_calls(url, sim_url, body, f"{variant}, {name}")
    warm(url, body)
    return measured(url, pid, sim_url, latency, variant, name, body, calls)


@contextmanager
def hive_gateway(sim_url: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Hive Gateway over an OpenAPI description of the Hamgam simulator, pinned to core 0."""
    peer = ROOT / "bench" / "peer"
    bin_dir = peer / "node_modules" / ".bin"
    if not (bin_dir / "hive-gateway").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=peer,
            check=True,
            timeout=600,
        )
    subprocess.run(
        [str(bin_dir / "mesh-compose"), "-o", "supergraph.graphql"],
        cwd=peer,
        env={**os.environ, "HAMGAM_URL": f"{sim_url}/hamgam"},
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = pinned(
        0,
        [
            str(bin_dir / "hive-gateway"),
            "supergraph",
            "supergraph.graphql",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
    )
    with process(argv, f"{url}/healthcheck", cwd=peer) as proc:
        yield url, proc


@dataclass
class Pair:
    """The gateway and Hive Gateway on one query: a row each per round, and the warm-ups."""

    latency: int
    query: str
    ours: list[Row]
    hive: list[Row]
    warmups: tuple[tuple[int, bool], tuple[int, bool]]

    def ratios(self) -> list[float]:
        return [a.rps / b.rps for a, b in zip(self.ours, self.hive, strict=True)]


def newest_hamgam_ids(url: str) -> list[str]:
    """The ids of the newest 50 Hamgam orders, asked of the gateway at ``url``."""
    listed = httpx.post(
        f"{url}/graphql",
        json={
            "query": '{ orders(first: 50, filter: {sources: ["eu-shop"]}) { nodes { sourceId } } }'
        },
        timeout=30,
    ).json()
    return [n["sourceId"] for n in listed["data"]["orders"]["nodes"]]


def side_by_side(latency: int, sim_url: str) -> list[Pair]:
    """Both gateways up at once, each warmed until stable, then rounds A/B/A/B per query."""
    pairs = []
    with gateway(sim_url, {}) as (url, gw), hive_gateway(sim_url) as (hive_url, hv):
        ids = newest_hamgam_ids(url)

        def turns(query: str, convert: Any) -> str:
            return "\n".join(
                json.dumps({"query": query, "variables": {"id": convert(i)}}) for i in ids
            )

        bodies = {
            name: (json.dumps({"query": QUERIES[name]}), json.dumps({"query": hive_query}))
            for name, hive_query in HIVE_QUERIES.items()
        }
        bodies[ROTATING] = (turns(ROTATING_QUERY, str), turns(HIVE_ROTATING_QUERY, int))
        for name, (our_body, hive_body) in bodies.items():
            sides = [
                ("gateway", url, gw.pid, our_body, WARM_MIN_S),
                (HIVE, hive_url, hv.pid, hive_body, NODE_WARM_MIN_S),
            ]
            first = [(v, u, b.split("\n", 1)[0]) for v, u, _, b, _ in sides]
            calls = [checked_calls(u, sim_url, b, f"{v}, {name}") for v, u, b in first]
            warmups = [warm(u, b, m) for _, u, _, b, m in sides]
            rows: list[list[Row]] = [[], []]
            for i in range(ROUNDS):
                for side, (variant, u, pid, body, _) in enumerate(sides):
                    row = measured(u, pid, sim_url, latency, variant, name, body, calls[side])
                    rows[side].append(row)
                    print(
                        f"  {latency} ms, {name}, round {i + 1}, {variant}: {row.rps:.0f} req/s",
                        file=sys.stderr,
                        flush=True,
                    )
            pairs.append(Pair(latency, name, rows[0], rows[1], (warmups[0], warmups[1])))
    return pairs


def print_pairs(pairs: list[Pair]) -> None:
    """The side-by-side table: medians over the rounds, and the ratio of each round."""
    print(
        f"\nSide by side with {HIVE} ({ROUNDS} rounds of {DURATION} s each, alternating, "
        "both warmed until two 2 s windows were within 5%):\n"
    )
    print(
        "| backend latency | query | gateway req/s | Hive req/s | ratio (median of rounds) "
        "| rounds' ratios | gateway CPU ms/req | Hive CPU ms/req | CPU ratio "
        "| gateway p50/p99 ms | Hive p50/p99 ms | backend calls alone (gateway/Hive) "
        "| backend calls under load | warm-up s (gateway/Hive) | failed |"
    )
    print("|" + "---|" * 15)
    for p in pairs:
        ours_rps = statistics.median(r.rps for r in p.ours)
        hive_rps = statistics.median(r.rps for r in p.hive)
        ours_cpu = statistics.median(r.cpu_ms for r in p.ours)
        hive_cpu = statistics.median(r.cpu_ms for r in p.hive)
        warm_text = "/".join(f"{s}{'' if ok else ' (unsettled)'}" for s, ok in p.warmups)
        print(
            f"| {p.latency} ms | {p.query} | {ours_rps:.0f} | {hive_rps:.0f} "
            f"| **{statistics.median(p.ratios()):.2f}x** "
            f"| {', '.join(f'{x:.2f}' for x in p.ratios())} "
            f"| {ours_cpu:.2f} | {hive_cpu:.2f} | {hive_cpu / ours_cpu:.2f}x "
            f"| {statistics.median(r.p50_ms for r in p.ours):.1f}/"
            f"{statistics.median(r.p99_ms for r in p.ours):.1f} "
            f"| {statistics.median(r.p50_ms for r in p.hive):.1f}/"
            f"{statistics.median(r.p99_ms for r in p.hive):.1f} "
            f"| {p.ours[0].backend_calls}/{p.hive[0].backend_calls} "
            f"| {statistics.median(r.load_calls for r in p.ours):.2f}/"
            f"{statistics.median(r.load_calls for r in p.hive):.2f} | {warm_text} "
            f"| {sum(r.failures for r in p.ours + p.hive)} |"
        )


@contextmanager
def gateway(sim_url: str, tables: dict[str, Any]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`gateway serve` over the simulators, pinned to core 0: (its URL, its process)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        write_config(config, sim_url, tables)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        argv = pinned(
            0, [str(BIN / "gateway"), "serve", "--config", str(config), "--port", str(port)]
        )
        with process(argv, f"{url}/healthz") as proc:
            yield url, proc


def measure(
    latency: int, variant: str, tables: dict[str, Any], sim_url: str, queries: dict[str, str]
) -> list[Row]:
    with gateway(sim_url, tables) as (url, gw):
        return [
            run_query(url, gw.pid, sim_url, latency, variant, name, query)
            for name, query in queries.items()
        ]


async def _send(url: str, body: str, count: int) -> None:
    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        left = count

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                r = await client.post(
                    f"{url}/graphql", content=body, headers={"content-type": "application/json"}
                )
                r.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))


def memory(sim_url: str) -> tuple[float, float, float]:
    """RSS after 1,000 and after MEMORY_REQUESTS requests of the 50-order query."""
    body = json.dumps({"query": QUERIES["newest 50, all sources"]})
    with gateway(sim_url, {}) as (url, gw):
        start = rss_mib(gw.pid)
        asyncio.run(_send(url, body, 1000))
        after_1k = rss_mib(gw.pid)
        asyncio.run(_send(url, body, MEMORY_REQUESTS - 1000))
        return start, after_1k, rss_mib(gw.pid)


def encoder_ratio(sim_url: str) -> float:
    """orjson vs the standard library on a real 50-order response (with raw payloads)."""
    sys.path.insert(0, str(ROOT))
    from gateway.encoding import dumps

    with gateway(sim_url, {}) as (url, _):
        q = "{ orders(first: 50) { nodes { sourceId price { total { amount } } raw } } }"
        data = orjson.loads(httpx.post(f"{url}/graphql", json={"query": q}, timeout=60).content)

    def stdlib(value: Any) -> bytes:
        return json.dumps(
            value, default=lambda o: str(o) if isinstance(o, Decimal) else o, separators=(",", ":")
        ).encode()

    def timed(encode: Any) -> float:
        start = time.perf_counter()
        for _ in range(200):
            encode(data)
        return time.perf_counter() - start

    return timed(stdlib) / timed(dumps)


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (Debian)", file=sys.stderr)
        return 2
    rows: list[Row] = []
    levers: list[Row] = []
    pairs: list[Pair] = []
    mem: tuple[float, float, float] | None = None
    ratio = 0.0
    for latency in LATENCIES:
        sim_port = free_port()
        sim_url = f"http://127.0.0.1:{sim_port}"
        argv = pinned(
            1,
            [
                str(BIN / "gateway"),
                "simulate",
                "--port",
                str(sim_port),
                "--latency",
                str(latency),
                "--no-rate-limit",
            ],
        )
        with process(argv, f"{sim_url}/__stats"):
            if PEER == "hive":
                pairs += side_by_side(latency, sim_url)
            if ONLY == "peer":
                continue
            for variant, perf in VARIANTS.items():
                rows += measure(latency, variant, perf, sim_url, QUERIES)
                print(f"  measured {variant} at {latency} ms", file=sys.stderr, flush=True)
            if latency == 0:
                two = {k: QUERIES[k] for k in list(QUERIES)[:2]}
                for lever, perf in LEVERS.items():
                    levers += measure(latency, lever, perf, sim_url, two)
                ratio = encoder_ratio(sim_url)
                if MEMORY_REQUESTS > 1000:
                    mem = memory(sim_url)
    print(
        f"\n{CONNECTIONS} connections, {DURATION} s per row; gateway on core 0, "
        "simulators and wrk on core 1."
    )
    if pairs:
        print_pairs(pairs)
    if ONLY == "peer":
        return 1 if any(r.failures for p in pairs for r in p.ours + p.hive) else 0
    print()
    header = (
        "| backend latency | gateway | query | req/s | p50 ms | p99 ms | gateway CPU ms/req "
        "| backend calls/req | failed |"
    )
    print(header)
    print("|" + "---|" * 9)
    for r in rows + levers:
        print(
            f"| {r.latency} ms | {r.variant} | {r.query} | {r.rps:.0f} | {r.p50_ms:.1f} | "
            f"{r.p99_ms:.1f} | {r.cpu_ms:.2f} | {r.backend_calls} | {r.failures} |"
        )
    base = {(r.latency, r.query): r for r in rows if r.variant == "gateway"}
    print("\nRatios at 0 ms (gateway with every lever / variant), req/s:")
    others = [x for x in rows if x.variant != "gateway"]
    for r in [x for x in others if x.latency == 0] + levers:
        print(f"- {r.variant}, {r.query}: {base[(0, r.query)].rps / r.rps:.2f}x")
    print(f"- orjson vs json encoding a 50-order response with raw: {ratio:.1f}x faster")
    if mem is not None:
        start, first, last = mem
        print(
            f"\nRSS: {start:.0f} MiB at start, {first:.0f} MiB after 1,000 requests, "
            f"{last:.0f} MiB after {MEMORY_REQUESTS:,} ({(last / first - 1) * 100:+.1f}%; "
            "target within 20%)"
        )
    failed = sum(r.failures for r in rows + levers + [x for p in pairs for x in p.ours + p.hive])
    if mem is not None and mem[2] > mem[1] * 1.2:
        print("memory grew more than 20%", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
