"""What the simulators share: two listeners on fixed ports, the fault gate, the control API.

A simulator (``sims.callcenter``, ``sims.community``) is a service listener, which ``down``
really closes so connections are refused, and a control listener with the ``/_sim/*``
switches, which stays up so tests and the demo can bring the service back. The service port
is picked at the first start (0 = a free one) and kept across down/up.

- ``Simulator``: the lifecycle (start, stop, apply a mode under one lock, listen or not).
- ``Gate``: the mode the service's requests meet, kept across listener restarts: a counted
  fault reverts to ``up`` once used up; requests parked by ``hang`` wake at the next change
  and are cancelled when the service goes down.
- ``control_app``: ``POST /_sim/mode`` ``{"mode": ..., **params}`` and ``GET /_sim/state``;
  a simulator adds its own switches. Bad requests get 400 ``{"error": ...}``.
- ``number``, ``chosen_mode``, ``status_param``: what both ``ModeSettings.parse`` check.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from abc import ABC, abstractmethod
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final, Generic, Protocol, TypeVar, cast

from aiohttp import web

from sims.listener import Listener, close, listen

SERVICE_SHUTDOWN_S: Final = 0.05  # "down" is a power cut: in-flight requests die quickly
CONTROL_SHUTDOWN_S: Final = 1.0
DOWN: Final = "down"
HANG: Final = "hang"


class Settings(Protocol):
    """A simulator's ``ModeSettings``: ``mode`` is a ``StrEnum`` that has "down" and "hang"."""

    @property
    def mode(self) -> StrEnum: ...


S = TypeVar("S", bound=Settings)
M = TypeVar("M", bound=StrEnum)


def number(params: Mapping[str, object], key: str, default: float) -> float:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{key} must be a non-negative number, got {value!r}")
    return float(value)


def chosen_mode(
    modes: type[M], mode: M | str, params: Mapping[str, object], takes: Mapping[M, frozenset[str]]
) -> M:
    """``mode`` as one of ``modes``; ValueError if unknown or given ``params`` it does not take."""
    if mode not in set(modes):
        raise ValueError(f"unknown mode {mode!r}; expected one of {[m.value for m in modes]}")
    chosen = modes(mode)
    allowed = takes.get(chosen, frozenset())
    if unknown := sorted(set(params) - allowed):
        raise ValueError(f"mode {chosen} takes {sorted(allowed)}, got {unknown}")
    return chosen


def status_param(params: Mapping[str, object]) -> int:
    """``params["status"]`` (default 503), an HTTP error status."""
    status = number(params, "status", 503)
    if not status.is_integer() or not 400 <= status <= 599:
        raise ValueError(f"status must be an integer 400..599, got {status}")
    return int(status)


class Gate(Generic[S]):
    """The mode the service's requests meet; one per simulator, across listener restarts."""

    def __init__(self, up: S) -> None:
        self._up = up
        self.settings = up
        self.remaining: int | None = None  # requests left before a counted fault reverts
        self.hanging: set[asyncio.Task[Any]] = set()
        self.changed = asyncio.Event()

    def apply(self, settings: S, count: int | None = None) -> None:
        """Switch the mode, for the next ``count`` requests only if given; wake parked ones."""
        self.settings, self.remaining = settings, count
        event, self.changed = self.changed, asyncio.Event()
        event.set()

    def admit(self) -> S:
        """The mode this request meets; a counted fault reverts to ``up`` once used up."""
        settings = self.settings
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.settings, self.remaining = self._up, None
        return settings

    async def park(self) -> None:
        """Wait, as a request handler, for the next ``apply``."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("park() must run inside a request handler task")
        self.hanging.add(task)
        try:
            await self.changed.wait()
        finally:
            self.hanging.discard(task)

    async def pass_gate(self) -> S:
        """Park while the mode is ``hang``; return the mode the request then meets."""
        while self.settings.mode == HANG:
            await self.park()
        return self.settings

    def cancel_hanging(self) -> None:
        for task in self.hanging:
            task.cancel()
        self.hanging.clear()


class Simulator(ABC, Generic[S]):
    """A service listener that ``down`` closes and a control listener that stays up."""

    def __init__(self, *, label: str, gate: Gate[S], host: str, port: int, control_port: int):
        self._label = label  # "call center A": names the simulator in errors
        self._gate = gate
        self._host = host
        self._port = port
        self._control_port = control_port
        self._service: Listener | None = None
        self._control: Listener | None = None
        self._lock = asyncio.Lock()

    @abstractmethod
    def _service_app(self) -> web.Application:
        """A new service app over the simulator's state (one per start of the listener)."""

    @abstractmethod
    def _parse(self, mode: str, params: Mapping[str, object]) -> S:
        """``ModeSettings.parse``: ValueError saying what is wrong with a requested mode."""

    @abstractmethod
    def state(self) -> Mapping[str, Any]:
        """What ``GET /_sim/state`` answers (JSON)."""

    def _control_app(self) -> web.Application:
        return control_app(self)

    @property
    def url(self) -> str:
        """Service base URL; the port is fixed at the first start() and kept across down/up."""
        return f"http://{self._host}:{self._port}"

    @property
    def control_url(self) -> str:
        return f"http://{self._host}:{self._control_port}"

    @property
    def settings(self) -> S:
        return self._gate.settings

    @property
    def listening(self) -> bool:
        return self._service is not None

    async def start(self) -> None:
        async with self._lock:
            if self._control is not None:
                raise RuntimeError(f"{self._label} already started")
            self._control = await listen(
                self._control_app(),
                self._host,
                self._control_port,
                shutdown_timeout=CONTROL_SHUTDOWN_S,
            )
            self._control_port = self._control.port
            await self._apply(self._gate.settings)

    async def stop(self) -> None:
        async with self._lock:
            await self._shutdown()

    async def set_mode(self, mode: str, **params: float) -> None:
        """Switch to ``mode`` (a ``Mode`` or its value) with ``params``; ValueError if invalid."""
        await self.apply(self._parse(mode, params))

    async def apply(self, settings: S) -> None:
        async with self._lock:
            if self._control is None:
                raise RuntimeError(f"{self._label} is not started")
            await self._apply(settings)

    async def _apply(self, settings: S) -> None:
        """Holding the lock: requests meet ``settings`` from now on."""
        await self._switch(settings)

    async def _switch(self, settings: S, count: int | None = None) -> None:
        """Point the gate at ``settings`` (for ``count`` requests); listen unless ``down``."""
        self._gate.apply(settings, count)
        await self._listen(want=settings.mode != DOWN)

    async def _shutdown(self) -> None:
        """Holding the lock: close both listeners."""
        await self._listen(want=False)
        if self._control is not None:
            control, self._control = self._control, None
            await close(control)

    async def _listen(self, *, want: bool) -> None:
        if want and self._service is None:
            self._service = await listen(
                self._service_app(), self._host, self._port, shutdown_timeout=SERVICE_SHUTDOWN_S
            )
            self._port = self._service.port
        elif not want and self._service is not None:
            service, self._service = self._service, None
            self._gate.cancel_hanging()
            await close(service)


# --- the control listener --------------------------------------------------------------------

_SIMULATOR: Final = web.AppKey["Simulator[Any]"]("simulator")


class BadBodyError(ValueError):
    """A control request's body is not a JSON object; the message says what is wrong."""


async def json_object(request: web.Request) -> dict[str, object]:
    """The request body as a JSON object; ``BadBodyError`` otherwise."""
    try:
        body = await request.json()
    except ValueError:
        raise BadBodyError("body must be JSON") from None
    if not isinstance(body, dict):
        raise BadBodyError("body must be a JSON object")
    return cast(dict[str, object], body)


def json_error(exc: ValueError) -> web.Response:
    return web.json_response({"error": str(exc)}, status=400)


async def _ctl_mode(request: web.Request) -> web.Response:
    sim = request.app[_SIMULATOR]
    try:
        params = await json_object(request)
        settings = sim._parse(cast(str, params.pop("mode", None)), params)
    except ValueError as exc:
        return json_error(exc)
    await sim.apply(settings)
    return web.json_response(sim.state())


async def _ctl_state(request: web.Request) -> web.Response:
    return web.json_response(request.app[_SIMULATOR].state())


def control_app(sim: Simulator[Any]) -> web.Application:
    """The control listener's app with the switches every simulator has."""
    app = web.Application()
    app[_SIMULATOR] = sim
    app.router.add_post("/_sim/mode", _ctl_mode)
    app.router.add_get("/_sim/state", _ctl_state)
    return app


# --- the command line ------------------------------------------------------------------------


def add_listener_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="service port (0 = free port)")
    parser.add_argument("--control-port", type=int, default=0, help="admin switches port")


async def run_until_signalled(sim: Simulator[Any], title: str) -> None:
    """Start ``sim``, print its URLs, and stop it at SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await sim.start()
    try:
        print(f"{title}: service {sim.url}  control {sim.control_url}", flush=True)
        await stop.wait()
    finally:
        await sim.stop()
