"""The stale-namespace sweep: what a run killed before its teardown left behind (its
namespaces, its root link) goes at the next start; a live run's is left alone."""

from __future__ import annotations

import os
import subprocess

from deploy.cluster.netns import run_ip, sweep_stale


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])  # noqa: S607 - coreutils, from PATH
    child.wait()
    return child.pid  # reaped: no process has it now (reuse within this test is unlikely)


def test_a_dead_runs_namespaces_and_link_are_swept_and_a_live_runs_are_not() -> None:
    dead, live = _dead_pid(), os.getpid()
    stale = [f"sb{dead}h1", f"sb{dead}br"]
    mine = f"sb{live}zz"
    try:
        for ns in [*stale, mine]:
            run_ip("netns", "add", ns)
        # a root link whose other end is in the root namespace too: the sweep must delete it
        run_ip("link", "add", f"sb{dead}r", "type", "veth", "peer", "name", f"sb{dead}x")
        removed = sweep_stale()
        names = {line.split()[0] for line in run_ip("netns", "list").splitlines() if line}
        assert set(stale) <= set(removed)
        assert f"sb{dead}r" in removed
        assert not set(stale) & names
        assert mine in names
        assert run_ip("link", "show", f"sb{dead}r", check=False) == ""
        assert run_ip("link", "show", f"sb{dead}x", check=False) == ""  # a veth goes in pairs
    finally:
        for ns in [*stale, mine]:
            run_ip("netns", "delete", ns, check=False)
        run_ip("link", "delete", f"sb{dead}r", check=False)  # and its peer with it
