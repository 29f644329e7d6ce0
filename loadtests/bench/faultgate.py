"""A TCP fault gate in front of one call center, run as its own (pinned) process.

The minimal logic of `tests/support/faultproxy.py` (pass, blackhole), copied rather than
imported because that one lives in the event loop of its test and this one must live
outside the load generator's; plus `drop`, which that one has no need for:

- pass (at start): forward both ways;
- blackhole (SIGUSR1): new connections are accepted and read, never answered; existing
  ones stop forwarding in both directions (a host that is up but whose service is gone);
- drop (SIGUSR2): as blackhole for existing connections, and new connections are never
  established: the listening socket is replaced by one with `listen(0)` whose one queue
  slot we fill ourselves, so that Linux drops every further SYN ("accept queue full",
  `tcp_conn_request`) and the client's connect times out, as for a host that lost power
  or a firewall that drops packets. No iptables, nothing outside this process.

    python faultgate.py LISTEN_PORT UPSTREAM_PORT

Loopback only. SIGTERM ends it (and every connection with it).
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys

CHUNK = 64 * 1024
CONNECT_TIMEOUT_S = 2.0
HOST = "127.0.0.1"


class Gate:
    def __init__(self, listen_port: int, upstream_port: int) -> None:
        self.listen_port = listen_port
        self.upstream_port = upstream_port
        self.mode = "pass"
        self.server: asyncio.Server | None = None
        self.trap: list[socket.socket] = []  # the listen(0) socket and its filler

    async def serve(self) -> None:
        self.server = await asyncio.start_server(
            self.on_client, HOST, self.listen_port, reuse_address=True, backlog=1024
        )
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, self.blackhole)
        loop.add_signal_handler(signal.SIGUSR2, self.drop)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        await stop.wait()

    def blackhole(self) -> None:
        self.mode = "blackhole"

    def drop(self) -> None:
        self.mode = "drop"
        if self.server is not None:
            self.server.close()  # the listening socket only; accepted links stay (silent)
            self.server = None
        trap = socket.socket()
        trap.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        trap.bind((HOST, self.listen_port))
        trap.listen(0)  # one slot; never accepted from
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex((HOST, self.listen_port))  # takes the slot; the kernel completes it
        self.trap = [trap, filler]

    async def on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.mode != "pass":
                while await reader.read(CHUNK):
                    pass  # read and discard, never answer
                return
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(HOST, self.upstream_port), CONNECT_TIMEOUT_S
                )
            except (OSError, TimeoutError):
                return  # the call center is gone: the client sees the link close
            try:
                await self._link(reader, writer, up_reader, up_writer)
            finally:
                up_writer.transport.abort()
        except OSError:
            pass
        finally:
            writer.transport.abort()

    async def _link(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        """Both directions until either side closes (HTTP keep-alive never half-closes)."""
        up = asyncio.create_task(self._pump(reader, up_writer), name="faultgate-up")
        down = asyncio.create_task(self._pump(up_reader, writer), name="faultgate-down")
        pumps = {up, down}
        try:
            done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            if up not in done and self.mode != "pass":
                await asyncio.wait({up})  # the call center closed, but a blackhole tells nobody
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.wait(pumps)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(CHUNK):
                if self.mode != "pass":
                    continue  # blackholed: swallowed
                writer.write(chunk)
                await writer.drain()
        except OSError:
            return


def main() -> None:
    listen_port, upstream_port = int(sys.argv[1]), int(sys.argv[2])
    asyncio.run(Gate(listen_port, upstream_port).serve())


if __name__ == "__main__":
    main()
