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
DEBIAN_TEST := redis-server:redis-server redis-sentinel:redis-sentinel chromium:chromium amtool:prometheus-alertmanager haproxy:haproxy promtool:prometheus shellcheck:shellcheck ip:iproute2 node:nodejs npm:npm

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
	$(BIN)/lint-imports

typecheck: sync-test
	$(BIN)/mypy

test: sync-test debian browser-tools lint typecheck rules deploy-check
	$(BIN)/pytest

# axe-core and Lighthouse for the customer pages' audits (tests/e2e/test_page_audits.py),
# from the npm registry, exactly as tests/browser/package-lock.json pins them: `npm ci`
# into tests/browser/node_modules, again only when the lock changed (the stamp). No
# package's install scripts run (none is needed).
BROWSER_TOOLS := tests/browser
BROWSER_STAMP := $(BROWSER_TOOLS)/node_modules/.npm-ci.stamp
.PHONY: browser-tools
browser-tools: $(BROWSER_STAMP)

$(BROWSER_STAMP): $(BROWSER_TOOLS)/package-lock.json $(BROWSER_TOOLS)/package.json
	@scripts/ensure-debian-packages node:nodejs npm:npm
	cd $(BROWSER_TOOLS) && npm ci --prefer-offline --ignore-scripts --no-audit --no-fund
	@touch $@

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

# deploy/ checked offline, no container engine or cluster (docs/deploy.md): yamllint,
# hadolint, the compose file against the compose-spec schema, haproxy -c, promtool,
# shellcheck, each Kubernetes overlay rendered by kustomize and validated in strict mode.
.PHONY: deploy-check
deploy-check: sync-test debian
	$(BIN)/python -m deploy.check

unit: sync-test
	$(BIN)/pytest tests/unit

integration: sync-test debian
	$(BIN)/pytest tests/integration

bench: sync-test debian
	@scripts/ensure-debian-packages wrk:wrk nginx:nginx valgrind:valgrind haproxy:haproxy
	$(BIN)/python -m loadtests.bench_proxy --instructions --out loadtests/results/proxy.md
	$(BIN)/python -m loadtests.bench_dataplane --out loadtests/results/dataplane.md
	$(BIN)/python -m loadtests.bench_selfhelp --instructions --out loadtests/results/selfhelp.md
	$(BIN)/python -m loadtests.bench_callbacks --out loadtests/results/callbacks.md
	$(BIN)/python -m loadtests.bench_nginx_failover --out loadtests/results/failover-nginx.md
	$(BIN)/python -m loadtests.bench_index --out loadtests/results/index.md
	$(BIN)/python -m loadtests.bench_workers --out loadtests/results/workers.md

# The spike test (loadtests/README.md): the whole stack as processes and locust headless,
# front door and locust pinned to different cores; the output folder is printed at the end.
# loadtest-ci: the same phases in 85 s (run by .ci/run; the gate's own tests run in make test).
.PHONY: loadtest loadtest-ci
loadtest: sync-test debian
	$(BIN)/python -m loadtests.spike --profile full

loadtest-ci: sync-test debian
	$(BIN)/python -m loadtests.spike --profile ci

# The soak (loadtests/soak.py, not in CI): the stack under a steady mix for 30 minutes;
# fails when memory, file descriptors or metric series keep growing after the warm-up.
# The cluster on one machine (docs/deploy.md, "Cluster on one machine"): three front doors,
# each in its own network namespace, HAProxy, Redis primary + replica + 3 sentinels, the
# simulators; URLs printed, Ctrl-C removes it all. Root only (namespaces); tests/cluster/
# runs the same code in make test.
.PHONY: cluster
cluster: sync-run
	@[ "$$(id -u)" -eq 0 ] || { echo "make cluster: needs root (it creates network namespaces): sudo make cluster" >&2; exit 2; }
	@scripts/ensure-debian-packages redis-server:redis-server redis-sentinel:redis-sentinel haproxy:haproxy ip:iproute2
	$(BIN)/python -m deploy.cluster

.PHONY: soak
soak: sync-test debian
	$(BIN)/python -m loadtests.soak --minutes 30 --out loadtests/results/soak.md

# The customer pages' message catalogs (docs/pages.md, "Languages"): extract the messages
# from the templates and Python (babel.cfg) and update cache/locale/*/LC_MESSAGES/*.po;
# then translate what is new. A new language: $(BIN)/python -m cache.catalogs --init xx
.PHONY: i18n
i18n: sync-test
	$(BIN)/python -m cache.catalogs

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache $(BROWSER_TOOLS)/node_modules
