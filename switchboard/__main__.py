"""CLI: `switchboard serve --config FILE`, `switchboard check-config FILE`, `switchboard demo`,
`switchboard haproxy-config --config FILE` (the haproxy.cfg of haproxy mode, on stdout).

Run as `switchboard ...` (the console script) or `python -m failover ...` (failover/
__main__.py, the name scripts and the worker processes use).

Exit codes: 0 ok, 2 bad configuration (the message names the file, the key and what
is wrong), 1 anything else.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from cache.web import SELF_HELP, SELF_HELP_APP
from failover.accesslog import access_log_options
from failover.appkeys import POOL
from failover.callbacks.spool import SpoolError
from failover.configstate import CONFIG
from failover.haproxy_config import DataPlaneConfigError
from failover.haproxy_config import render as render_haproxy_config
from failover.opsport import adopt_ops_socket, listen_ops
from failover.pool import Pool
from failover.server import runner_for
from failover.settings import ConfigError, Settings, load_settings
from failover.version import VERSION
from failover.workers import (
    WorkerInfo,
    ask_for_sigterm_on_parent_death,
    inherited_socket,
    parse_worker,
    supervise,
    watch_master,
    worker_argv,
)
from kernel.clock import SystemClock
from kernel.logs import LogFormat, configure
from switchboard.app import create_app

log = logging.getLogger("switchboard")

EXIT_BAD_CONFIG = 2


async def _listen(runner: web.AppRunner, app: web.Application, settings: Settings) -> int:
    """The ops listener, then the customers': the ops port. A port that cannot be bound
    (in use, not ours to take) stops the process with exit code 1 and the key that names
    it, after stopping what `runner.setup()` started, as a shutdown does. Left to
    asyncio.Runner's one cancel, three of those tasks (redis-watch, callbacks-backlog,
    shared-health-listen) outlived it and kept the process up with no listener."""
    key, host, port = "ops", settings.ops.host, settings.ops.port
    try:
        ops_port = await listen_ops(runner, app, host, port)
        log.warning("switchboard ops listening on http://%s:%s", host, ops_port)
        key, host, port = "server", settings.server.host, settings.server.port
        await web.TCPSite(runner, host, port, backlog=1024, reuse_address=True).start()
    except OSError as exc:
        await runner.cleanup()
        print(f"switchboard: cannot listen on {host}:{port} ({key}.host, {key}.port in "  # noqa: T201
              f"{settings.source}): {exc.strerror or exc}", file=sys.stderr)  # fmt: skip
        raise SystemExit(1) from exc
    return ops_port


async def serve(
    settings: Settings,
    worker: WorkerInfo | None = None,
    fd: int | None = None,
    ops_fd: int | None = None,
) -> None:
    app = create_app(settings, worker=worker)
    loop = asyncio.get_running_loop()
    # SIGHUP reloads the configuration (issue 17; before, its default action killed the
    # process without draining). Installed first: a SIGHUP during start-up is answered
    # "not running yet" in the log rather than killing the process.
    reloads: set[asyncio.Task[object]] = set()

    def reload_on_hup() -> None:
        task = asyncio.create_task(app[CONFIG].reload("SIGHUP"), name="config-reload")
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload_on_hup)
    runner = runner_for(
        app,
        handle_signals=False,
        **access_log_options(settings.server.access_log),
        shutdown_timeout=settings.server.shutdown_grace_ms / 1000,
    )
    try:
        await runner.setup()
    except SpoolError as exc:  # the one start-up failure that is the config's doing
        where = "callbacks.spool_path (server.data_dir)"
        print(f"switchboard: bad configuration\n{where}: {exc}", file=sys.stderr)  # noqa: T201
        raise SystemExit(EXIT_BAD_CONFIG) from exc
    ops_port: int | None = None
    if worker is not None and fd is not None:  # one of several: the master's socket
        # Its siblings already take connections on this socket: take none before the
        # first probes, or they would all be sent to self-help.
        await _first_probes(app[POOL], within=2 * settings.health.timeout + 1.0)
        await web.SockSite(runner, inherited_socket(fd)).start()
        await web.UnixSite(runner, str(worker.socket_path())).start()  # for /metrics
        if ops_fd is not None:
            ops = inherited_socket(ops_fd)
            adopt_ops_socket(app, ops)
            await web.SockSite(runner, ops).start()
    else:
        ops_port = await _listen(runner, app, settings)
    # Everything built so far (settings, routes, metrics, imported modules) lives as long
    # as the process: move it out of the collector's sight, so that collections triggered
    # by per-request garbage do not walk it again and again (CPython docs, gc.freeze).
    gc.freeze()
    # Once the self-help layer has loaded its bulletins, freeze those too: they live as
    # long as the process, and a full collection should not walk them on every pass.
    runtime = app[SELF_HELP_APP][SELF_HELP].runtime
    freezer = asyncio.create_task(_freeze_when(runtime.started), name="gc-freeze")
    if worker is None:
        for address in runner.addresses:
            host, port = address[0], address[1]
            if port != ops_port:
                log.warning("switchboard listening on http://%s:%s", host, port)
    else:
        log.warning("worker %d of %d serving", worker.index + 1, worker.count)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    orphan: asyncio.Task[None] | None = None
    if worker is not None and worker.master is not None:
        orphan = asyncio.create_task(watch_master(worker.master, stop.set), name="watch-master")
    await stop.wait()
    freezer.cancel()
    if orphan is not None:
        orphan.cancel()
    log.warning("draining: stopping in at most %s ms", settings.server.shutdown_grace_ms)
    await runner.cleanup()


async def _first_probes(pool: Pool, *, within: float) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not all(m.last_probe is not None for m in pool.snapshot().members):
        if asyncio.get_running_loop().time() > deadline:
            log.warning("serving before every call center was probed (%.1f s)", within)
            return
        await asyncio.sleep(0.02)


async def _freeze_when(ready: asyncio.Event) -> None:
    await ready.wait()
    gc.collect()
    gc.freeze()


def _run(
    coro_settings: Settings,
    worker: WorkerInfo | None = None,
    fd: int | None = None,
    ops_fd: int | None = None,
) -> None:
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up, absent on some platforms

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(coro_settings, worker, fd, ops_fd))


def _load(path: str) -> Settings | None:
    try:
        return load_settings(path)
    except ConfigError as exc:
        print(f"switchboard: bad configuration\n{exc}", file=sys.stderr)  # noqa: T201
        return None


def _haproxy_config(path: str) -> int:
    settings = _load(path)
    if settings is None:
        return EXIT_BAD_CONFIG
    try:
        text = render_haproxy_config(settings)
    except DataPlaneConfigError as exc:
        print(f"switchboard: bad configuration\n{path}: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_BAD_CONFIG
    sys.stdout.write(text)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="switchboard", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"switchboard {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the front door")
    p_serve.add_argument("--config", required=True, help="TOML configuration file")
    # Set by the master for its workers (server.workers > 1), not by people.
    p_serve.add_argument("--worker", help=argparse.SUPPRESS)
    p_serve.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    p_serve.add_argument("--peers", help=argparse.SUPPRESS)
    p_serve.add_argument("--ops-fd", type=int, help=argparse.SUPPRESS)
    p_serve.add_argument("--master", type=int, help=argparse.SUPPRESS)
    p_check = sub.add_parser("check-config", help="validate a configuration file and exit")
    p_check.add_argument("file")
    p_haproxy = sub.add_parser("haproxy-config", help="print the haproxy.cfg of haproxy mode")
    p_haproxy.add_argument("--config", required=True, help="TOML configuration file")
    sub.add_parser("demo", help="run the local demo (redis-server, two simulated call centers)")
    # A flag, not SWITCHBOARD_LOG_FORMAT: settings reject SWITCHBOARD_* names they do
    # not know. A server's logs go to a collector (JSON lines); a person reads the rest.
    # (The demo's own front door is a `serve` child: sims/demo.py picks its format.)
    for sub_parser, default in ((p_serve, "json"), (p_check, "text")):
        sub_parser.add_argument(
            "--log-format", choices=("json", "text"), default=default,
            help=f"log lines as JSON objects or as text (default: {default})",
        )  # fmt: skip
    args = parser.parse_args(argv)
    log_format: LogFormat = getattr(args, "log_format", "text")
    configure(log_format, logging.INFO)
    if args.command == "check-config":
        settings = _load(args.file)
        if settings is None:
            return EXIT_BAD_CONFIG
        names = ", ".join(f"{c.name} (priority {c.priority})" for c in settings.callcenters)
        print(f"{args.file}: ok; call centers: {names}")  # noqa: T201
        return 0
    if args.command == "haproxy-config":
        return _haproxy_config(args.config)
    if args.command == "serve":
        # Until serve() (or the workers' master) handles it, a SIGHUP must not kill a
        # starting process (its default action): the file is read just below anyway.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        settings = _load(args.config)
        if settings is None:
            return EXIT_BAD_CONFIG
        if args.worker is not None:
            index, count = parse_worker(args.worker)
            # As early as possible: a master dying while this worker starts kills it (the
            # default SIGTERM action); once serving, SIGTERM drains (serve()).
            ask_for_sigterm_on_parent_death()
            info = WorkerInfo(index=index, count=count, peers=Path(args.peers), master=args.master)
            _run(settings, info, args.listen_fd, args.ops_fd)
            return 0
        if settings.server.workers > 1:
            return supervise(
                worker_argv(args.config, log_format),
                host=settings.server.host,
                port=settings.server.port,
                workers=settings.server.workers,
                grace=settings.server.shutdown_grace,
                clock=SystemClock(),
                ops=(settings.ops.host, settings.ops.port),
            )
        _run(settings)
        return 0
    # The demo lives with the simulators, which the product never imports: run it as
    # its own module instead.
    return subprocess.call([sys.executable, "-m", "sims.demo"], env=os.environ.copy())


if __name__ == "__main__":
    sys.exit(main())
