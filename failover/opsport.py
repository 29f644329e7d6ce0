"""The ops listener: /status, /api/v1/status, /metrics and /admin answer only there.

One application serves both listeners (the customer port and `[ops]` host:port), so
every part shares one state; an ops route asked on the customer port answers 404, as if
it did not exist there. A request arrived on the ops listener when its socket's local
port is one `listen_ops` bound, or when it came over a Unix socket (the workers' private
sockets, through which one worker gathers the others' metrics). /healthz and /readyz stay
on both: the load balancer checks the customer port.

Cost: one `get_extra_info("sockname")` and a set lookup, on ops routes only.
"""

from __future__ import annotations

import socket
from typing import Final

from aiohttp import web

from monitoring.http import Handler

# Local ports of this process's ops sockets. Filled once the listener is bound, after
# the app is frozen: a set held from the start, so the app's state is not changed later.
OPS_PORTS: Final = web.AppKey("ops_ports", set[int])


def on_ops_listener(request: web.Request) -> bool:
    transport = request.transport
    if transport is None:
        return False
    local = transport.get_extra_info("sockname")
    if isinstance(local, str | bytes):  # a Unix socket: private to this host's workers
        return True
    if not isinstance(local, tuple) or len(local) < 2:
        return False
    return local[1] in request.app[OPS_PORTS]


def ops_only(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        if not on_ops_listener(request):
            raise web.HTTPNotFound(text="404: Not Found")
        return await handler(request)

    guarded.__name__ = f"ops_{getattr(handler, '__name__', 'handler')}"
    return guarded


async def listen_ops(runner: web.BaseRunner, app: web.Application, host: str, port: int) -> int:
    """Bind the ops listener, start serving `runner`'s app on it; its port."""
    sock = socket.create_server((host, port), backlog=128, reuse_port=False)
    bound: int = sock.getsockname()[1]
    app[OPS_PORTS].add(bound)
    await web.SockSite(runner, sock).start()
    return bound


def adopt_ops_socket(app: web.Application, sock: socket.socket) -> None:
    """A worker's ops socket, bound by its master (server.workers > 1)."""
    app[OPS_PORTS].add(sock.getsockname()[1])
