# Orderflow: `make run` starts everything, `make test` runs the whole suite.
# Only python3 and make are needed; everything else is installed into .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-postgres worker api migrate seed clean bench

# Production deployment (README: Production deployment). Hashes must be those of the files a
# Docker build downloads from the default index, so the lock is made with the machine's own
# pip configuration (local mirrors, wheel folders, constraints) switched off.
LOCK_ENV := env -u PIP_FIND_LINKS -u PIP_CONSTRAINT -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null
.PHONY: lock check-deploy
# Debian's docker-compose (v1) or the Compose v2 plugin, whichever is there.
COMPOSE ?= $(shell command -v docker-compose >/dev/null 2>&1 && echo docker-compose || \
	{ docker compose version >/dev/null 2>&1 && echo 'docker compose'; } || \
	echo 'echo "no docker-compose (Debian: apt-get install docker-compose)" >&2; false')

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
# Also the stock issue's proof through the API (200 orders for 50 units), in a database of its
# own on that server. And partial shipments end to end (over HTTP and in the workflow), whose
# keys per shipment and held-row index differ most between the two databases.
test-postgres: $(STAMP)
	$(BIN)/pytest tests/storage tests/activities tests/integration/test_last_units_race.py \
		tests/api/test_partial_shipments.py tests/workflows/test_partial_shipments.py

migrate: $(STAMP)
	$(BIN)/python -m storage.migrate

worker: $(STAMP)
	$(BIN)/python worker.py

clean:
	rm -rf $(VENV) var/*.db var/*.db-* .pytest_cache
bench-warehouse: $(STAMP) ; $(BIN)/python -m scripts.bench_warehouse

# requirements.lock: pyproject.toml's runtime dependencies (and setuptools, to build the app in
# the image), every file's hash; the Dockerfile installs only from it.
lock: $(STAMP)
	test -x $(BIN)/pip-compile || $(BIN)/pip install --quiet 'pip-tools>=7.4'
	$(LOCK_ENV) CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
		--allow-unsafe --build-deps-for wheel --strip-extras --no-emit-index-url --no-emit-find-links \
		--output-file requirements.lock pyproject.toml

# No Docker engine here, so no image is built or run: hadolint lints the Dockerfile, and
# tests/deploy has Compose resolve docker-compose.yml (no daemon needed) with deploy/.env.example
# as it is (refused: secrets blank) and filled in (each process's settings then load in the
# production profile), checks the lock against pyproject.toml and prepares a namespace on the
# dev server the way the temporal-setup service does.
check-deploy: $(STAMP)
	$(BIN)/hadolint Dockerfile
	$(COMPOSE) version
	$(BIN)/pytest -q -p no:cacheprovider tests/deploy
