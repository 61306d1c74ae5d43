"""Check or refresh GraphiQL's browser files (gateway/static/graphiql/) from the npm registry.

The manifest there pins every shipped file by npm package, version, path in the package,
the package tarball's integrity (sha512, as the registry publishes it) and the file's sha256.

    python scripts/refresh_graphiql.py           # check: fetch each package, compare both
                                                 # digests and the shipped file; exit 1 on any
                                                 # difference
    python scripts/refresh_graphiql.py --write   # the same, then rewrite the shipped files
    python scripts/refresh_graphiql.py --pin     # after changing a version in the manifest:
                                                 # record the new digests, write the files

Packages are fetched with npm's own client (`npm pack NAME@VERSION`), which checks each
tarball against the registry's integrity; nothing from a package is executed, and files are
read from the tarball in memory (no extraction to disk).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent.parent / "gateway" / "static" / "graphiql"
MANIFEST = STATIC / "manifest.json"


def npm_pack(spec: str, into: Path) -> tuple[Path, str]:
    """The package tarball of ``spec`` (NAME@VERSION) from the registry, and its integrity."""
    out = subprocess.run(
        ["npm", "pack", spec, "--json", "--ignore-scripts", "--pack-destination", str(into)],
        check=True,
        capture_output=True,
        text=True,
        cwd=into,
    ).stdout
    (packed,) = json.loads(out)
    return into / packed["filename"], packed["integrity"]


def sha512_integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def member(tarball: Path, path: str) -> bytes:
    with tarfile.open(tarball, "r:gz") as tar:
        found = tar.extractfile(f"package/{path}")
        if found is None:
            raise SystemExit(f"{tarball.name} has no regular file {path}")
        return found.read()


def run(mode: str) -> int:
    manifest: dict[str, Any] = json.loads(MANIFEST.read_text())
    problems: list[str] = []
    fetched: dict[str, tuple[Path, str]] = {}
    with tempfile.TemporaryDirectory(prefix="graphiql-") as tmp:
        for entry in manifest["files"]:
            spec = f"{entry['package']}@{entry['version']}"
            if spec not in fetched:
                print(f"npm pack {spec}", file=sys.stderr)
                fetched[spec] = npm_pack(spec, Path(tmp))
            tarball, integrity = fetched[spec]
            if integrity != sha512_integrity(tarball.read_bytes()):
                problems.append(f"{spec}: the tarball does not match npm's integrity")
                continue
            data = member(tarball, entry["path"])
            digest = hashlib.sha256(data).hexdigest()
            if mode == "pin":
                entry["integrity"], entry["sha256"] = integrity, digest
            else:
                if entry.get("integrity") != integrity:
                    problems.append(f"{spec}: tarball integrity {integrity} is not the pinned one")
                if entry["sha256"] != digest:
                    problems.append(
                        f"{spec} {entry['path']}: sha256 {digest} is not the pinned one"
                    )
            shipped = STATIC / entry["file"]
            same = shipped.exists() and hashlib.sha256(shipped.read_bytes()).hexdigest() == digest
            if mode == "check" and not same:
                problems.append(f"{shipped.name} differs from {spec} {entry['path']}")
            if mode in ("write", "pin") and not problems:
                shipped.write_bytes(data)
                print(f"wrote {shipped.name} ({len(data)} bytes) from {spec}", file=sys.stderr)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    if mode == "pin":
        MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
        print(f"pinned the digests in {MANIFEST.name}", file=sys.stderr)
    print("all files match their pinned digests", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite the shipped files")
    group.add_argument("--pin", action="store_true", help="record new digests, write the files")
    args = parser.parse_args(argv)
    return run("pin" if args.pin else "write" if args.write else "check")


if __name__ == "__main__":
    sys.exit(main())
