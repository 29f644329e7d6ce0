# The two commands of the README: `make run` (the demo) and `make test` (the whole suite).
# Both install what they need from the lock file (uv.lock) into .venv, with a pinned uv that
# scripts/ensure-uv fetches from PyPI (no pip or python3-venv needed), and the Debian
# packages they use. `make lock` refreshes the lock on purpose (README, "Dependencies").
PYTHON     ?= python3
UV_VERSION := 0.13.9
UV_PINNED  := .tools/uv-$(UV_VERSION)/uv
UV         ?= $(UV_PINNED)
VENV       := .venv
BIN        := $(VENV)/bin
# uv uses this interpreter for .venv; copies rather than hard links, so a cache on another
# file system does not warn at every install.
export UV_PYTHON    := $(PYTHON)
export UV_LINK_MODE := copy
DEBIAN_RUN  := redis-server:redis-server
DEBIAN_TEST := redis-server:redis-server chromium:chromium amtool:prometheus-alertmanager haproxy:haproxy

.PHONY: run test lint typecheck rules unit integration debian bench clean lock sync-run sync-test ensure-uv

# The pinned uv, unless UV= names another one.
ensure-uv:
	@[ "$(UV)" != "$(UV_PINNED)" ] || [ -x "$(UV_PINNED)" ] || { \
	  scripts/ensure-debian-packages python3:python3 && $(PYTHON) scripts/ensure-uv >/dev/null; }

# Exactly the lock: --locked fails if uv.lock no longer matches pyproject.toml instead of
# quietly re-resolving. The demo gets the runtime set only; --inexact leaves what make test
# added in place. The tests get the runtime set, dev and loadtest (the spike gate is tested).
sync-run: ensure-uv
	@$(UV) sync --locked --inexact --quiet

sync-test: ensure-uv
	@$(UV) sync --locked --extra dev --extra loadtest --quiet

# Refresh every pin to the newest release that pyproject's ranges allow, then run make test.
lock: ensure-uv
	$(UV) lock --upgrade

debian:
	@scripts/ensure-debian-packages $(DEBIAN_TEST)

run: sync-run
	@scripts/ensure-debian-packages $(DEBIAN_RUN)
	$(BIN)/python -m sims.demo

lint: sync-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: sync-test
	$(BIN)/mypy

test: sync-test debian lint typecheck rules
	$(BIN)/pytest

# Prometheus config, recording rules and alerts (monitoring/), with their promtool unit
# tests; the Alertmanager config and where each severity is routed. Debian ships promtool
# in the prometheus package, amtool (and the Alertmanager the tests run) in
# prometheus-alertmanager.
AMTOOL_ROUTE := amtool config routes test --config.file=monitoring/alertmanager.yml
rules:
	@scripts/ensure-debian-packages promtool:prometheus amtool:prometheus-alertmanager
	promtool check config monitoring/prometheus.yml
	promtool check rules monitoring/rules/*.yml
	promtool test rules monitoring/rules/tests/*.yml
	amtool check-config monitoring/alertmanager.yml
	$(AMTOOL_ROUTE) --verify.receivers=pager severity=critical alertname=SwitchboardAllCallCentersDown
	$(AMTOOL_ROUTE) --verify.receivers=tickets severity=warning alertname=SwitchboardCallCenterDown
	$(AMTOOL_ROUTE) --verify.receivers=null severity=info alertname=SwitchboardFailoverActive

unit: sync-test
	$(BIN)/pytest tests/unit

integration: sync-test debian
	$(BIN)/pytest tests/integration

bench: sync-test debian
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
loadtest: sync-test debian
	$(BIN)/python -m loadtests.spike --profile full

loadtest-ci: sync-test debian
	$(BIN)/python -m loadtests.spike --profile ci

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache
