# Orderflow: `make run` starts everything, `make test` runs the whole suite.
# Only python3 and make are needed; everything else is installed into .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-postgres worker api migrate seed clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m scripts.dev

test: $(STAMP)
	$(BIN)/pytest

# Throughput against the engine floor, start latency, cost per order, orders at rest (README: Benchmarks).
bench: $(STAMP)
	$(BIN)/python -m scripts.bench $(ARGS)

# The storage tests again, against PostgreSQL: make test-postgres TEST_DATABASE_URL=postgresql+asyncpg://...
test-postgres: $(STAMP)
	$(BIN)/pytest tests/storage tests/activities

migrate: $(STAMP)
	$(BIN)/python -m storage.migrate

worker: $(STAMP)
	$(BIN)/python worker.py

clean:
	rm -rf $(VENV) var/*.db var/*.db-* .pytest_cache
bench-warehouse: $(STAMP) ; $(BIN)/python -m scripts.bench_warehouse
