"""Measure: time from a call center going down to the first self-help redirect.

The front door runs as its own process with the DEFAULT configuration (only the call
centers are given) in front of one simulated call center. A steady trickle of
customers (one request every 20 ms, each on its own) runs while the simulator is
switched to `down` (refuses), `hang` (accepts, never answers) or `error` (503). For
each we report how long after the switch the first 303 to self-help came back, the
slowest customer answer in the window, and how many customers got a 5xx.

    python -m loadtests.failover_time [--rounds 3] [--out loadtests/results/failover.md]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from sims.callcenter import CallCenterSim
from sims.demo import free_port

TIMEOUT = aiohttp.ClientTimeout(total=15, sock_connect=5, sock_read=15)
PACE = 0.02


@dataclass(frozen=True, slots=True)
class Sample:
    sent: float
    done: float
    status: int


async def _customer(session: aiohttp.ClientSession, url: str, out: list[Sample]) -> None:
    sent = time.monotonic()
    try:
        async with session.get(url, allow_redirects=False, timeout=TIMEOUT) as resp:
            await resp.read()
            status = resp.status
    except (aiohttp.ClientError, TimeoutError):
        status = 599  # transport failure seen by the customer
    out.append(Sample(sent, time.monotonic(), status))


async def _wait_ready(session: aiohttp.ClientSession, base: str) -> None:
    for _ in range(200):
        try:
            async with session.get(f"{base}/readyz", timeout=TIMEOUT) as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise SystemExit("front door did not become ready")


async def one_round(mode: str) -> tuple[float, float, int]:
    sim = CallCenterSim(name="solo")
    await sim.start()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "switchboard.toml"
        config.write_text(
            f"[server]\nport = {port}\n[ops]\nport = 0\n"
            f'[[callcenters]]\nname = "solo"\nurl = "{sim.url}"\n'
        )
        door = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "failover", "serve", "--config", str(config),
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as session:
                await _wait_ready(session, base)
                samples: list[Sample] = []
                tasks: set[asyncio.Task[None]] = set()
                fault_at = 0.0
                end = time.monotonic() + 6.0
                switched = False
                while time.monotonic() < end:
                    if not switched and time.monotonic() > end - 5.0:
                        fault_at = time.monotonic()
                        await sim.set_mode(mode, **({"status": 503} if mode == "error" else {}))
                        switched = True
                    task = asyncio.create_task(
                        _customer(session, f"{base}/support/router/setup", samples),
                        name="customer",
                    )
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    await asyncio.sleep(PACE)
                await asyncio.gather(*tasks)
        finally:
            door.terminate()
            await door.wait()
            await sim.stop()
    redirects = [s.done for s in samples if s.status == 303 and s.done >= fault_at]
    first = min(redirects) - fault_at if redirects else float("inf")
    window = [s for s in samples if s.done >= fault_at]
    worst = max(s.done - s.sent for s in window)
    errors = sum(1 for s in samples if s.status >= 500)
    return first, worst, errors


async def main_async(rounds: int) -> str:
    lines = [
        f"Time from a call center failing to the first self-help redirect "
        f"(default config, one call center, a customer every {PACE * 1000:.0f} ms, "
        f"{rounds} rounds per mode)",
        "",
        "| fault | first redirect, median | first redirect, worst | slowest answer | "
        "customer 5xx |",
        "|---|---:|---:|---:|---:|",
    ]
    for mode in ("down", "hang", "error"):
        results = [await one_round(mode) for _ in range(rounds)]
        firsts = [r[0] for r in results]
        lines.append(
            f"| {mode} | {statistics.median(firsts) * 1000:.0f} ms | {max(firsts) * 1000:.0f} ms "
            f"| {max(r[1] for r in results) * 1000:.0f} ms | {sum(r[2] for r in results)} |"
        )
        print(lines[-1], flush=True)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("loadtests/results/failover.md"))
    args = parser.parse_args()
    report = asyncio.run(main_async(args.rounds))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
