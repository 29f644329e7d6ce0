"""The TCP fault proxy of the integration tests: sims/faultproxy.py, shared with the
failover bench (which runs it as its own process)."""

from __future__ import annotations

from sims.faultproxy import FaultMode, FaultProxy, FaultSettings

__all__ = ["FaultMode", "FaultProxy", "FaultSettings"]
