"""Spool files that no process of the current worker layout owns, and their mover.

Each process opens the spool file of its slot: `callbacks.spool` alone, `callbacks.spool.w0`,
`.w1`, ... under `server.workers` (wiring.py). When `workers` changes between runs, the
files of the old layout would never be opened again, and what they hold (callbacks already
answered 202) never delivered. So the process of slot 0 (or the only one) adopts them at
start: `orphans` finds them, `Adopted` moves their entries to Redis with its own spool
mover (the idempotency key dedupes a repeat, as for its own file), counts them as spooled
while they hold any, and deletes each file (and its -wal/-shm) once it is empty.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

from failover.callbacks.queue import CallbackQueue
from failover.callbacks.spool import Spool, SpoolError
from failover.callbacks.stream import CallbackStream, QueueUnavailable
from kernel.clock import Clock

log = logging.getLogger("switchboard.callbacks")

MAX_ADOPTED: Final = 64  # files adopted by one start; more wait for the next one


def owned_names(base: str, slot: int | None, count: int) -> set[str]:
    """The spool file names the current layout opens: `base` alone, else `base.wI`."""
    return {base} if slot is None else {f"{base}.w{i}" for i in range(count)}


def orphans(base: Path, slot: int | None, count: int) -> list[Path]:
    """The spool files beside `base` of another layout, for slot 0 (or the only process)
    to adopt; none for any other slot."""
    if slot not in (None, 0):
        return []
    owned = owned_names(base.name, slot, count)
    prefix = f"{base.name}.w"
    try:
        names = sorted(p.name for p in base.parent.iterdir())
    except OSError as exc:
        log.warning("callbacks: cannot list %s for spool files to adopt: %s", base.parent, exc)
        return []
    found = [
        base.parent / name
        for name in names
        if name not in owned
        and (name == base.name or (name.startswith(prefix) and name[len(prefix) :].isdigit()))
    ]
    return found[:MAX_ADOPTED]


class Adopted:
    """The adopted spool files, each with a `CallbackQueue` of its own that only moves."""

    def __init__(self, paths: list[Path], stream: CallbackStream, *, clock: Clock) -> None:
        self._queues: list[tuple[Spool, CallbackQueue]] = []
        for path in paths:
            try:
                spool = Spool(path)
            except SpoolError as exc:
                log.error("callbacks: cannot adopt spool file %s: %s", path, exc)  # noqa: TRY400
                continue
            queue = CallbackQueue(stream, spool, clock=clock)
            log.warning(
                "callbacks: adopted spool file %s of another worker layout (%d callbacks)",
                path, queue.spooled,
            )  # fmt: skip
            self._queues.append((spool, queue))

    @property
    def spooled(self) -> int:
        return sum(q.spooled for _, q in self._queues)

    @property
    def busy(self) -> bool:
        """Any file left to move or to delete."""
        return bool(self._queues)

    async def move(self) -> int:
        """Move every adopted file's entries to Redis; delete the files left empty. How
        many moved."""
        moved = 0
        for spool, queue in list(self._queues):
            try:
                moved += await queue.move_spooled()
            except (QueueUnavailable, SpoolError) as exc:
                log.info("callbacks: adopted spool %s not moved yet: %s", spool.path, exc)
                continue
            if queue.spooled == 0 and not queue.deletes_pending:
                self._queues.remove((spool, queue))
                _delete(spool)
        return moved

    def close(self) -> None:
        for spool, _ in self._queues:
            spool.close()


def _delete(spool: Spool) -> None:
    spool.close()
    path = spool.path
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        try:
            (path.parent / name).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("callbacks: cannot delete empty adopted spool %s: %s", name, exc)
            return
    log.warning("callbacks: adopted spool file %s is empty, deleted", path)
