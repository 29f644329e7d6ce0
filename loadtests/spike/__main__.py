"""`python -m loadtests.spike`: start the stack, run the spike headless, gate it, plot it
(loadtests/README.md: the phases, the gate, the cores, the output folder).

Exit code: locust's, which is the gate's (0 every SLO met, 3 one breached), or 2 for a
bad threshold file or override, 1 when the stack failed."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

from loadtests.spike.profile import PROFILES, Profile
from loadtests.spike.slo import Slo, SloError, load
from loadtests.spike.stack import stack
from loadtests.spike.state import RunConfig
from sims.harness.ports import StartError
from sims.harness.procs import ROOT, clean_env, cores, die_with_parent

DEFAULT_SLO: Final = ROOT / "loadtests" / "slo.toml"
LOCUSTFILE: Final = ROOT / "loadtests" / "locustfile.py"
EXIT_BAD_SLO: Final = 2
EXIT_STACK: Final = 1
STOP_GRACE_S: Final = 90.0  # locust evaluates the gate on its way out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtests.spike", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--profile", choices=sorted(PROFILES), default="full")
    p.add_argument("--users", type=int, help="baseline users instead of the profile's")
    p.add_argument("--out", type=Path, help="output folder (default var/loadtests/...)")
    p.add_argument("--slo", type=Path, default=DEFAULT_SLO, help="thresholds (TOML)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a threshold, e.g. latency.bulletin.p99_ms=0.001")  # fmt: skip
    p.add_argument("--drain-s", type=float, default=30.0,
                   help="at the end, how long the gate waits for the callback backlog to "
                        "shrink again once it stopped shrinking")  # fmt: skip
    return p


def _locust_child() -> None:
    # Started from a shell in the background, we inherit SIGINT ignored; locust must not,
    # or the SIGINT that stops it early (and still writes its report) would be lost.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    die_with_parent()


def _run_locust(argv: list[str], log: Path, core: int | None) -> int:
    """Run locust, its output to the terminal and to `log`; Ctrl-C or SIGTERM stops it
    the way Ctrl-C stops locust (it still writes its report and runs the gate)."""
    pinned = ["taskset", "-c", str(core), *argv] if core is not None else argv
    with log.open("wb") as sink:
        proc = subprocess.Popen(  # noqa: S603 - our own argv
            pinned, cwd=ROOT, env=clean_env(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_locust_child,  # noqa: PLW1509 - signal dispositions and a prctl only
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                sink.write(line)
                sys.stdout.buffer.write(line)
                sys.stdout.flush()
            return proc.wait()
        except KeyboardInterrupt:
            print("\nspike: interrupted; stopping locust", file=sys.stderr, flush=True)
            proc.send_signal(signal.SIGINT)
            try:
                return proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                return EXIT_STACK  # killed below
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    profile = PROFILES[args.profile]
    if args.users is not None:
        profile = dataclasses.replace(profile, baseline_users=args.users)
    try:
        slo = load(args.slo, args.overrides)
    except SloError as exc:
        print(f"spike: {exc}", file=sys.stderr)
        return EXIT_BAD_SLO
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out: Path = (args.out or ROOT / "var" / "loadtests" / f"spike-{profile.name}-{stamp}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops it as Ctrl-C does
    # Redis's data on the disk (its fsyncs are part of what is measured); everything else
    # the run writes while it runs in memory, copied to `out` at the end: a load
    # generator or front door blocked on a busy disk measures the disk (README).
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-spike-"))
    stage = Path(tempfile.mkdtemp(prefix="switchboard-spike-", dir=_ram_dir()))
    stage.chmod(0o755)  # copied onto `out` with its mode
    try:
        code = _run(profile, slo, stage, workdir, drain_s=args.drain_s)
    finally:
        shutil.copytree(stage, out, dirs_exist_ok=True)
        shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
    _finish(out)
    return code


def _ram_dir() -> str | None:
    shm = Path("/dev/shm")  # noqa: S108 - our own private mkdtemp folder inside it
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def _run(profile: Profile, slo: Slo, stage: Path, workdir: Path, *, drain_s: float) -> int:
    """Start the stack, run locust against it; locust's exit code (the gate's)."""
    logs = stage / "logs"
    logs.mkdir()
    door_core, locust_core = cores()
    try:
        with stack(workdir, logs, door_core=door_core, side_core=locust_core) as st:
            pins = "not pinned (one core)"
            if door_core is not None:
                pins = (f"front door on core {door_core}; locust, Redis and the simulators on "
                        f"core {locust_core}")  # fmt: skip
            print(f"spike: stack up, front door {st.base_url}; {pins}", flush=True)
            config = RunConfig(profile=profile, host=st.base_url, ops=st.ops_url,
                               controls=st.controls, door_pid=st.door_pid, out=stage, slo=slo,
                               drain_s=drain_s)  # fmt: skip
            run_file = stage / "run.json"
            config.write(run_file)
            shutil.copy(st.config, stage / "switchboard.toml")
            started = time.monotonic()
            code = _run_locust(
                [
                    sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
                    "--host", st.base_url, "--spike-run", str(run_file),
                    "--csv", str(stage / "locust"), "--csv-full-history",
                    "--html", str(stage / "report.html"), "--only-summary",
                ],
                logs / "locust.log",
                locust_core,
            )  # fmt: skip
            print(f"spike: locust exited {code} after {time.monotonic() - started:.0f} s")
            if dead := st.dead():
                print(f"spike: these died during the run: {', '.join(dead)}", file=sys.stderr)
                code = code or EXIT_STACK
            return code
    except StartError as exc:
        print(f"spike: {exc} (see the logs)", file=sys.stderr)
    except KeyboardInterrupt:
        print("spike: interrupted", file=sys.stderr)
    return EXIT_STACK


def _finish(out: Path) -> None:
    if (out / "timeline.csv").exists() and (out / "events.json").exists():
        from loadtests.spike.plot import plot  # noqa: PLC0415 - matplotlib only when needed

        try:
            plot(out)
        except (OSError, ValueError, KeyError) as exc:
            print(f"spike: could not plot: {exc}", file=sys.stderr)
    print(f"\nspike: output in {out}")
    for path in sorted(out.iterdir()):
        print(f"  {path.name}")


if __name__ == "__main__":
    sys.exit(main())
