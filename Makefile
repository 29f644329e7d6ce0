# The two commands of the README: `make run` (the demo) and `make test` (the whole suite).
# Both create .venv and install what they need, Debian packages included.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEBIAN := redis-server:redis-server chromium:chromium

.PHONY: run test lint typecheck rules unit integration debian bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

debian:
	@scripts/ensure-debian-packages $(DEBIAN)

run: $(STAMP) debian
	$(BIN)/python -m sims.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) debian lint typecheck rules
	$(BIN)/pytest

# Prometheus config, recording rules and alerts (monitoring/), with their promtool unit
# tests. Debian ships promtool in the prometheus package.
rules:
	@scripts/ensure-debian-packages promtool:prometheus
	promtool check config monitoring/prometheus.yml
	promtool check rules monitoring/rules/*.yml
	promtool test rules monitoring/rules/tests/*.yml

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP) debian
	$(BIN)/pytest tests/integration

bench: $(STAMP) debian
	@scripts/ensure-debian-packages wrk:wrk nginx:nginx valgrind:valgrind
	$(BIN)/python -m loadtests.bench_proxy --instructions --out loadtests/results/proxy.md
	$(BIN)/python -m loadtests.bench_proxy_handler --out loadtests/results/proxy-handler.md
	$(BIN)/python -m loadtests.bench_selfhelp --instructions --out loadtests/results/selfhelp.md
	$(BIN)/python -m loadtests.bench_callbacks --out loadtests/results/callbacks.md
	$(BIN)/python -m loadtests.bench_nginx_failover --out loadtests/results/failover-nginx.md
	$(BIN)/python -m loadtests.bench_idle --out loadtests/results/idle.md
	$(BIN)/python -m loadtests.bench_index --out loadtests/results/index.md

# The spike test (loadtests/README.md): the whole stack as processes and locust headless,
# front door and locust pinned to different cores; the output folder is printed at the end.
# loadtest-ci: the same phases in 85 s (run by .ci/run; the gate's own tests run in make test).
.PHONY: loadtest loadtest-ci
loadtest: $(STAMP) debian
	$(BIN)/python -m loadtests.spike --profile full

loadtest-ci: $(STAMP) debian
	$(BIN)/python -m loadtests.spike --profile ci

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
