"""Rewrite the generated docs from the code: `make docs` (or `python scripts/gen_docs.py`).

docs/configuration.md and docs/config.schema.json come from the settings models
(gateway/reference.py), docs/manifest.schema.json from the manifest model and the
registry's kinds (`gateway manifest-schema`); tests/test_docs.py and tests/test_manifest.py
fail while one differs from the code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from gateway.reference import config_reference, config_schema_text
from gateway.sources.registry import manifest_json_schema

ROOT = Path(__file__).resolve().parent.parent


def manifest_schema_text() -> str:
    return json.dumps(manifest_json_schema(), indent=2) + "\n"


#: each generated file and what writes it
GENERATED: dict[Path, Callable[[], str]] = {
    ROOT / "docs" / "configuration.md": config_reference,
    ROOT / "docs" / "config.schema.json": config_schema_text,
    ROOT / "docs" / "manifest.schema.json": manifest_schema_text,
}


def main() -> int:
    for path, render in GENERATED.items():
        path.write_text(render(), encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
