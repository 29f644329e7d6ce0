"""An aiohttp app on a listening socket we own, closed without leaking a connection that
was accepted just before the close.

asyncio's ``Server.close()`` races with a connection it has just accepted (CPython
gh-109564, open in 3.11 to 3.14): ``sock.accept()`` runs in one loop turn and the new
transport attaches to the server in a later one; a close in between fails that attach
(``assert self._sockets is not None``, swallowed outside debug mode) and leaves the
accepted socket open with no owner, until the garbage collector finds it
(``ResourceWarning: unclosed transport``). A simulator's ``down`` closes its listener while
the front door probes it, so the suite met that window now and then.

``close`` therefore first stops accepting (the loop stops watching the listening socket),
lets the connections already accepted reach aiohttp, and only then lets aiohttp close the
listener and every connection it knows. uvloop accepts and attaches in one step, so there
the first part is not needed.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from aiohttp import web

# An accepted connection attaches to the server one turn after the accept and reaches
# aiohttp (connection_made) one turn after that; one more for margin.
_ACCEPT_TURNS: Final = 3


class _Socket(Protocol):
    def fileno(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Listener:
    """A running app and the listening socket it serves on."""

    runner: web.AppRunner
    sock: socket.socket
    port: int


def _bind(host: str, port: int) -> socket.socket:
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return socket.create_server(address, family=family)  # SO_REUSEADDR: the port is reused


async def listen(
    app: web.Application, host: str, port: int, *, shutdown_timeout: float
) -> Listener:
    """Serve ``app`` on host:port (0 = pick a free one)."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    sock: socket.socket | None = None
    try:
        sock = _bind(host, port)
        await web.SockSite(runner, sock).start()
    except BaseException:
        if sock is not None:
            sock.close()
        await runner.cleanup()
        raise
    return Listener(runner=runner, sock=sock, port=sock.getsockname()[1])


async def stop_accepting(socks: Iterable[_Socket]) -> None:
    """Stop accepting on ``socks`` and let the connections already accepted reach their
    server, so that closing the server next closes them too."""
    loop = asyncio.get_running_loop()
    if not isinstance(loop, asyncio.SelectorEventLoop):
        return
    for sock in socks:
        if sock.fileno() >= 0:
            loop.remove_reader(sock.fileno())
    for _ in range(_ACCEPT_TURNS):
        await asyncio.sleep(0)


async def close(listener: Listener) -> None:
    """Stop accepting, let what was accepted reach aiohttp, then close everything."""
    await stop_accepting([listener.sock])
    await listener.runner.cleanup()
