"""Child processes for end-to-end tests: free ports, a clean environment, bounded stops.

The implementation is the shared harness (sims/harness/procs.py, ports.py), also used by
the demo, the spike test and the benchmarks; the names here stay for the tests.

Every process a test starts goes through :func:`stop_process` in a fixture's teardown:
SIGTERM, a bounded wait, then SIGKILL (of the process group when the child was started in
its own session, so that helpers it forked, like Chromium's renderers, go too).
"""

from __future__ import annotations

from sims.harness.ports import free_port
from sims.harness.procs import SWITCHBOARD_PREFIX, clean_env, die_with_parent, stop_process

__all__ = ["SWITCHBOARD_PREFIX", "clean_env", "die_with_parent", "free_port", "stop_process"]
