"""The local callback spool, on real SQLite files: order, idempotency, durability."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from failover.callbacks.spool import Spool, SpooledItem, SpoolError

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool.db")


def test_put_oldest_remove_round_trip_in_order(spool: Spool) -> None:
    assert spool.put("k1", '{"n": 1}', 100.0)
    assert spool.put("k2", '{"n": 2}', 99.0)  # order is arrival, not created_at
    assert spool.put("k3", '{"n": 3}', 101.0)
    assert len(spool) == 3

    items = spool.oldest(2)
    assert [i.key for i in items] == ["k1", "k2"]
    assert items[0] == SpooledItem(items[0].seq, "k1", '{"n": 1}', 100.0)
    assert items[0].seq < items[1].seq

    assert spool.remove(["k1", "k2", "missing"]) == 2
    assert [i.key for i in spool.oldest(10)] == ["k3"]
    assert spool.remove([]) == 0
    assert len(spool) == 1


def test_duplicate_key_is_stored_once(spool: Spool) -> None:
    assert spool.put("same", "first", 1.0) is True
    assert spool.put("same", "second", 2.0) is False
    assert len(spool) == 1
    (item,) = spool.oldest(10)
    assert (item.key, item.payload, item.created_at) == ("same", "first", 1.0)


def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    first = Spool(path)
    first.put("a", "pa", 1.0)
    first.put("b", "pb", 2.0)
    first.close()
    first.close()  # idempotent

    again = Spool(path)
    assert [(i.key, i.payload) for i in again.oldest(10)] == [("a", "pa"), ("b", "pb")]
    assert again.put("a", "dup", 3.0) is False  # uniqueness survives too
    again.close()


def test_data_survives_the_process_being_killed_right_after_put(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    snippet = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from failover.callbacks.spool import Spool

        spool = Spool(Path(sys.argv[1]))
        assert spool.put("crash-key", "payload", 42.0)
        print("stored", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no atexit, no flush
        """
    )
    # S603: fixed argv of our own interpreter and snippet; nothing untrusted.
    proc = subprocess.run(  # noqa: S603
        [sys.executable, "-c", snippet, str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert proc.stdout.strip() == "stored"

    reopened = Spool(path)
    assert [(i.key, i.payload, i.created_at) for i in reopened.oldest(10)] == [
        ("crash-key", "payload", 42.0)
    ]
    reopened.close()


def _open_spool_as(uid: int | None, path: Path, out: Connection) -> None:
    """Try to open a spool (dropping to `uid` first); send back the error, or ''."""
    if uid is not None:
        os.setgid(uid)
        os.setuid(uid)
    try:
        Spool(path).close()
    except SpoolError as exc:
        out.send(str(exc))
    else:
        out.send("")


def test_read_only_directory_raises_spool_error_naming_the_file() -> None:
    # root ignores directory permissions, so as root the attempt runs in a forked
    # child that has dropped to `nobody`; the directory is world r-x, not writable.
    directory = Path(tempfile.mkdtemp(prefix="spool-ro-"))
    try:
        directory.chmod(0o555)
        path = directory / "spool.db"
        uid = NOBODY if os.geteuid() == 0 else None
        ctx = multiprocessing.get_context("fork")
        receiver, sender = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_open_spool_as, args=(uid, path, sender))
        child.start()
        child.join(30)
        assert child.exitcode == 0
        assert receiver.poll(1)
        message = receiver.recv()
        assert str(path) in message
        assert not path.exists()
    finally:
        directory.chmod(0o755)
        shutil.rmtree(directory)


def test_corrupt_file_raises_spool_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    path.write_bytes(b"this is not an sqlite database " * 200)
    with pytest.raises(SpoolError, match=str(path)):
        Spool(path)


def test_closed_spool_raises_spool_error(spool: Spool) -> None:
    spool.close()
    with pytest.raises(SpoolError, match="closed"):
        spool.put("k", "p", 1.0)


def test_journal_mode_really_is_wal_and_commits_are_fsynced(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    spool = Spool(path)
    spool.put("k", "p", 1.0)
    other = sqlite3.connect(path)  # WAL is persistent: a fresh connection sees it
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()
    assert spool._conn is not None
    assert spool._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    spool.close()


def test_concurrent_puts_from_four_threads_lose_nothing(spool: Spool) -> None:
    per_thread = 100
    results: list[list[bool]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def worker(n: int) -> None:
        start.wait()
        for i in range(per_thread):
            results[n].append(spool.put(f"t{n}-{i}", f"p{n}-{i}", float(i)))
            results[n].append(spool.put("shared", f"from-{n}", 0.0))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert len(spool) == 4 * per_thread + 1
    keys = {i.key for i in spool.oldest(10_000)}
    assert keys == {f"t{n}-{i}" for n in range(4) for i in range(per_thread)} | {"shared"}
    assert sum(r.count(True) for r in results) == 4 * per_thread + 1


async def test_async_caller_uses_to_thread(spool: Spool) -> None:
    stored = await asyncio.to_thread(spool.put, "async", "p", 1.0)
    assert stored
    assert [i.key for i in await asyncio.to_thread(spool.oldest, 5)] == ["async"]
