"""A small asyncio TCP fault proxy (toxiproxy is not available): in the event loop of an
integration test, or as its own process in the failover bench (`python -m sims.faultproxy
LISTEN_PORT UPSTREAM_PORT`: SIGUSR1 blackholes, SIGUSR2 drops, SIGTERM ends it).

Sits between a client and one upstream (host, port) and, per mode, forwards or breaks
the bytes. Modes, changed at runtime with ``await proxy.set_mode(mode, **params)``:

- ``pass``: forward both ways;
- ``slow``: like pass, ``delay_ms`` before forwarding each chunk;
- ``blackhole``: accept, read and discard, never answer (existing links stop forwarding);
- ``refuse``: the listening socket is closed, new connections are refused and existing
  ones closed; leaving ``refuse`` listens again on the SAME port;
- ``reset``: accept, then close with RST (SO_LINGER on, 0 s); existing links are reset;
- ``drop``: as blackhole for existing links, and new connections are never established:
  the listening socket is replaced by one with ``listen(0)`` whose one queue slot we fill
  ourselves, so that Linux drops every further SYN ("accept queue full",
  ``tcp_conn_request``) and the client's connect times out, as for a host that lost
  power or a firewall that drops packets. No iptables, nothing outside this process.

Blackholed and dropped links tell nobody: a close from either side is not passed on.

Every link task is named and kept; ``stop()`` closes every transport it opened.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import struct
import sys
from collections.abc import Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from sims.listener import stop_accepting

_CHUNK: Final = 64 * 1024
_CONNECT_TIMEOUT_S: Final = 2.0


class FaultMode(StrEnum):
    PASS = "pass"  # noqa: S105 - a mode's name, not a password
    SLOW = "slow"
    BLACKHOLE = "blackhole"
    REFUSE = "refuse"
    RESET = "reset"
    DROP = "drop"


SILENT: Final = frozenset({FaultMode.BLACKHOLE, FaultMode.DROP})  # links swallow everything


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSettings:
    mode: FaultMode = FaultMode.PASS
    delay_ms: float = 0.0


def _reset(writer: asyncio.StreamWriter | None) -> None:
    """Close with RST instead of FIN: linger on with a zero timeout, then abort."""
    if writer is None or writer.transport.is_closing():
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass(slots=True, kw_only=True, eq=False)  # identity: links live in a set
class _Link:
    """One client connection, its upstream once dialled, and the tasks that serve it."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def spawn(self, coro: Coroutine[None, None, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self.tasks.append(task)
        return task

    def abort(self, *, rst: bool = False) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None and rst:
                _reset(writer)
            elif writer is not None:
                writer.transport.abort()

    def kill(self, *, rst: bool) -> None:
        self.abort(rst=rst)
        for task in self.tasks:
            task.cancel()


class FaultProxy:
    """TCP proxy to ``upstream_host:upstream_port`` with switchable faults."""

    def __init__(
        self, upstream_host: str, upstream_port: int, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._host = host
        self._port = port
        self._settings = FaultSettings()
        self._server: asyncio.Server | None = None
        self._trap: list[socket.socket] = []  # drop: the listen(0) socket and its filler
        self._links: set[_Link] = set()
        # The per-connection tasks asyncio.start_server creates for _on_client: named there,
        # kept here so that stop() can wait for them. They are never cancelled (Python 3.11's
        # start_server callback calls task.exception(), which raises on a cancelled task);
        # links are killed by cancelling the tasks _Link.spawn made instead.
        self._handlers: set[asyncio.Task[object]] = set()
        self.connections_total = 0

    @property
    def port(self) -> int:
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return (self._host, self._port)

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    async def start(self) -> None:
        if self._settings.mode is not FaultMode.REFUSE:
            await self._listen()

    async def stop(self) -> None:
        self._untrap()
        server = await self._stop_listening()
        if server is not None:
            await server.wait_closed()
        await self._kill_links(rst=False)

    async def set_mode(self, mode: FaultMode | str, *, delay_ms: float = 0.0) -> None:
        if delay_ms < 0:
            raise ValueError(f"delay_ms must be non-negative, got {delay_ms}")
        self._settings = FaultSettings(mode=FaultMode(mode), delay_ms=delay_ms)
        if self._settings.mode is FaultMode.REFUSE:
            await self.stop()
        elif self._settings.mode is FaultMode.RESET:
            await self._kill_links(rst=True)
        elif self._settings.mode is FaultMode.DROP:
            await self._set_trap()
            return
        self._untrap()
        if self._settings.mode is not FaultMode.REFUSE and self._server is None:
            await self._listen()

    async def _set_trap(self) -> None:
        """Close the listening socket only (accepted links stay, silent) and take its port
        with a `listen(0)` socket whose one slot a connection of ours fills."""
        if self._trap:
            return
        await self._stop_listening()
        trap = socket.socket()
        trap.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        trap.bind((self._host, self._port))
        trap.listen(0)  # one slot; never accepted from
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex((self._host, self._port))  # takes the slot; the kernel completes it
        self._trap = [filler, trap]

    async def _stop_listening(self) -> asyncio.Server | None:
        """Close the listening socket, if open; accepted links stay (`_kill_links`)."""
        server, self._server = self._server, None
        if server is not None:
            await stop_accepting(server.sockets)  # CPython gh-109564: see sims/listener.py
            server.close()
        return server

    def _untrap(self) -> None:
        for sock in self._trap:
            sock.close()
        self._trap = []

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._on_client, self._host, self._port, reuse_address=True
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def _kill_links(self, *, rst: bool) -> None:
        for link in list(self._links):
            link.kill(rst=rst)
        if self._handlers:
            await asyncio.wait(set(self._handlers))

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_total += 1
        name = f"faultproxy-{self._port}-link-{self.connections_total}"
        handler = asyncio.current_task()
        if handler is not None:
            handler.set_name(name)
            self._handlers.add(handler)
        link = _Link(client=writer)
        self._links.add(link)
        try:
            worker = link.spawn(self._serve_link(link, reader, name), name=f"{name}-serve")
            await asyncio.wait({worker})
            if not worker.cancelled() and (exc := worker.exception()) is not None:
                raise exc
        finally:
            link.kill(rst=False)
            await asyncio.wait(link.tasks)
            self._links.discard(link)
            if handler is not None:
                self._handlers.discard(handler)

    async def _serve_link(self, link: _Link, reader: asyncio.StreamReader, name: str) -> None:
        try:
            mode = self._settings.mode
            if mode is FaultMode.RESET:
                _reset(link.client)
                return
            if mode is FaultMode.REFUSE:  # accepted just before the listener closed
                return
            if mode in SILENT:
                while await reader.read(_CHUNK):
                    pass
                return
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*self._upstream), _CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError):
            return  # upstream refused or unreachable: the client just sees the link close
        link.upstream = up_writer
        pumps = {
            link.spawn(self._pump(reader, up_writer, link), name=f"{name}-up"),
            link.spawn(self._pump(up_reader, link.client, link), name=f"{name}-down"),
        }
        await asyncio.wait(pumps)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link
    ) -> None:
        """Copy one direction; a blackhole drops chunks, slow delays them."""
        try:
            while chunk := await reader.read(_CHUNK):
                settings = self._settings
                if settings.mode is FaultMode.SLOW and settings.delay_ms > 0:
                    await asyncio.sleep(settings.delay_ms / 1000)
                if self._settings.mode in SILENT:
                    continue
                writer.write(chunk)
                await writer.drain()
            if self._settings.mode in SILENT:
                if writer is link.client:
                    await _forever()  # the call center closed, but a blackhole tells nobody
                link.kill(rst=False)  # the client left: so does the link
                return
            if writer.can_write_eof() and not writer.transport.is_closing():
                writer.write_eof()  # pass the half-close on; the other direction may go on
        except OSError:
            link.abort()  # one side broke: close both so the other direction ends too


async def _forever() -> None:
    await asyncio.Event().wait()


async def _serve(listen_port: int, upstream_port: int) -> None:
    proxy = FaultProxy("127.0.0.1", upstream_port, port=listen_port)
    await proxy.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    pending: set[asyncio.Task[None]] = set()

    def switch(mode: FaultMode) -> None:
        task = loop.create_task(proxy.set_mode(mode), name=f"faultproxy-{mode}")
        pending.add(task)
        task.add_done_callback(pending.discard)

    loop.add_signal_handler(signal.SIGUSR1, switch, FaultMode.BLACKHOLE)
    loop.add_signal_handler(signal.SIGUSR2, switch, FaultMode.DROP)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await proxy.stop()


def main() -> None:
    """`python -m sims.faultproxy LISTEN_PORT UPSTREAM_PORT`, loopback only."""
    asyncio.run(_serve(int(sys.argv[1]), int(sys.argv[2])))


if __name__ == "__main__":
    main()
