"""The local durable spool: where a callback goes when Redis cannot take it.

A callback is acknowledged to the customer only once it is durable. When Redis is
unreachable, `Spool.put` stores it in a local SQLite file; a mover later reads
`oldest`, hands the items to Redis and `remove`s them. If the spool cannot store
either, `SpoolError` says so, so the customer is told the truth and never a false
success.

Durability settings:

- `PRAGMA journal_mode=WAL`: writers append to the write-ahead log, readers are not
  blocked, and a commit is a single append plus sync.
- `PRAGMA synchronous=FULL`, not NORMAL. SQLite's documentation
  (https://www.sqlite.org/pragma.html#pragma_synchronous) says WAL with NORMAL is
  always *consistent* but "does lose durability": a transaction committed with
  NORMAL "might roll back following a power loss or system crash", because the WAL
  is synced only at checkpoints. With FULL "the WAL file is synchronized before each
  transaction commit", so when `put` returns the row has been fsynced and survives
  the host losing power, not only our process crashing. The spool only takes writes
  while Redis is down, so the extra fsync per callback is cheap for what it buys.

Threading: every method blocks on disk I/O. The async caller runs them off the event
loop with `asyncio.to_thread(spool.put, ...)`. The connection is therefore opened
with `check_same_thread=False`, and a `threading.Lock` serialises every use of it, so
any worker thread may call any method.

A failed write (disk full, read-only file system, I/O error) is counted in
`write_failures`, and `failing` stays true until a write succeeds again: the metrics read
them (monitoring/degraded.py). The file itself is left as SQLite left it, whole.

Errors::

    Exception
     └── SpoolError   the spool file could not be opened, read or written
                      (disk full, read-only directory, corrupt file, closed spool)
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS spool (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    key        TEXT UNIQUE NOT NULL,
    payload    TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""
_BUSY_TIMEOUT_S: Final = 5.0


class SpoolError(Exception):
    """The spool could not store or read callbacks; the message names the file."""


@dataclass(frozen=True, slots=True)
class SpooledItem:
    seq: int
    key: str
    payload: str
    created_at: float


class Spool:
    """A durable FIFO of callbacks in one SQLite file (WAL, synchronous=FULL)."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self.write_failures = 0
        self.failing = False
        try:
            # isolation_level=None: we state transactions ourselves; a lone INSERT
            # or DELETE is its own transaction, committed (and fsynced) on return.
            conn = sqlite3.connect(
                self._path,
                timeout=_BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot open callback spool {self._path}: {exc}") from exc
        try:
            mode = str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(_SCHEMA)
        except sqlite3.Error as exc:
            conn.close()
            raise SpoolError(f"cannot open callback spool {self._path}: {exc}") from exc
        if mode != "wal":  # e.g. a filesystem without shared-memory support
            conn.close()
            raise SpoolError(f"callback spool {self._path} refused WAL journal mode (got {mode!r})")
        self._conn = conn

    @property
    def path(self) -> Path:
        return self._path

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise SpoolError(f"callback spool {self._path} is closed")
        return self._conn

    def put(self, key: str, payload: str, created_at: float) -> bool:
        """Store a callback durably; False if `key` was already spooled (stored once)."""
        with self._lock:
            conn = self._connection()
            try:
                cur = conn.execute(
                    "INSERT INTO spool (key, payload, created_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (key) DO NOTHING",
                    (key, payload, created_at),
                )
            except sqlite3.Error as exc:
                self._write_failed()
                raise SpoolError(
                    f"cannot store callback {key!r} in spool {self._path}: {exc}"
                ) from exc
            self.failing = False
            return cur.rowcount == 1

    def _write_failed(self) -> None:
        self.write_failures += 1
        self.failing = True

    def oldest(self, limit: int, after: int = 0) -> list[SpooledItem]:
        """Up to `limit` spooled callbacks with a seq over `after`, oldest first."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        with self._lock:
            conn = self._connection()
            try:
                rows = conn.execute(
                    "SELECT seq, key, payload, created_at FROM spool WHERE seq > ?"
                    " ORDER BY seq LIMIT ?",
                    (after, limit),
                ).fetchall()
            except sqlite3.Error as exc:
                raise SpoolError(f"cannot read callback spool {self._path}: {exc}") from exc
        return [SpooledItem(int(s), str(k), str(p), float(c)) for s, k, p, c in rows]

    def remove(self, keys: Sequence[str]) -> int:
        """Delete the callbacks with these keys in one transaction; how many went."""
        if not keys:
            return 0
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    cur = conn.executemany("DELETE FROM spool WHERE key = ?", [(k,) for k in keys])
                    removed = cur.rowcount
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:  # SQLite may have rolled back already
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self._write_failed()
                raise SpoolError(f"cannot remove callbacks from spool {self._path}: {exc}") from exc
            self.failing = False
            return removed

    def __len__(self) -> int:
        with self._lock:
            conn = self._connection()
            try:
                (count,) = conn.execute("SELECT COUNT(*) FROM spool").fetchone()
            except sqlite3.Error as exc:
                raise SpoolError(f"cannot read callback spool {self._path}: {exc}") from exc
            return int(count)

    def close(self) -> None:
        """Close the file; idempotent. Later calls raise `SpoolError`."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()
