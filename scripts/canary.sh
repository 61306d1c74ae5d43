#!/usr/bin/env bash
# make canary: the differential and contract tests on the newest strawberry-graphql and
# graphql-core, in a throwaway venv (docs/compatibility.md). Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=.venv-canary
# the fast paths (plans) against graphql-core's executor, and against stock execution
FAST=(tests/test_plan.py tests/test_sources_contract.py
  tests/test_compat.py::test_stock_execution_answers_the_same_bytes)
# what the gateway would really run on these releases: stock execution where a check fails
AS_IS=(tests/test_sources_contract.py tests/test_graphql_http.py)
rm -rf "$VENV"
trap 'rm -rf "$VENV"' EXIT
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet -e ".[dev]"
# The pins stay in pyproject.toml: pip says the project wants them, and goes on.
"$VENV/bin/python" -m pip install --quiet --upgrade strawberry-graphql graphql-core 2>&1 \
  | grep -v "dependency conflicts\|requires strawberry-graphql==\|requires graphql-core==" || true
"$VENV/bin/python" - <<'PY'
from importlib import metadata
from gateway.compat import check
print("canary on", ", ".join(f"{n} {metadata.version(n)}" for n in check.TESTED))
for problem in check.version_problems() + check.shape_problems():
    print("  compat:", problem)
PY
status=0
echo "== the fast paths on these releases (versions not compared, shapes checked)"
GATEWAY_PRIVATE_INTERNALS=shapes "$VENV/bin/python" -m pytest -p no:cacheprovider "${FAST[@]}" || status=1
echo "== as the gateway would run on them (stock execution where a check fails)"
"$VENV/bin/python" -m pytest -p no:cacheprovider "${AS_IS[@]}" || status=1
if [ "$status" -ne 0 ]; then
  echo "canary: the newest releases FAIL the tests above" >&2
else
  echo "canary: the newest releases pass"
fi
exit "$status"
