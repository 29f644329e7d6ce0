"""Which configuration is in force, and how reloads went (issue 17).

`switchboard_config_info{version}` is 1 for the version in force (one series at a time:
the old one is removed on a reload, so a join on it never matches two); the generation
counts applied configurations (1 at start); `reloads_total{result}` has every result at
0 from the start, so the first refused reload shows in `increase()`.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge

RESULTS: Final = ("ok", "invalid", "refused", "error")


class ConfigMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._info = Gauge(
            "switchboard_config_info",
            "Always 1; the label is the version (content hash) of the configuration in force.",
            ["version"],
            registry=registry,
        )
        self._generation = Gauge(
            "switchboard_config_generation",
            "Configurations applied since start: 1 at start, +1 per reload that changed it.",
            registry=registry,
        )
        self._loaded = Gauge(
            "switchboard_config_loaded_timestamp_seconds",
            "When the configuration in force was loaded (Unix time).",
            registry=registry,
        )
        self.reloads_total = Counter(
            "switchboard_config_reloads_total",
            "Configuration reloads asked (SIGHUP or POST /admin/reload), by result: ok, "
            "invalid (the file did not validate), refused (a restart-only key changed), "
            "error (applying failed).",
            ["result"],
            registry=registry,
        )
        for result in RESULTS:
            self.reloads_total.labels(result)
        self._version: str | None = None

    def in_force(self, version: str, generation: int, loaded_at: float) -> None:
        if self._version is not None and self._version != version:
            self._info.remove(self._version)
        self._info.labels(version).set(1)
        self._version = version
        self._generation.set(generation)
        self._loaded.set(loaded_at)
