"""`make run`: the local demo, every part a real process (sims/harness/frontdoor.py).

A redis-server on a free port (its data in a temporary folder, AOF fsynced always), two
simulated call centers (priorities 1 and 2), the community simulator, and the front door
on http://127.0.0.1:8080 (or SWITCHBOARD_DEMO_PORT). Prints the URLs and how to break
things; Ctrl-C stops all.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

from sims.harness.frontdoor import World, callcenter_tables, world
from sims.harness.ports import StartError, free_port, port_is_free
from sims.harness.procs import clean_env

__all__ = ["callcenter_tables", "free_port", "main"]

OPS_PORT: Final = 9180  # the [ops] default
DEMO_PORT: Final = "SWITCHBOARD_DEMO_PORT"
REDIS_OPTIONS: Final = {"appendonly": "yes", "appendfsync": "always", "save": ""}


def main() -> int:
    port = int(os.environ.get(DEMO_PORT, "8080"))
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-demo-"))
    # The front door refuses SWITCHBOARD_* variables it does not know: not this one; the
    # others are the developer's settings for the demo's front door.
    env = clean_env({k: v for k, v in os.environ.items() if k != DEMO_PORT})

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        with world(
            workdir, workdir / "logs", port=port,
            ops_port=OPS_PORT if port_is_free(OPS_PORT) else free_port(),
            redis_options=REDIS_OPTIONS, extra="[routing]\nhold_down_ms = 3000", door_env=env,
        ) as up:  # fmt: skip
            _print_help(up, workdir / "logs")
            while not up.dead():
                time.sleep(0.5)
            print(f"demo: {', '.join(up.dead())} exited; stopping the rest", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        return 0
    except StartError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _print_help(up: World, logs: Path) -> None:
    base, ops, controls, community = up.base_url, up.ops_url, up.controls, up.community_control
    print(
        f"""
Switchboard demo is up.
  customers:      {base}/support/router/setup   (proxied to the best call center)
  self-help:      {base}/help   (300 bulletins from the community simulator)
  search:         {base}/help/search?q=wifi+dropping
  callback form:  {base}/help/callbacks/new
  ops (private):  {ops}/status   (also /api/v1/status, /metrics, /admin)
  redis:          redis://127.0.0.1:{up.redis_port}/0   config: {up.config}
  logs:           {logs}

Break things (modes: up, down, hang, slow, error, flap):
  curl -X POST {controls["primary"]}/_sim/mode -d '{{"mode": "down"}}'
  curl -X POST {controls["backup"]}/_sim/mode -d '{{"mode": "down"}}'
  curl -X POST {controls["primary"]}/_sim/mode -d '{{"mode": "up"}}'
  curl -X POST {controls["primary"]}/_sim/health -d '{{"status": "degraded"}}'
  curl -X POST {community}/_sim/mode -d '{{"mode": "down"}}'
      (the community site down: self-help keeps serving its cached copy)
then:  curl -si {base}/support/router/setup | head -5
Ask for a callback while both are down, then bring one back and watch it arrive:
  curl -X POST {base}/help/callbacks -H 'Content-Type: application/json' \\
       -H 'Idempotency-Key: demo-1' -d '{{"name": "Ada", "phone": "+14155552671", "topic": "wifi"}}'
  curl {controls["primary"]}/_sim/callbacks

Ctrl-C stops everything.
""",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
