"""Rewrite the generated docs from the code: `make docs` (or `python scripts/gen_docs.py`).

docs/configuration.md and docs/config.schema.json come from the settings models
(gateway/reference.py); tests/test_docs.py fails while either differs from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gateway.reference import config_reference, config_schema_text

ROOT = Path(__file__).resolve().parent.parent

#: each generated file and what writes it
GENERATED = {
    ROOT / "docs" / "configuration.md": config_reference,
    ROOT / "docs" / "config.schema.json": config_schema_text,
}


def main() -> int:
    for path, render in GENERATED.items():
        path.write_text(render(), encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
