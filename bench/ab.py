"""Side by side in one run: this tree against another revision, rounds interleaved A/B/A/B.

    .venv/bin/python bench/ab.py REV [ROUNDS] [--inproc | --instructions] [--rotating]

The other revision's ``gateway/`` is taken with ``git archive`` into a temporary
directory and served by the same interpreter with that directory first on PYTHONPATH, so
only the gateway's code differs (dependencies, config, machine and simulators are the
same). Each round serves one order with its customer and lines (2 backend calls, 0 ms
backends) with wrk at 50 connections for BENCH_DURATION seconds, the way bench/run.py
measures its first row. Interleaving rounds spreads the drift of a shared machine over
both sides instead of giving it to one. ``--inproc`` measures instead the app's CPU per
request in-process (bench/inproc.py, 3,000 sequential requests a round), which a shared
machine disturbs less than req/s; the ratio reported is the median of the rounds' ratios.
``--rotating`` drives the one-order query with its id going through the newest 50 Hamgam
orders in turn (bench/run.py's "one order, 50 ids in turn": little is coalesced), and
``BENCH_LATENCY_MS`` (0) sets the simulators' latency for the req/s rounds.
``--instructions`` counts the app's instructions per request under valgrind's callgrind
(Debian's valgrind; the difference between 100 + 200 and 100 requests, over 200): not
time, but the one measure here that other helpers' load does not move.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # bench/run.py: the same drivers and config

QUERY = "one order + customer + lines"


@contextmanager
def served(sim_url: str, pythonpath: str | None) -> Iterator[tuple[str, Any]]:
    """`gateway serve` (this tree, or the tree on ``pythonpath``) pinned to core 0."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        run.write_config(config, sim_url, {})
        port = run.free_port()
        url = f"http://127.0.0.1:{port}"
        argv = run.pinned(
            0,
            [
                sys.executable,
                "-m",
                "gateway",
                "serve",
                "--config",
                str(config),
                "--port",
                str(port),
            ],
        )
        env = dict(os.environ)
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp
        )
        try:
            run.wait_http(f"{url}/healthz")
            yield url, proc
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def inproc(sim_url: str, pythonpath: str | None, count: int = 3000) -> float:
    """Microseconds of CPU per request of one tree's app, in its own process on core 0."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    script = str(Path(__file__).resolve().parent / "inproc.py")
    done = subprocess.run(
        run.pinned(0, [sys.executable, script, sim_url, str(count)]),
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return float(done.stdout.strip())


def instructions(sim_url: str, pythonpath: str | None, count: int = 200) -> float:
    """Instructions per request of one tree's app (callgrind, in-process requests)."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    script = str(Path(__file__).resolve().parent / "inproc.py")

    def collected(n: int) -> int:
        done = subprocess.run(
            [
                *("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"),
                *(sys.executable, script, sim_url, str(n), "--plain"),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=1800,
        )
        line = next(x for x in done.stderr.splitlines() if "Collected :" in x)
        return int(line.rsplit(":", 1)[1])

    return (collected(count) - collected(0)) / count


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    rev, rounds = args[0], int(args[1]) if len(args) > 1 else 4
    in_process = "--inproc" in sys.argv
    with tempfile.TemporaryDirectory() as base:
        archive = subprocess.run(
            ["git", "archive", rev, "gateway"], cwd=run.ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", base], input=archive, check=True)
        sim_port = run.free_port()
        sim_url = f"http://127.0.0.1:{sim_port}"
        latency = int(os.environ.get("BENCH_LATENCY_MS", "0"))
        argv = run.pinned(
            1,
            [
                *(str(run.BIN / "gateway"), "simulate", "--port", str(sim_port)),
                *("--latency", str(latency), "--no-rate-limit"),
            ],
        )
        sides = {f"A {rev}": base, "B this tree": None}
        results: dict[str, list[run.Row]] = {name: [] for name in sides}
        with run.process(argv, f"{sim_url}/__stats"):
            if in_process:
                return _inproc_rounds(sim_url, sides, rounds)
            if "--instructions" in sys.argv:
                return _instruction_rounds(sim_url, sides, rounds)
            query = run.ROTATING if "--rotating" in sys.argv else QUERY
            for i in range(rounds):
                for name, path in sides.items():
                    with served(sim_url, path) as (url, proc):
                        row = _round(url, proc.pid, sim_url, latency, name, query)
                    results[name].append(row)
                    print(
                        f"round {i + 1} {name}: {row.rps:.0f} req/s, {row.cpu_ms:.3f} ms CPU/req,"
                        f" {row.backend_calls} backend calls, {row.failures} failed",
                        flush=True,
                    )
    print(f"\n{run.CONNECTIONS} connections, {run.DURATION} s per round, {query}, {latency} ms:")
    medians = {}
    for name, rows in results.items():
        medians[name] = statistics.median(r.rps for r in rows)
        cpu = statistics.median(r.cpu_ms for r in rows)
        print(f"- {name}: median {medians[name]:.0f} req/s, {cpu:.3f} ms CPU/req")
    a, b = medians.values()
    print(f"- B / A: {b / a:.3f}")
    return 1 if any(r.failures for rows in results.values() for r in rows) else 0


def _round(url: str, pid: int, sim_url: str, latency: int, name: str, query: str) -> run.Row:
    """One side's round: checked, warmed until stable, measured (bench/run.py's way)."""
    if query != run.ROTATING:
        return run.run_query(url, pid, sim_url, latency, name, query, run.QUERIES[query])
    body = "\n".join(
        json.dumps({"query": run.ROTATING_QUERY, "variables": {"id": i}})
        for i in run.newest_hamgam_ids(url)
    )
    calls = run.checked_calls(url, sim_url, body.split("\n", 1)[0], name)
    run.warm(url, body)
    return run.measured(url, pid, sim_url, latency, name, query, body, calls)


def _inproc_rounds(sim_url: str, sides: dict[str, str | None], rounds: int) -> int:
    costs: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(rounds):
        for name, path in sides.items():
            costs[name].append(inproc(sim_url, path))
            print(f"round {i + 1} {name}: {costs[name][-1]:.0f} us CPU/request", flush=True)
    (a_name, a), (b_name, b) = costs.items()
    print("\nin-process CPU per request, one order + customer + lines, 0 ms:")
    print(f"- {a_name}: median {statistics.median(a):.0f} us")
    print(f"- {b_name}: median {statistics.median(b):.0f} us")
    ratios = [y / x for x, y in zip(a, b, strict=True)]
    print(f"- B / A per round: {', '.join(f'{r:.3f}' for r in ratios)}")
    print(f"- median B / A: {statistics.median(ratios):.3f}")
    return 0


def _instruction_rounds(sim_url: str, sides: dict[str, str | None], rounds: int) -> int:
    counts: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(rounds):
        for name, path in sides.items():
            counts[name].append(instructions(sim_url, path))
            print(f"round {i + 1} {name}: {counts[name][-1]:,.0f} instructions/request", flush=True)
    (a_name, a), (b_name, b) = counts.items()
    print("\ninstructions per request (callgrind), one order + customer + lines:")
    print(f"- {a_name}: mean {statistics.mean(a):,.0f}")
    print(f"- {b_name}: mean {statistics.mean(b):,.0f}")
    print(f"- B / A: {statistics.mean(b) / statistics.mean(a):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
