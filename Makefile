# The three commands the README promises: install (the venv alone), run (the demo), test (every check).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Real clients the tests run against the live gateway (tests/test_clients.py): gql needs
# graphql-core 3.2, the gateway 3.3, so it has a venv of its own; graphql-js via npm.
CLIENTS_VENV := .venv-clients
CLIENTS_STAMP := $(CLIENTS_VENV)/.installed
JS_CLIENT := tests/clients/js
JS_STAMP := $(JS_CLIENT)/node_modules/.installed
# The federation tests' composer and router, hive-gateway from @graphql-hive/gateway
# (tests/test_federation_router.py), installed by npm ci below.
FEDERATION := tests/federation
FEDERATION_STAMP := $(FEDERATION)/node_modules/.installed
# Apollo Client 4 reads the gateway's @defer parts (tests/test_defer.py)
APOLLO_CLIENT := tests/clients/apollo
APOLLO_STAMP := $(APOLLO_CLIENT)/node_modules/.installed
PORT ?= 8000

.PHONY: install run test lint typecheck pytest schema docs bench canary clean

install: $(STAMP) $(CLIENTS_STAMP) $(JS_STAMP) $(FEDERATION_STAMP) $(APOLLO_STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(CLIENTS_STAMP): tests/clients/python/requirements.txt
	test -x $(CLIENTS_VENV)/bin/python || $(PYTHON) -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/python -m pip install --quiet -r tests/clients/python/requirements.txt
	touch $(CLIENTS_STAMP)

$(JS_STAMP): $(JS_CLIENT)/package.json $(JS_CLIENT)/package-lock.json
	cd $(JS_CLIENT) && npm ci --no-audit --no-fund --loglevel=error
	touch $(JS_STAMP)

$(FEDERATION_STAMP): $(FEDERATION)/package.json $(FEDERATION)/package-lock.json
	cd $(FEDERATION) && npm ci --no-audit --no-fund --loglevel=error
	touch $(FEDERATION_STAMP)

$(APOLLO_STAMP): $(APOLLO_CLIENT)/package.json $(APOLLO_CLIENT)/package-lock.json
	cd $(APOLLO_CLIENT) && npm ci --no-audit --no-fund --loglevel=error
	touch $(APOLLO_STAMP)

run: $(STAMP)
	$(BIN)/gateway demo --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check gateway tests bench scripts
	$(BIN)/ruff format --check gateway tests bench scripts
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy gateway tests scripts

# pytest exits 5 when it collected no test: that is a broken suite, not a pass.
pytest: install
	$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose" >&2; exit 1; fi; \
	exit $$rc

test: lint typecheck pytest

# Not part of `make test`: minutes long, and it needs wrk (Debian's package).
bench: $(STAMP)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py

# Not part of `make test`: the differential and contract tests on the newest
# strawberry-graphql and graphql-core, in a throwaway venv (docs/compatibility.md).
canary:
	PYTHON=$(PYTHON) scripts/canary.sh

schema: $(STAMP)
	$(BIN)/gateway schema > schema.graphql
	$(BIN)/gateway schema --subgraph > schema.subgraph.graphql

# docs/configuration.md and docs/config.schema.json from the settings models (tests/test_docs.py)
docs: $(STAMP)
	$(BIN)/python scripts/gen_docs.py

clean:
	rm -rf $(VENV) $(CLIENTS_VENV) .venv-canary $(JS_CLIENT)/node_modules $(FEDERATION)/node_modules $(APOLLO_CLIENT)/node_modules .mypy_cache .pytest_cache .ruff_cache
